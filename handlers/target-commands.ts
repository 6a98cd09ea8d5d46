// `/checkstack status [target]`, `/checkstack cancel [target]` and `/checkstack history [target]`.
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { SubcommandHandler } from './checkstack-command.js';

function linkTo(requests: UpgradeRequests, u: Parameters<UpgradeRequests['threadPermalink']>[0], label: string): string {
  const link = requests.threadPermalink(u);
  return link ? `<${link}|${label}>` : label;
}

export function statusCommand(requests: UpgradeRequests): SubcommandHandler<'status'> {
  return async ({ command, reply }) => {
    const s = await requests.status(command.target);
    const running = s.current.apiVersion ?? s.current.imageTag ?? 'unknown';
    const lines = [
      `*${s.target}* runs \`${running}\`${s.current.apiVersion && s.current.imageTag && s.current.apiVersion !== s.current.imageTag ? ` (image tag \`${s.current.imageTag}\`: they disagree)` : ''}${s.current.reachable ? '' : ' — the instance did not answer'}`,
      s.latest ? `Latest release: <${s.latest.htmlUrl}|v${s.latest.version}>` : 'Latest release: not known yet',
      s.behind
        ? s.behind.minors === 0 && s.behind.patches === 0
          ? 'Up to date.'
          : `Behind by ${s.behind.minors} minor release line(s) and ${s.behind.patches} patch(es)${s.behind.minors > 0 ? ': each minor may break, read every one' : ''}.`
        : '',
      s.active ? `Active: ${linkTo(requests, s.active, `${s.active.kind} to \`${s.active.toVersion}\`, ${s.active.status}`)}` : 'No upgrade pending.',
      s.last ? `Last: ${linkTo(requests, s.last, `${s.last.kind} ${s.last.fromVersion} → ${s.last.toVersion}`)}: ${s.last.status}${s.last.outcome === 'succeeded_with_warnings' ? ' (with warnings)' : ''}` : '',
    ].filter(Boolean);
    await reply({ text: lines.join('\n') });
    return { detail: { target: s.target } };
  };
}

export function cancelCommand(requests: UpgradeRequests): SubcommandHandler<'cancel'> {
  return async ({ command, userId, reply }) => {
    const cancelled = await requests.cancelForTarget(command.target, userId);
    await reply({ text: `Cancelled the ${cancelled.kind} of \`${cancelled.target}\` to \`${cancelled.toVersion}\`.` });
    return { upgradeId: cancelled.id };
  };
}

export function historyCommand(requests: UpgradeRequests): SubcommandHandler<'history'> {
  return async ({ command, reply }) => {
    const entries = await requests.history(command.target);
    if (entries.length === 0) {
      await reply({ text: 'No upgrades recorded for this target yet.' });
      return;
    }
    const lines = entries.map(({ upgrade: u, confirmations }) => {
      const approvers = [...new Set(confirmations.map((c) => c.userId))].map((id) => `<@${id}>`).join(', ') || 'nobody';
      const when = u.createdAt.toISOString().slice(0, 16).replace('T', ' ');
      return `• ${when} UTC · ${linkTo(requests, u, `${u.kind} ${u.fromVersion} → ${u.toVersion}`)} · requested by <@${u.requester}> · approved by ${approvers} · *${u.status}*${u.statusDetail ? ` (${u.statusDetail})` : ''}`;
    });
    await reply({ text: [`*Last ${entries.length} upgrade(s) of ${entries[0]!.upgrade.target}*`, ...lines].join('\n') });
  };
}
