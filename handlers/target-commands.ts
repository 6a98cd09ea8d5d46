// `/checkstack status [target]`, `/checkstack cancel [target]` and `/checkstack history [target]`.
import type { AutoUpgradeStatus } from '../src/domain/auto-upgrade.js';
import { cancelledReply } from '../src/slack/checklist-words.js';
import { historyReply, statusReply } from '../src/slack/command-replies.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function statusCommand(requests: UpgradeRequests, automatic?: { statusOf(target: string): Promise<AutoUpgradeStatus | null> }): SubcommandHandler<'status'> {
  return async ({ command, reply }) => {
    const s = await requests.status(command.target);
    const auto = automatic ? await automatic.statusOf(s.target) : null;
    const withLink = <U extends Parameters<UpgradeRequests['threadPermalink']>[0]>(u: U | null) => (u ? { ...u, link: requests.threadPermalink(u) } : null);
    await reply({ text: statusReply({ ...s, automatic: auto, active: withLink(s.active), last: withLink(s.last) }) });
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

export function historyCommand(requests: UpgradeRequests): SubcommandHandler<'history'> {
  return async ({ command, reply }) => {
    const entries = await requests.history(command.target);
    const target = entries[0]?.upgrade.target ?? '';
    await reply({
      text: historyReply(
        target,
        entries.map(({ upgrade, confirmations }) => ({
          upgrade: { ...upgrade, link: requests.threadPermalink(upgrade) },
          approvers: [...new Set(confirmations.map((c) => c.userId))],
        })),
      ),
    });
  };
}
