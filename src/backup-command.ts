// `checkstack-chatops backup [--target NAME] [--json]`: takes a backup of a target's Checkstack database now.
// Exit codes: 0 taken, 1 the backup failed, 2 bad usage, an unknown target or a target without `backup`.
import { parseTargetArgs } from './cli-target-args.js';
import type { BackupService } from './backup/backup-service.js';
import { isAppError } from './errors.js';
import { formatSize as formatBytes } from './slack/backup-words.js';

export const BACKUP_USAGE = 'Usage: checkstack-chatops backup --target NAME [--json]';

export interface BackupCommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export async function runBackupCommand(args: string[], io: BackupCommandIo, backups: Pick<BackupService, 'backup'>): Promise<number> {
  const parsed = parseTargetArgs(args);
  if ('problem' in parsed) {
    io.err.write(`${parsed.problem}\n${BACKUP_USAGE}\n`);
    return 2;
  }
  try {
    const outcome = await backups.backup(parsed.target);
    const { record } = outcome;
    if (parsed.json) {
      io.out.write(`${JSON.stringify(record, null, 2)}\n`);
    } else {
      const rows = Object.values(record.tables).reduce((a, b) => a + b, 0);
      io.out.write(
        `Backup of ${record.target} (${record.version}) taken in ${(outcome.durationMs / 1000).toFixed(1)} s: ${record.file}\n` +
          `  ${formatBytes(record.bytes)}, sha256 ${record.sha256}, ${Object.keys(record.tables).length} tables, ${rows} rows, server ${record.serverVersion}\n` +
          (outcome.removed.length > 0 ? `  retention removed ${outcome.removed.length} older backup(s): ${outcome.removed.join(', ')}\n` : ''),
      );
    }
    return 0;
  } catch (err) {
    if (!isAppError(err)) throw err;
    io.err.write(`${err.message}\n`);
    return err.code === 'backup_failed' ? 1 : 2;
  }
}
