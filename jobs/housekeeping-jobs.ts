// The housekeeping queue: the request sweep on its job scheduler (one across all replicas), and the retention of
// kept containers as delayed jobs.
import { UnrecoverableError, type Job } from 'bullmq';
import { retentionJob, type Queues } from '../src/queue.js';
import type { Housekeeping } from '../src/upgrades/housekeeping.js';

export const HOUSEKEEPING_SWEEP_SCHEDULER_ID = 'housekeeping-sweep';
/** Where the sweep ran before it had a queue of its own: removed from the releases queue at startup. */
export const LEGACY_RELEASES_SWEEP_SCHEDULER_ID = 'upgrade-sweep';
const SWEEP_INTERVAL_MS = 60_000;

export function housekeepingJobsProcessor(housekeeping: Pick<Housekeeping, 'sweep' | 'retention'>) {
  return async (job: Job): Promise<unknown> => {
    switch (job.name) {
      case 'sweep':
        return housekeeping.sweep();
      case 'retention':
        return housekeeping.retention(retentionJob.parse(job.data).upgradeId);
      default:
        throw new UnrecoverableError(`unknown job ${job.name} on the housekeeping queue`);
    }
  };
}

/**
 * The sweep's job scheduler, every minute; and the one an older bot left on the releases queue goes (with its next
 * delayed job), so that the sweep never runs twice.
 */
export async function scheduleHousekeeping(queues: Pick<Queues, 'housekeeping' | 'releases'>): Promise<void> {
  await queues.releases.raw.removeJobScheduler(LEGACY_RELEASES_SWEEP_SCHEDULER_ID);
  await queues.housekeeping.raw.upsertJobScheduler(HOUSEKEEPING_SWEEP_SCHEDULER_ID, { every: SWEEP_INTERVAL_MS }, { name: 'sweep', data: {}, opts: { attempts: 1 } });
}
