// The backups queue: `/checkstack backup` runs here, off the request path; the result goes to the channel it was
// asked in. A failed backup is reported, not retried: the person who asked decides whether to try again.
import { UnrecoverableError, type Job } from 'bullmq';
import type { BackupService } from '../src/backup/backup-service.js';
import { isAppError, newReferenceId } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import { backupJob } from '../src/queue.js';
import type { BackupPoster } from '../src/slack/backup-poster.js';
import { unexpectedJobReason } from '../src/slack/backup-words.js';

export interface BackupJobDeps {
  backups: Pick<BackupService, 'backup'>;
  poster: Pick<BackupPoster, 'backupTaken' | 'backupFailed'>;
  logger: Logger;
  shutdownSignal: AbortSignal;
  /** After a backup: the active checklist of the target shows the new one. */
  onBackupTaken(target: string): Promise<void>;
}

export function backupJobsProcessor(deps: BackupJobDeps) {
  const { logger } = deps;

  async function post(channel: string, posting: (channel: string) => Promise<void>): Promise<void> {
    await posting(channel).catch((err: unknown) => logger.error({ err, channel }, 'could not post the backup result'));
  }

  async function runBackup(job: Job): Promise<unknown> {
    const data = backupJob.parse(job.data);
    let outcome;
    try {
      outcome = await deps.backups.backup(data.target, { signal: deps.shutdownSignal });
    } catch (err) {
      // Shutting down mid-dump: BullMQ runs the job again on the next start (nothing half-written counts).
      if (deps.shutdownSignal.aborted && !isAppError(err)) throw err;
      let reason: string;
      if (isAppError(err)) {
        reason = err.message;
        logger.warn({ target: data.target, code: err.code, kind: err.details.kind }, 'backup failed');
      } else {
        const referenceId = newReferenceId();
        logger.error({ err, target: data.target, referenceId }, 'backup hit an unexpected error');
        reason = unexpectedJobReason(referenceId);
      }
      await post(data.channelId, (channel) => deps.poster.backupFailed(channel, { target: data.target, requestedBy: data.requestedBy, reason }));
      return { outcome: 'failed' };
    }
    await post(data.channelId, (channel) => deps.poster.backupTaken(channel, { record: outcome.record, requestedBy: data.requestedBy, durationMs: outcome.durationMs, removed: outcome.removed.length }));
    await deps.onBackupTaken(data.target).catch((err: unknown) => logger.warn({ err, target: data.target }, 'could not refresh the checklist after a backup'));
    return { outcome: 'taken', file: outcome.record.file, bytes: outcome.record.bytes };
  }

  return async (job: Job): Promise<unknown> => {
    if (job.name === 'backup') return runBackup(job);
    throw new UnrecoverableError(`unknown job ${job.name} on the backups queue`);
  };
}
