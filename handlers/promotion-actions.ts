// The promotion gate's override button: "ship without a green run on `from`", confirmed by two different approvers.
import { z } from 'zod';
import { AppError } from '../src/errors.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';
import { OVERRIDE_ALREADY_CONFIRMED_REPLY } from '../src/slack/checklist-words.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

const upgradeId = z.string().uuid();

export function promotionOverrideAction(requests: UpgradeRequests): ClickHandler {
  return async ({ value, userId, channelId, messageTs, reply }) => {
    const parsed = upgradeId.safeParse(value);
    if (!parsed.success) throw new AppError('stale_action', CLICK_REFUSALS.noRequestNamed);
    const { recorded, approved } = await requests.overridePromotion(parsed.data, userId, { channelId, messageTs });
    if (!recorded) await reply({ text: OVERRIDE_ALREADY_CONFIRMED_REPLY });
    return { upgradeId: parsed.data, detail: { recorded, approved } };
  };
}
