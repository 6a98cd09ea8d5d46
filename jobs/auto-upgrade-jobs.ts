// The auto-upgrades queue: a decision asked again for one target (or all) after an event or at its `recheckAt`, and
// a scheduled upgrade's wake-ups (its notice, its start). Each job only asks the decision again: what it does then is
// what the facts say at that moment, so a job that runs twice, late, or after a restart does nothing wrong.
import { UnrecoverableError, type Job } from 'bullmq';
import { autoDecideJob, autoPhaseJob } from '../src/queue.js';
import type { AutoUpgrades } from '../src/upgrades/auto-upgrades.js';

export function autoUpgradeJobsProcessor(deps: { autoUpgrades: Pick<AutoUpgrades, 'decideAll' | 'decideTarget'> }) {
  return async (job: Job): Promise<unknown> => {
    switch (job.name) {
      case 'decide': {
        const data = autoDecideJob.parse(job.data);
        return data.target === null ? deps.autoUpgrades.decideAll(data.reason) : { action: await deps.autoUpgrades.decideTarget(data.target, data.reason) };
      }
      case 'phase': {
        const data = autoPhaseJob.parse(job.data);
        return { action: await deps.autoUpgrades.decideTarget(data.target, `phase of ${data.key}`) };
      }
      default:
        throw new UnrecoverableError(`unknown job ${job.name} on the auto-upgrades queue`);
    }
  };
}
