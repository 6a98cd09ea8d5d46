// `/checkstack status [target]`, `/checkstack cancel [target]` and `/checkstack history [target]`.
import type { AutoUpgradeStatus } from '../src/domain/auto-upgrade.js';
import { cancelledReply } from '../src/slack/checklist-words.js';
import { historyReply, statusMessage } from '../src/slack/command-replies.js';
import type { TargetStatusService } from '../src/upgrades/target-status.js';
import { threadPermalink, type UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function statusCommand(targetStatus: TargetStatusService, automatic?: { statusOf(target: string): Promise<AutoUpgradeStatus | null> }): SubcommandHandler<'status'> {
  return async ({ command, reply }) => {
    const s = await targetStatus.status(command.target);
    const auto = automatic ? await automatic.statusOf(s.target) : null;
    const withLink = <U extends Parameters<typeof threadPermalink>[0]>(u: U | null) => (u ? { ...u, link: threadPermalink(u) } : null);
    await reply(statusMessage({ ...s, automatic: auto, active: withLink(s.active), last: withLink(s.last) }));
    return { detail: { target: s.target } };
  };
}

export function cancelCommand(requests: UpgradeRequests): SubcommandHandler<'cancel'> {
  return async ({ command, userId, reply }) => {
    const cancelled = await requests.cancelForTarget(command.target, userId);
    await reply({ text: cancelledReply(cancelled) });
    return { upgradeId: cancelled.id };
  };
}

export function historyCommand(targetStatus: TargetStatusService): SubcommandHandler<'history'> {
  return async ({ command, reply }) => {
    const entries = await targetStatus.history(command.target);
    const target = entries[0]?.upgrade.target ?? '';
    await reply({
      text: historyReply(
        target,
        entries.map(({ upgrade, confirmations }) => ({
          upgrade: { ...upgrade, link: threadPermalink(upgrade) },
          approvers: [...new Set(confirmations.map((c) => c.userId))],
        })),
      ),
    });
  };
}
