// The **Pin to <version>** button of a target that runs a floating tag (status, a refused upgrade, App Home).
import { AppError } from '../src/errors.js';
import { parseTargetVersionValue } from '../src/slack/action-ids.js';
import { pinnedReply, pinValueUnreadable } from '../src/slack/adoption-words.js';
import type { Adoption } from '../src/upgrades/adoption.js';
import type { ClickHandler } from './block-action.js';

export function pinVersionAction(adoption: Pick<Adoption, 'pin'>): ClickHandler {
  return async ({ value, userId, reply }) => {
    // The click's payload was checked by the router's schema; this is the value's own grammar.
    const pin = parseTargetVersionValue(value);
    if (!pin) throw new AppError('stale_action', pinValueUnreadable());
    const outcome = await adoption.pin({ targetName: pin.target, version: pin.version, userId });
    await reply({ text: pinnedReply(outcome) });
    return { detail: { target: outcome.target, tag: outcome.tag, version: outcome.version, record: outcome.record } };
  };
}
