// The `checkstack-chatops` command: start (default), check-config, summarize, postflight, backup, drill, doctor.
import { describeConfig, ConfigError, formatProblem, loadConfig, secretValues, type ConfigSources } from './config.js';

const USAGE = `Usage:
  checkstack-chatops start                      run the bot (HTTP mode, or Socket Mode with SLACK_APP_TOKEN)
  checkstack-chatops check-config               validate the environment and the config file
  checkstack-chatops summarize FILE|- [--json]  summarise a GitHub "list releases" JSON array
  checkstack-chatops postflight [--target NAME] [--json]
                                                run the post-flight checks once (exit 1 when one fails)
  checkstack-chatops backup --target NAME [--json]
                                                back up the target's Checkstack database now (exit 1 when it fails)
  checkstack-chatops drill --target NAME [--json]
                                                restore drill of the newest backup now (exit 1 when it fails)
  checkstack-chatops doctor [--json]            check Slack, GitHub, Docker/Kubernetes, Checkstack, Postgres and Redis
                                                without changing anything (exit 1 on any problem)`;

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
      const [{ runPostflightCommand }, context] = await Promise.all([import('./postflight-command.js'), cliContext(sources, io)]);
      if (typeof context === 'number') return context;
      return runPostflightCommand(rest, io, {
        config: context.config,
        targets: context.targets,
        logger: context.logger,
        now: () => new Date(),
        sleep: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
    }
    case 'backup': {
      const [{ runBackupCommand }, { createBackupService }, context] = await Promise.all([import('./backup-command.js'), import('./backup/backup-service.js'), cliContext(sources, io)]);
      if (typeof context === 'number') return context;
      return runBackupCommand(rest, io, createBackupService({ targets: context.targets, logger: context.logger, now: () => new Date() }));
    }
    case 'drill': {
      const [{ runDrillCommand }, { createDrillService }, { createPool }, { createDrillStore }, context] = await Promise.all([
        import('./drill-command.js'),
        import('./backup/drill-service.js'),
        import('./db/pool.js'),
        import('./db/drill-store.js'),
        cliContext(sources, io),
      ]);
      if (typeof context === 'number') return context;
      // The bot's own database, where the drill is recorded for `/checkstack status` (connected only when it is).
      const pool = createPool(context.config.databaseUrl, context.logger);
      try {
        const store = createDrillStore(pool);
        const now = () => new Date();
        return await runDrillCommand(rest, io, { drills: createDrillService({ targets: context.targets, logger: context.logger, now }), record: (drill) => store.record(drill), now });
      } finally {
        await pool.end();
      }
    }
    case 'doctor': {
      const [{ runDoctorCommand }, { createDoctorDeps }] = await Promise.all([import('./doctor-command.js'), import('./doctor/doctor-deps.js')]);
      const config = loadCliConfig(sources, io);
      if (typeof config === 'number') return config;
      const deps = createDoctorDeps(config);
      try {
        return await runDoctorCommand(rest, io, deps);
      } finally {
        await deps.close();
      }
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

/** The config, or exit code 2 after printing what is wrong with it. */
function loadCliConfig(sources: ConfigSources, io: CliIo): ReturnType<typeof loadConfig> | 2 {
  try {
    return loadConfig(sources);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err.write(`${err.message}\n`);
    return 2;
  }
}

/**
 * What every per-target command needs: the config (exit code 2 when it is wrong), the secrets registered, a logger
 * on stderr (so that `--json` on stdout stays parseable) and the targets.
 */
async function cliContext(sources: ConfigSources, io: CliIo) {
  const [{ createTargets }, { createLogger, SecretRegistry }] = await Promise.all([import('./deps.js'), import('./logger.js')]);
  const config = loadCliConfig(sources, io);
  if (typeof config === 'number') return config;
  const secrets = new SecretRegistry();
  secrets.register(...secretValues(config));
  const logger = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level, format: 'json', secrets, destination: process.stderr });
  return { config, secrets, logger, targets: createTargets(config, logger, secrets) };
}
