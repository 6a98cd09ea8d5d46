// After a successful upgrade: the log watch for `postflight.logWatch`, announced in the thread with its Stop button,
// and the removal of the kept container after `postflight.retention` (a housekeeping job).
import type { UpgradeRecord, UpgradeStore } from '../db/upgrade-store.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queue.js';
import { logWatchStartedMessage } from '../slack/log-watch-words.js';
import type { ThreadReporter } from '../slack/thread-reporter.js';
import type { TargetRegistry } from '../targets/registry.js';

export interface FollowUpsDeps {
  upgrades: Pick<UpgradeStore, 'recordJobFacts'>;
  targets: Pick<TargetRegistry, 'resolve'>;
  queues: Pick<Queues, 'logWatch'>;
  /** Queues the removal of the kept container after the retention period. */
  scheduleRetention(upgrade: Pick<UpgradeRecord, 'id'>, retentionSeconds: number): Promise<void>;
  reporter: Pick<ThreadReporter, 'post'>;
  logger: Logger;
}

export function createFollowUps(deps: FollowUpsDeps) {
  async function schedule(upgrade: UpgradeRecord, readyAt: Date): Promise<void> {
    const runtime = deps.targets.resolve(upgrade.target);
    const since = Math.floor(readyAt.getTime() / 1000);
    const until = since + runtime.config.postflight.logWatch;
    await deps.upgrades.recordJobFacts(upgrade.id, { logWatchUntil: new Date(until * 1000) });
    await deps.queues.logWatch.add('watch', { upgradeId: upgrade.id, since, until }, { jobId: `logwatch-${upgrade.id}`, attempts: 5 });
    if (upgrade.messageTs) {
      // The watch is queued: a reply Slack does not take must not keep the retention below from being scheduled.
      await deps.reporter
        .post(upgrade.channelId, upgrade.messageTs, logWatchStartedMessage(upgrade.id, runtime.config.postflight.logWatch))
        .catch((err: unknown) => deps.logger.warn({ err, upgradeId: upgrade.id }, 'could not announce the log watch'));
    }
    if (upgrade.kind === 'upgrade') {
      await deps.scheduleRetention(upgrade, runtime.config.postflight.retention);
    }
  }

  return { schedule };
}

export type FollowUps = ReturnType<typeof createFollowUps>;
