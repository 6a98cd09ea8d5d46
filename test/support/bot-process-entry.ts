// The bot in a child process for the crash and fault tests (run with `node --import tsx`): config from the
// environment and CONFIG_FILE, JSON logs on stdout written synchronously (a SIGKILL loses no line), then `READY <port>`.
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { startBot } from '../../src/main.js';

const config = loadConfig();
const secrets = new SecretRegistry();
const logger = createLogger({ level: config.log.level, format: 'json', secrets, destination: pino.destination({ dest: 1, sync: true }) });
const bot = await startBot(config, { host: '127.0.0.1', overrides: { logger, secrets } });
process.stdout.write(`READY ${bot.port}\n`);

// A graceful stop, as in runMain: steps reach a checkpoint, then the process exits.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    bot.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
