// The upgrades queue: approved upgrades and rollbacks (one at a time per target, several targets in parallel).
// Only here do the runner's outcomes meet BullMQ.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { withAdvisoryLock } from '../src/db/checked-out-client.js';
import type { Pool } from '../src/db/pool.js';
import type { UpgradeStore } from '../src/db/upgrade-store.js';
import type { Logger } from '../src/logger.js';
import { retentionJob, upgradeJob } from '../src/queue.js';
import type { ThreadReporter } from '../src/slack/thread-reporter.js';
import type { TargetRegistry } from '../src/targets/registry.js';
import type { UpgradeRunner } from '../src/upgrades/upgrade-runner.js';

export interface UpgradeJobDeps {
  runner: UpgradeRunner;
  upgrades: UpgradeStore;
  targets: TargetRegistry;
  reporter: ThreadReporter;
  pool: Pool;
  logger: Logger;
  shutdownSignal: AbortSignal;
  /** How long a job for a busy target waits before it tries the lock again. */
  lockRetryMs?: number;
  /** After an upgrade or rollback ended (automatic upgrades pause on a failure and decide again). */
  onEnded?(upgradeId: string): Promise<void>;
  /** A retention job an older bot queued here (retention runs on the housekeeping queue now). */
  retention(upgradeId: string): Promise<unknown>;
}

/**
 * Holds a session advisory lock per target for the job's whole run: the second job for a target waits. Postgres going
 * away while a job runs releases the lock with its connection; the job goes on (the one-active-request-per-target index
 * and BullMQ's job lock still keep a second run of this target out) and its next query reconnects.
 */
async function withTargetLock<T>(pool: Pool, target: string, logger: Logger, work: () => Promise<T>): Promise<{ locked: false } | { locked: true; value: T }> {
  return withAdvisoryLock(
    pool,
    { space: 'upgrade-target', id: target },
    { wait: false, onLost: (err) => logger.warn({ target, err: { message: err.message } }, 'target lock connection lost') },
    work,
  );
}

export function upgradeJobsProcessor(deps: UpgradeJobDeps) {
  const { runner, upgrades, logger } = deps;
  const lockRetryMs = deps.lockRetryMs ?? 5_000;

  async function runUpgradeJob(job: Job, token: string | undefined): Promise<unknown> {
    const data = upgradeJob.parse(job.data);
    const upgrade = await upgrades.byId(data.upgradeId);
    if (!upgrade) throw new UnrecoverableError(`upgrade ${data.upgradeId} does not exist`);
    const attempts = job.opts.attempts ?? 1;
    const isLastAttempt = job.attemptsMade + 1 >= attempts;
    let result;
    try {
      result = await withTargetLock(deps.pool, upgrade.target, logger, () =>
        runner.run(upgrade.id, data.doneStep, {
          signal: deps.shutdownSignal,
          isLastAttempt,
          // A retry after an error is not a restart: the thread must not say the worker restarted.
          ...(job.attemptsMade > 0 ? { resumeReason: `attempt ${job.attemptsMade + 1} of ${attempts}, after the error above` } : {}),
          onStepDone: async (step) => {
            data.doneStep = step;
            await job.updateData({ ...data });
          },
        }),
      );
    } finally {
      await deps.reporter.flush();
    }
    if (!result.locked || result.value === 'interrupted') {
      // Not a failure: another job holds the target, or the bot is shutting down mid-upgrade. Try again later
      // without spending an attempt; a restarted worker resumes after the last finished step.
      await job.moveToDelayed(Date.now() + (result.locked ? 1_000 : lockRetryMs), token);
      throw new DelayedError();
    }
    if (result.value === 'ended' && deps.onEnded) {
      await deps.onEnded(upgrade.id).catch((err: unknown) => logger.error({ err, upgradeId: upgrade.id }, 'after-upgrade hook failed'));
    }
    return { outcome: result.value };
  }

  return async (job: Job, token?: string): Promise<unknown> => {
    switch (job.name) {
      case 'upgrade':
      case 'rollback':
        return runUpgradeJob(job, token);
      case 'retention':
        return deps.retention(retentionJob.parse(job.data).upgradeId);
      default:
        throw new UnrecoverableError(`unknown job ${job.name} on the upgrades queue`);
    }
  };
}

/**
 * The worker's `failed` listener: a job BullMQ gives up on for good (attempts spent, or stalled more often than
 * allowed because its bot kept dying) must not leave its upgrade "running" and the target blocked.
 */
export function abandonGivenUpUpgrades(runner: Pick<UpgradeRunner, 'abandon'>, logger: Logger) {
  return (job: Job | undefined, err: Error): void => {
    if (!job || (job.name !== 'upgrade' && job.name !== 'rollback')) return;
    const stalled = /stalled more than allowable limit/.test(err.message);
    if (!stalled && job.attemptsMade < (job.opts.attempts ?? 1)) return;
    const summary = stalled ? 'the job stalled too often (its bot stopped mid-step repeatedly)' : `the job gave up after ${job.attemptsMade} attempts`;
    runner.abandon(String(job.data?.upgradeId ?? job.id), summary, err).catch((abandonErr: unknown) => logger.error({ err: abandonErr, jobId: job.id }, 'could not mark the abandoned upgrade failed'));
  };
}
