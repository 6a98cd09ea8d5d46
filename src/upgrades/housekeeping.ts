// Housekeeping of upgrade requests, run on the `housekeeping` queue: the sweep (every minute) expires stale requests,
// invalidates those whose target changed version underneath them, re-queues a queued upgrade whose job is missing
// (e.g. Redis lost it), settles rollbacks a stopped bot left, and re-adds the jobs of scheduled upgrades; the
// retention removes the container kept for a fast rollback once `postflight.retention` has passed.
import type { UpgradeRecord, UpgradeStore } from '../db/upgrade-store.js';
import { hasVersionChanged } from '../domain/upgrade-plan.js';
import type { Logger } from '../logger.js';
import { UPGRADE_JOB_ATTEMPTS, type Queues } from '../queue.js';
import { invalidatedDetail } from '../slack/checklist-words.js';
import { retentionEndedText } from '../slack/log-watch-words.js';
import type { ThreadReporter } from '../slack/thread-reporter.js';
import type { TargetRegistry } from '../targets/registry.js';
import { inspectTarget } from './upgrade-requests.js';

export interface HousekeepingDeps {
  upgrades: Pick<UpgradeStore, 'inStatus' | 'apply' | 'byId'>;
  targets: TargetRegistry;
  queues: Pick<Queues, 'upgrades' | 'housekeeping'>;
  reporter: Pick<ThreadReporter, 'post' | 'flush'>;
  logger: Logger;
  /** The request service's expiry of a confirming request past its deadline (true when it expired). */
  expireIfDue(upgrade: Pick<UpgradeRecord, 'id' | 'status' | 'expiresAt'>): Promise<boolean>;
  refreshMessage(upgradeId: string): Promise<void>;
  /** Upgrades a stopped bot left rolling back after their rollback ended. */
  settleStrandedRollbacks(): Promise<string[]>;
  /** Re-adds the reminder and start jobs of every scheduled upgrade. */
  sweepScheduled(): Promise<string[]>;
}

export interface SweepResult {
  expired: string[];
  invalidated: string[];
  requeued: string[];
  settledRollbacks: string[];
  scheduled: string[];
}

export function createHousekeeping(deps: HousekeepingDeps) {
  const { upgrades, logger } = deps;

  async function sweepRequests(): Promise<Pick<SweepResult, 'expired' | 'invalidated' | 'requeued'>> {
    const result = { expired: [] as string[], invalidated: [] as string[], requeued: [] as string[] };
    for (const upgrade of await upgrades.inStatus(['confirming', 'queued'])) {
      if (await deps.expireIfDue(upgrade)) {
        result.expired.push(upgrade.id);
        continue;
      }
      if (upgrade.status === 'queued') {
        const job = await deps.queues.upgrades.raw.getJob(upgrade.id);
        if (!job) {
          await deps.queues.upgrades.add(upgrade.kind, { upgradeId: upgrade.id, kind: upgrade.kind, doneStep: null }, { jobId: upgrade.id, attempts: UPGRADE_JOB_ATTEMPTS });
          result.requeued.push(upgrade.id);
        }
        continue;
      }
      if (upgrade.kind !== 'upgrade') continue;
      try {
        const { current } = await inspectTarget(deps.targets.resolve(upgrade.target), logger);
        if (hasVersionChanged(upgrade.plan, current)) {
          const invalidated = await upgrades.apply(upgrade.id, 'invalidate', { statusDetail: invalidatedDetail(current.apiVersion ?? current.imageTag) });
          if (invalidated) {
            await deps.refreshMessage(upgrade.id);
            result.invalidated.push(upgrade.id);
          }
        }
      } catch (err) {
        logger.warn({ err, upgradeId: upgrade.id }, 'sweep could not inspect the target');
      }
    }
    return result;
  }

  async function sweep(): Promise<SweepResult> {
    return { ...(await sweepRequests()), settledRollbacks: await deps.settleStrandedRollbacks(), scheduled: await deps.sweepScheduled() };
  }

  /** After a successful upgrade: the kept container goes once the retention period has passed. */
  async function scheduleRetention(upgrade: Pick<UpgradeRecord, 'id'>, retentionSeconds: number): Promise<void> {
    await deps.queues.housekeeping.add('retention', { upgradeId: upgrade.id }, { jobId: `retention-${upgrade.id}`, delay: retentionSeconds * 1000 });
  }

  async function retention(upgradeId: string): Promise<{ skipped: string } | { removed: boolean }> {
    const upgrade = await upgrades.byId(upgradeId);
    if (!upgrade || upgrade.status !== 'succeeded') return { skipped: `upgrade is ${upgrade?.status ?? 'gone'}` };
    const runtime = deps.targets.resolve(upgrade.target);
    const removed = await runtime.deployer.removeKept(upgrade.toVersion);
    if (removed && upgrade.messageTs) {
      await deps.reporter.post(upgrade.channelId, upgrade.messageTs, { text: retentionEndedText(upgrade.fromVersion) });
      await deps.reporter.flush();
    }
    logger.info({ upgradeId, removed }, 'retention done');
    return { removed };
  }

  return { sweep, scheduleRetention, retention };
}

export type Housekeeping = ReturnType<typeof createHousekeeping>;
