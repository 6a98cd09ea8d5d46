// A process that takes one backup and nothing else, so that a test can SIGKILL it in the middle of the dump.
// Input from the environment: BACKUP_INPUT (JSON: target, version, databaseUrl, dir, keep, pgDump).
import { takeBackup } from '../../src/backup/take-backup.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';

const input = JSON.parse(process.env.BACKUP_INPUT ?? '{}') as { target: string; version: string; databaseUrl: string; dir: string; keep: number; pgDump: string };
const logger = createLogger({ level: 'info', format: 'json', secrets: new SecretRegistry(), destination: process.stderr as never });
takeBackup(input, { logger, now: () => new Date(), pgDump: input.pgDump }).then(
  () => process.exit(0),
  () => process.exit(1),
);
