// The "Stop log watch" button in an upgrade's thread: approvers and the requester may end the watch early.
import { z } from 'zod';
import type { Deps } from '../src/deps.js';
import { AppError } from '../src/errors.js';
import { stopLogWatch } from '../src/upgrades/log-watch-control.js';
import type { ClickHandler } from './block-action.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';
import { stopLogWatchReply } from '../src/slack/log-watch-words.js';

export function stopLogWatchAction(deps: Pick<Deps, 'db' | 'approvers' | 'clock'>): ClickHandler {
  return async ({ value, userId, channelId, reply }) => {
    const parsed = z.string().uuid().safeParse(value);
    if (!parsed.success) throw new AppError('stale_action', CLICK_REFUSALS.noUpgradeNamed);
    const upgrade = await deps.db.upgrades.byId(parsed.data);
    if (!upgrade || upgrade.channelId !== channelId) throw new AppError('stale_action', CLICK_REFUSALS.buttonOfOtherChannel);
    const approvers = await deps.approvers.approvers();
    if (userId !== upgrade.requester && !approvers.has(userId)) {
      throw new AppError('not_authorized', CLICK_REFUSALS.stopLogWatchNotAllowed);
    }
    const outcome = await stopLogWatch(deps.db.upgrades, upgrade.id, () => deps.clock.now());
    await reply({ text: stopLogWatchReply(outcome) });
    return { upgradeId: upgrade.id, detail: { outcome } };
  };
}
