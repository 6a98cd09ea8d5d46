// The "Stop log watch" button in an upgrade's thread: approvers and the requester may end the watch early.
import { z } from 'zod';
import type { Deps } from '../src/deps.js';
import { AppError } from '../src/errors.js';
import { stopLogWatch } from '../src/upgrades/log-watch-control.js';
import type { ClickHandler } from './block-action.js';

export function stopLogWatchAction(deps: Pick<Deps, 'db' | 'approvers' | 'clock'>): ClickHandler {
  return async ({ value, userId, channelId, reply }) => {
    const parsed = z.string().uuid().safeParse(value);
    if (!parsed.success) throw new AppError('stale_action', 'That button does not name an upgrade; nothing changed.');
    const upgrade = await deps.db.upgrades.byId(parsed.data);
    if (!upgrade || upgrade.channelId !== channelId) throw new AppError('stale_action', 'That button does not belong to this channel; nothing changed.');
    const approvers = await deps.approvers.approvers();
    if (userId !== upgrade.requester && !approvers.has(userId)) {
      throw new AppError('not_authorized', 'Only the requester or an approver can stop the log watch.');
    }
    const outcome = await stopLogWatch(deps.db.upgrades, upgrade.id, () => deps.clock.now());
    await reply({ text: outcome === 'stopped' ? 'The log watch stops at its next check and posts its summary.' : 'The log watch is not running any more; nothing changed.' });
    return { upgradeId: upgrade.id, detail: { outcome } };
  };
}
