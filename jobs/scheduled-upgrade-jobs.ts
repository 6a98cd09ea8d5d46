// The scheduled-upgrades queue: a scheduled upgrade's reminder and its start, each a delayed job whose id comes from
// the upgrade. A start that runs early (a job added again with a stale delay) waits for its time instead.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../src/logger.js';
import { scheduledUpgradeJob } from '../src/queue.js';
import type { ScheduledUpgrades } from '../src/upgrades/scheduled-upgrades.js';

export interface ScheduledUpgradeJobDeps {
  scheduled: Pick<ScheduledUpgrades, 'remind' | 'fire'>;
  logger: Logger;
}

export function scheduledUpgradeJobsProcessor(deps: ScheduledUpgradeJobDeps) {
  return async (job: Job, token?: string): Promise<unknown> => {
    const parsed = scheduledUpgradeJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('scheduled upgrade job without an upgrade id');
    const { upgradeId } = parsed.data;
    switch (job.name) {
      case 'reminder':
        return deps.scheduled.remind(upgradeId);
      case 'start': {
        const outcome = await deps.scheduled.fire(upgradeId);
        if ('notBefore' in outcome) {
          deps.logger.info({ upgradeId, notBefore: outcome.notBefore }, 'scheduled start ran early; delayed until its time');
          await job.moveToDelayed(outcome.notBefore.getTime(), token);
          throw new DelayedError();
        }
        return outcome;
      }
      default:
        throw new UnrecoverableError(`unknown scheduled upgrade job ${job.name}`);
    }
  };
}
