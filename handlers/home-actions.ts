// **Plan upgrade** on the Home tab: the same request as `/checkstack upgrade <version> <target>`, its checklist in the
// target's channel (the click router's Home path resolves it from the value `<target> <version>`).
import semver from 'semver';
import { AppError } from '../src/errors.js';
import { homePlannedText } from '../src/slack/app-home.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';

export function homePlanUpgradeAction(requests: Pick<UpgradeRequests, 'requestUpgrade' | 'threadPermalink'>): ClickHandler {
  return async ({ userId, channelId, teamDomain, value, reply }) => {
    const [target, raw] = value.split(' ');
    const version = semver.valid(raw ?? '');
    if (!target || !version) throw new AppError('invalid_input', 'That button does not name a version; nothing changed.');
    const upgrade = await requests.requestUpgrade({ userId, channelId, teamDomain, version, targetName: target, allowPrerelease: semver.prerelease(version) !== null });
    await reply({ text: homePlannedText(upgrade, requests.threadPermalink(upgrade)) });
    return { upgradeId: upgrade.id, detail: { target: upgrade.target, to: upgrade.toVersion, from: 'home' } };
  };
}
