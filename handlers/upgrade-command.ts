// `/checkstack upgrade <version> [target] [--prerelease]`, and the "Plan upgrade" button of an announcement,
// which starts the same flow as if its clicker had typed the command.
import semver from 'semver';
import { AppError } from '../src/errors.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';
import type { SubcommandHandler } from './checkstack-command.js';
import { upgradePlannedFromButtonReply, upgradePlannedReply } from '../src/slack/checklist-words.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

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
    await reply({ text: upgradePlannedReply(upgrade, requests.threadPermalink(upgrade)) });
    return { upgradeId: upgrade.id, detail: { target: upgrade.target, from: upgrade.fromVersion, to: upgrade.toVersion, ...(upgrade.scheduledAt ? { scheduledAt: upgrade.scheduledAt.toISOString() } : {}) } };
  };
}

export function planUpgradeAction(requests: UpgradeRequests): ClickHandler {
  return async ({ userId, channelId, teamDomain, value, reply }) => {
    const version = semver.valid(value);
    if (!version) throw new AppError('invalid_input', CLICK_REFUSALS.noVersionNamed);
    const upgrade = await requests.requestUpgrade({ userId, channelId, teamDomain, version, allowPrerelease: semver.prerelease(version) !== null });
    await reply({ text: upgradePlannedFromButtonReply(upgrade, requests.threadPermalink(upgrade)) });
    return { upgradeId: upgrade.id, detail: { target: upgrade.target, to: upgrade.toVersion } };
  };
}
