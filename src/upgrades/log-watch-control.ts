// Stopping the log watch early, from its button in the thread; the log-watch job notices at its next poll.
import type { UpgradeStore } from '../db/upgrade-store.js';

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
