// `/checkstack rollback [target]` and the Roll back button in a failed or finished upgrade's thread: both
// open a rollback request with its own checklist, under the same approval rules as an upgrade.
import { z } from 'zod';
import { AppError } from '../src/errors.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';
import type { SubcommandHandler } from './checkstack-command.js';
import { rollbackPlannedFromButtonReply, rollbackPlannedReply } from '../src/slack/checklist-words.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

export function rollbackCommand(requests: UpgradeRequests): SubcommandHandler<'rollback'> {
  return async ({ command, userId, channelId, teamDomain, reply }) => {
    const rollback = await requests.requestRollback({ userId, channelId, teamDomain, ...(command.target ? { targetName: command.target } : {}) });
    await reply({ text: rollbackPlannedReply(rollback, requests.threadPermalink(rollback)) });
    return { upgradeId: rollback.id, detail: { target: rollback.target, to: rollback.toVersion } };
  };
}

export function rollbackAction(requests: UpgradeRequests): ClickHandler {
  return async ({ value, userId, channelId, teamDomain, reply }) => {
    const parsed = z.string().uuid().safeParse(value);
    if (!parsed.success) throw new AppError('stale_action', CLICK_REFUSALS.noUpgradeNamed);
    const rollback = await requests.requestRollback({ userId, channelId, teamDomain, ofUpgradeId: parsed.data, clickedInChannel: channelId });
    await reply({ text: rollbackPlannedFromButtonReply(rollback, requests.threadPermalink(rollback)) });
    return { upgradeId: rollback.id };
  };
}
