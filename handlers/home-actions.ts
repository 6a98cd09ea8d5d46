// **Plan upgrade** on the Home tab: the same request as `/checkstack upgrade <version> <target>`, its checklist in the
// target's channel (the click router's Home path resolves it from the value `<target> <version>`).
import semver from 'semver';
import { AppError } from '../src/errors.js';
import { parseTargetVersionValue } from '../src/slack/action-ids.js';
import { homePlannedText } from '../src/slack/app-home.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';

export function homePlanUpgradeAction(requests: Pick<UpgradeRequests, 'requestUpgrade' | 'threadPermalink'>): ClickHandler {
  return async ({ userId, channelId, teamDomain, value, reply }) => {
    const named = parseTargetVersionValue(value);
    const version = semver.valid(named?.version ?? '');
    if (!named || !version) throw new AppError('invalid_input', CLICK_REFUSALS.noVersionNamed);
    const upgrade = await requests.requestUpgrade({ userId, channelId, teamDomain, version, targetName: named.target, allowPrerelease: semver.prerelease(version) !== null });
    await reply({ text: homePlannedText(upgrade, requests.threadPermalink(upgrade)) });
    return { upgradeId: upgrade.id, detail: { target: upgrade.target, to: upgrade.toVersion, from: 'home' } };
  };
}
