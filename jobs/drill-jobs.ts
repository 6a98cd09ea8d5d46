// The drills queue: `/checkstack drill` and the `drill.every` scheduler run here, off the request path. Each drill
// is recorded (the drills table, for `/checkstack status`) and its result posted: in the channel it was asked in, or
// for a scheduled drill in the target's channel. A failed drill is reported, not retried.
import { UnrecoverableError, type Job } from 'bullmq';
import type { DrillService } from '../src/backup/drill-service.js';
import type { DrillStore } from '../src/db/drill-store.js';
import { isAppError, newReferenceId } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import { drillJob, type Queues } from '../src/queue.js';
import type { BackupPoster } from '../src/slack/backup-poster.js';
import { unexpectedJobReason } from '../src/slack/backup-words.js';
import { DRILL_INTERRUPTED_REASON } from '../src/slack/drill-words.js';

export interface DrillJobDeps {
  drills: Pick<DrillService, 'drill'>;
  store: Pick<DrillStore, 'record'>;
  poster: Pick<BackupPoster, 'drillResult' | 'drillFailed'>;
  logger: Logger;
  now(): Date;
  /** A shutdown stops a drill's restore (its database is still dropped); the drill is reported as interrupted. */
  shutdownSignal?: AbortSignal;
  /** Where a scheduled drill's result goes: the target's `channel`, else the first announce channel (null: nowhere). */
  channelFor(target: string): Promise<string | null>;
}

/** The BullMQ job scheduler id of a target's `drill.every`. */
export function drillSchedulerId(target: string): string {
  return `drill:${target}`;
}

export function drillJobsProcessor(deps: DrillJobDeps) {
  const { logger } = deps;

  async function post(channel: string | null, target: string, posting: (channel: string) => Promise<void>): Promise<void> {
    if (!channel) {
      logger.warn({ target }, 'no channel for the drill result: set the target\'s channel or an announce channel');
      return;
    }
    await posting(channel).catch((err: unknown) => logger.error({ err, channel }, 'could not post the drill result'));
  }

  async function runDrill(job: Job): Promise<unknown> {
    const data = drillJob.parse(job.data);
    const channel = data.channelId ?? (await deps.channelFor(data.target));
    const requestedBy = data.requestedBy ?? null;
    const startedAt = deps.now();
    try {
      const result = await deps.drills.drill(data.target, deps.shutdownSignal);
      await deps.store
        .record({ target: data.target, dumpFile: result.backup, passed: result.passed, tables: result.tables, mismatches: result.mismatches, error: result.reason, startedAt, finishedAt: deps.now() })
        .catch((err: unknown) => logger.error({ err, target: data.target }, 'could not record the drill'));
      await post(channel, data.target, (to) => deps.poster.drillResult(to, { result, requestedBy }));
      return { outcome: result.passed ? 'passed' : 'failed', tables: result.tables, mismatches: result.mismatchCount };
    } catch (err) {
      let reason: string;
      if (deps.shutdownSignal?.aborted && !isAppError(err)) {
        reason = DRILL_INTERRUPTED_REASON;
        logger.warn({ target: data.target }, 'drill interrupted by shutdown');
      } else if (isAppError(err)) {
        reason = err.message;
        logger.warn({ target: data.target, code: err.code, kind: err.details.kind }, 'drill failed');
      } else {
        const referenceId = newReferenceId();
        logger.error({ err, target: data.target, referenceId }, 'drill hit an unexpected error');
        reason = unexpectedJobReason(referenceId);
      }
      await deps.store
        .record({ target: data.target, dumpFile: null, passed: false, tables: 0, mismatches: [], error: reason, startedAt, finishedAt: deps.now() })
        .catch((recordErr: unknown) => logger.error({ err: recordErr, target: data.target }, 'could not record the drill'));
      await post(channel, data.target, (to) => deps.poster.drillFailed(to, { target: data.target, requestedBy, reason }));
      return { outcome: 'failed' };
    }
  }

  return async (job: Job): Promise<unknown> => {
    if (job.name === 'drill') return runDrill(job);
    throw new UnrecoverableError(`unknown job ${job.name} on the drills queue`);
  };
}

/**
 * One BullMQ job scheduler per target with `drill.every` (id `drill:<target>`); schedulers of targets that no longer
 * have one are removed. A new schedule's first drill is due `every` after the last drill (now, when that is past; one
 * `every` from now when the target was never drilled: status flags that meanwhile). Upserting an unchanged schedule
 * keeps its next run, so a restart does not drill again.
 */
export async function scheduleDrills(
  queues: Pick<Queues, 'drills'>,
  targets: ReadonlyArray<{ name: string; every: number | null }>,
  lastDrillAt: (target: string) => Promise<Date | null>,
  now: Date,
): Promise<void> {
  const wanted = new Map(targets.flatMap((t) => (t.every === null ? [] : [[drillSchedulerId(t.name), { name: t.name, every: t.every }] as const])));
  for (const [id, target] of wanted) {
    const last = await lastDrillAt(target.name);
    const startDate = Math.max(now.getTime(), (last ?? now).getTime() + target.every);
    await queues.drills.raw.upsertJobScheduler(id, { every: target.every, startDate }, { name: 'drill', data: { target: target.name }, opts: { attempts: 1 } });
  }
  for (const scheduler of await queues.drills.raw.getJobSchedulers()) {
    const id = scheduler.id ?? scheduler.key;
    if (id.startsWith('drill:') && !wanted.has(id)) await queues.drills.raw.removeJobScheduler(id);
  }
}
