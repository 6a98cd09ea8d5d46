// The `checkstack-chatops` command: start (default), check-config, summarize, postflight, backup.
import { describeConfig, ConfigError, formatProblem, loadConfig, secretValues, type ConfigSources } from './config.js';

const USAGE = `Usage:
  checkstack-chatops start                      run the bot (HTTP mode, or Socket Mode with SLACK_APP_TOKEN)
  checkstack-chatops check-config               validate the environment and the config file
  checkstack-chatops summarize FILE|- [--json]  summarise a GitHub "list releases" JSON array
  checkstack-chatops postflight [--target NAME] [--json]
                                                run the post-flight checks once (exit 1 when one fails)
  checkstack-chatops backup --target NAME [--json]
                                                back up the target's Checkstack database now (exit 1 when it fails)`;

export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export async function runCli(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, sources: ConfigSources = {}): Promise<number> {
  const [command = 'start', ...rest] = argv;
  switch (command) {
    case 'start': {
      const { runMain } = await import('./main.js');
      try {
        await runMain();
        return -1; // keep running
      } catch (err) {
        if (err instanceof ConfigError) {
          io.err.write(`${err.message}\n`);
          return 1;
        }
        throw err;
      }
    }
    case 'check-config': {
      try {
        const config = loadConfig(sources);
        io.out.write(`Configuration OK\n${describeConfig(config)}\n`);
        return 0;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        io.err.write(`Configuration has ${err.problems.length} problem(s):\n${err.problems.map(formatProblem).join('\n')}\n`);
        return 1;
      }
    }
    case 'summarize': {
      const { runSummarize } = await import('./summarize-command.js');
      return runSummarize(rest, io);
    }
    case 'postflight': {
      const [{ runPostflightCommand }, { createTargets }] = await Promise.all([import('./postflight-command.js'), import('./deps.js')]);
      const loaded = await loadForOneShot(sources, io);
      if (typeof loaded === 'number') return loaded;
      const { config, secrets, logger } = loaded;
      return runPostflightCommand(rest, io, {
        config,
        targets: createTargets(config, logger, secrets),
        logger,
        now: () => new Date(),
        sleep: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
    }
    case 'backup': {
      const [{ runBackupCommand }, { createBackupService }, { createTargets }] = await Promise.all([
        import('./backup-command.js'),
        import('./backup/backup-service.js'),
        import('./deps.js'),
      ]);
      const loaded = await loadForOneShot(sources, io);
      if (typeof loaded === 'number') return loaded;
      const { config, secrets, logger } = loaded;
      const backups = createBackupService({ targets: createTargets(config, logger, secrets), logger, now: () => new Date() });
      return runBackupCommand(rest, io, backups);
    }
    case 'help':
    case '--help':
    case '-h':
      io.out.write(`${USAGE}\n`);
      return 0;
    default:
      io.err.write(`Unknown command "${command}".\n${USAGE}\n`);
      return 2;
  }
}

/** The config, its secrets and a logger for a one-shot command; exit code 2 (after saying why) when the config is wrong. */
async function loadForOneShot(sources: ConfigSources, io: CliIo) {
  const { createLogger, SecretRegistry } = await import('./logger.js');
  let config;
  try {
    config = loadConfig(sources);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err.write(`${err.message}\n`);
    return 2;
  }
  const secrets = new SecretRegistry();
  secrets.register(...secretValues(config));
  // Logs go to stderr so that `--json` output on stdout stays parseable.
  const logger = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level, format: 'json', secrets, destination: process.stderr });
  return { config, secrets, logger };
}
