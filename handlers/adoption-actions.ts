// The **Pin to <version>** button of a target that runs a floating tag (status, a refused upgrade, App Home).
import { z } from 'zod';
import { AppError } from '../src/errors.js';
import { parsePinVersionValue } from '../src/slack/action-ids.js';
import { pinnedReply, pinValueUnreadable } from '../src/slack/adoption-words.js';
import type { Adoption } from '../src/upgrades/adoption.js';
import type { ClickHandler } from './block-action.js';

const pinValue = z.string().transform((value, ctx) => parsePinVersionValue(value) ?? (ctx.addIssue({ code: 'custom', message: 'not "<target> <version>"' }), z.NEVER));

export function pinVersionAction(adoption: Pick<Adoption, 'pin'>): ClickHandler {
  return async ({ value, userId, reply }) => {
    const parsed = pinValue.safeParse(value);
    if (!parsed.success) throw new AppError('stale_action', pinValueUnreadable());
    const outcome = await adoption.pin({ targetName: parsed.data.target, version: parsed.data.version, userId });
    await reply({ text: pinnedReply(outcome) });
    return { detail: { target: outcome.target, tag: outcome.tag, version: outcome.version, record: outcome.record } };
  };
}
