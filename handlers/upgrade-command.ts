// `/checkstack upgrade <version> [target] [--prerelease]`, and the "Plan upgrade" button of an announcement,
// which starts the same flow as if its clicker had typed the command.
import semver from 'semver';
import { AppError } from '../src/errors.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function upgradeCommand(requests: UpgradeRequests): SubcommandHandler<'upgrade'> {
  return async ({ command, userId, channelId, teamDomain, reply }) => {
    const upgrade = await requests.requestUpgrade({
      userId,
      channelId,
      teamDomain,
      version: command.version,
      ...(command.target ? { targetName: command.target } : {}),
      allowPrerelease: command.allowPrerelease,
      ...(command.at ? { schedule: command.at } : {}),
    });
    const when = upgrade.scheduledAt ? `, to start at ${upgrade.scheduledAt.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
    await reply({
      text: `Upgrade of \`${upgrade.target}\` from \`${upgrade.fromVersion}\` to \`${upgrade.toVersion}\` planned${when}: approvers confirm its checklist <${requests.threadPermalink(upgrade)}|here>.`,
    });
    return { upgradeId: upgrade.id, detail: { target: upgrade.target, from: upgrade.fromVersion, to: upgrade.toVersion, ...(upgrade.scheduledAt ? { scheduledAt: upgrade.scheduledAt.toISOString() } : {}) } };
  };
}

export function planUpgradeAction(requests: UpgradeRequests): ClickHandler {
  return async ({ userId, channelId, teamDomain, value, reply }) => {
    const version = semver.valid(value);
    if (!version) throw new AppError('invalid_input', 'That button does not name a version; nothing changed.');
    const upgrade = await requests.requestUpgrade({ userId, channelId, teamDomain, version, allowPrerelease: semver.prerelease(version) !== null });
    await reply({ text: `Upgrade to \`${upgrade.toVersion}\` planned for \`${upgrade.target}\`: <${requests.threadPermalink(upgrade)}|its checklist>.` });
    return { upgradeId: upgrade.id, detail: { target: upgrade.target, to: upgrade.toVersion } };
  };
}
