// The releases queue: the scheduled poll, webhook deliveries and announcements. One scheduler across all replicas
// means one poll per interval however many bots run.
import { UnrecoverableError, type Job } from 'bullmq';
import type { BotState, StagedEtagStore } from '../src/db/release-store.js';
import { isAppError } from '../src/errors.js';
import type { ReleaseSource } from '../src/github/release-source.js';
import type { Logger } from '../src/logger.js';
import { announceReleaseJob, releasePollJob, releaseWebhookJob, type Queues } from '../src/queue.js';
import type { Announcer } from '../src/releases/announcer.js';
import type { ReleaseIngest } from '../src/releases/ingest.js';

export const POLL_SCHEDULER_ID = 'release-poll';
const BACKOFF_KEY = 'github_backoff_until';

export interface ReleaseJobDeps {
  source: ReleaseSource;
  etags: StagedEtagStore;
  ingest: ReleaseIngest;
  announcer: Announcer;
  state: BotState;
  queues: Pick<Queues, 'releases'>;
  logger: Logger;
  now(): Date;
  countPoll?(outcome: 'not_modified' | 'changed' | 'backoff' | 'skipped' | 'error'): void;
  /** After each poll and webhook delivery: automatic patch upgrades decide for every target (never fails the poll). */
  afterReleases?(event: string): Promise<unknown>;
}

export function releaseJobsProcessor(deps: ReleaseJobDeps) {
  const { source, etags, ingest, announcer, state, queues, logger } = deps;

  async function afterReleases<T>(event: string, result: T): Promise<T> {
    await deps.afterReleases?.(event).catch((err: unknown) => logger.error({ err, event }, 'automatic upgrade decisions failed'));
    return result;
  }

  async function poll(): Promise<unknown> {
    const backoffUntil = await state.get(BACKOFF_KEY);
    if (backoffUntil && Date.parse(backoffUntil) > deps.now().getTime()) {
      deps.countPoll?.('skipped');
      return { skipped: `GitHub back-off until ${backoffUntil}` };
    }
    try {
      const listed = await source.listReleases();
      if (listed.kind === 'not_modified') {
        deps.countPoll?.('not_modified');
        return afterReleases('poll', { notModified: true });
      }
      const result = await ingest.ingest(listed.releases, { complete: true });
      await etags.commit();
      deps.countPoll?.('changed');
      return afterReleases('poll', result);
    } catch (err) {
      etags.discard();
      if (!isAppError(err) || (err.code !== 'github_rate_limited' && err.code !== 'github_unavailable')) {
        deps.countPoll?.('error');
        throw err;
      }
      deps.countPoll?.('backoff');
      // GitHub said when to come back: no request before then, and one poll exactly then.
      const retryAfterMs = Number(err.details.retryAfterMs ?? 60_000);
      const until = new Date(deps.now().getTime() + retryAfterMs);
      await state.set(BACKOFF_KEY, until.toISOString());
      await queues.releases.add('poll', { reason: 'manual' }, { jobId: `poll-after-backoff-${until.getTime()}`, delay: retryAfterMs + 1_000 });
      logger.warn({ code: err.code, retryAfterMs }, 'GitHub unavailable; polling again later');
      return { backoffUntil: until.toISOString() };
    }
  }

  return async (job: Job): Promise<unknown> => {
    switch (job.name) {
      case 'poll':
        releasePollJob.parse(job.data);
        return poll();
      case 'webhook': {
        const data = releaseWebhookJob.parse(job.data);
        if (data.action === 'deleted') return afterReleases('webhook', { deleted: await ingest.ingestDeletion(data.release.tag_name) });
        return afterReleases('webhook', await ingest.ingest([data.release], { complete: false }));
      }
      case 'sweep':
        // Queued by the scheduler this queue had before the housekeeping queue (removed at startup): that queue sweeps.
        return { skipped: 'the sweep runs on the housekeeping queue' };
      case 'announce':
        return announcer.announce(announceReleaseJob.parse(job.data).tag);
      default:
        throw new UnrecoverableError(`unknown job ${job.name} on the releases queue`);
    }
  };
}

export async function scheduleReleasePolls(queues: Pick<Queues, 'releases'>, intervalSeconds: number): Promise<void> {
  await queues.releases.raw.upsertJobScheduler(
    POLL_SCHEDULER_ID,
    { every: intervalSeconds * 1000 },
    { name: 'poll', data: { reason: 'schedule' }, opts: { attempts: 3, backoff: { type: 'exponential', delay: 10_000 } } },
  );
}
