// The checklist's buttons: Confirm (one per item), Start upgrade and Cancel.
import { z } from 'zod';
import { AppError } from '../src/errors.js';
import type { UpgradeRequests } from '../src/upgrades/upgrade-requests.js';
import type { ClickHandler } from './block-action.js';
import { ACTION_IDS } from '../src/slack/action-ids.js';
import { ALREADY_CONFIRMED_REPLY, scheduledCancelledReply } from '../src/slack/checklist-words.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

const upgradeId = z.string().uuid();
const itemId = z.string().regex(/^[a-z_]{1,40}$/);

function parseUpgradeId(value: string): string {
  const parsed = upgradeId.safeParse(value);
  if (!parsed.success) throw new AppError('stale_action', CLICK_REFUSALS.noRequestNamed);
  return parsed.data;
}

/** `confirm:<itemId>` with value `<upgradeId>:<itemId>`: both must agree, so a forged value cannot confirm another item. */
export function confirmAction(requests: UpgradeRequests): ClickHandler {
  return async ({ actionId, value, userId, channelId, messageTs, reply }) => {
    const [id = '', item = '', ...rest] = value.split(':');
    const fromAction = actionId.slice(ACTION_IDS.confirmPrefix.length);
    if (rest.length || !itemId.safeParse(item).success || item !== fromAction) {
      throw new AppError('stale_action', CLICK_REFUSALS.invalidConfirmation);
    }
    const upgrade = parseUpgradeId(id);
    const { recorded } = await requests.confirm(upgrade, item, userId, { channelId, messageTs });
    if (!recorded) await reply({ text: ALREADY_CONFIRMED_REPLY });
    return { upgradeId: upgrade, detail: { item, recorded } };
  };
}

export function startAction(requests: UpgradeRequests): ClickHandler {
  return async ({ value, userId, channelId, messageTs }) => {
    const id = parseUpgradeId(value);
    await requests.start(id, userId, { channelId, messageTs });
    return { upgradeId: id };
  };
}

export function cancelAction(requests: UpgradeRequests): ClickHandler {
  return async ({ value, userId, channelId, messageTs }) => {
    const id = parseUpgradeId(value);
    await requests.cancelByClick(id, userId, { channelId, messageTs });
    return { upgradeId: id };
  };
}

/** The Cancel button of a scheduled upgrade's reminder in its thread. */
export function cancelScheduledAction(requests: UpgradeRequests): ClickHandler {
  return async ({ value, userId, channelId, messageTs, reply }) => {
    const id = parseUpgradeId(value);
    const cancelled = await requests.cancelScheduledByClick(id, userId, { channelId, messageTs });
    await reply({ text: scheduledCancelledReply(cancelled) });
    return { upgradeId: id };
  };
}
