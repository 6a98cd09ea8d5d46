// Stopping the log watch early, from its button in the thread; the log-watch job notices at its next poll.
import type { UpgradeStore } from '../db/upgrade-store.js';
import type { ActionsBlock } from '../slack/checklist-message.js';
import { ACTION_IDS, BLOCK_IDS } from '../slack/action-ids.js';

export const STOP_LOG_WATCH_ACTION = ACTION_IDS.stopLogWatch;

export async function stopLogWatch(
  upgrades: Pick<UpgradeStore, 'byId' | 'setLogWatchUntil'>,
  upgradeId: string,
  now: Date | (() => Date),
): Promise<'stopped' | 'not_running' | 'not_found'> {
  const at = typeof now === 'function' ? now() : now;
  const upgrade = await upgrades.byId(upgradeId);
  if (!upgrade) return 'not_found';
  if (!upgrade.logWatchUntil || upgrade.logWatchUntil.getTime() <= at.getTime() || upgrade.status !== 'succeeded') {
    return 'not_running';
  }
  await upgrades.setLogWatchUntil(upgradeId, at);
  return 'stopped';
}

/** The button that stops the watch, for the thread message that announces it. */
export function logWatchStopButton(upgradeId: string): ActionsBlock {
  return {
    type: 'actions',
    block_id: BLOCK_IDS.logWatchStop(upgradeId),
    elements: [
      {
        type: 'button',
        action_id: STOP_LOG_WATCH_ACTION,
        text: { type: 'plain_text', text: 'Stop log watch' },
        value: upgradeId,
      },
    ],
  };
}

