// Automatic patch upgrades from Slack: `/checkstack resume [target]` and the notice's **Cancel** button.
import { z } from 'zod';
import { AppError } from '../src/errors.js';
import type { AutoUpgrades } from '../src/upgrades/auto-upgrades.js';
import type { ClickHandler } from './block-action.js';
import type { SubcommandHandler } from './checkstack-command.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

const decisionKey = z.string().regex(/^auto@[a-z0-9][a-z0-9_-]{0,62}@[0-9A-Za-z.+-]{1,80}@[0-9TZ.]{1,24}$/i);

export function resumeCommand(autoUpgrades: Pick<AutoUpgrades, 'resume'>): SubcommandHandler<'resume'> {
  return async ({ command, userId, reply }) => {
    const result = await autoUpgrades.resume(command.target, userId);
    await reply({ text: result.text });
    return { detail: { target: result.target, resumed: result.resumed } };
  };
}

export function cancelAutoUpgradeAction(autoUpgrades: Pick<AutoUpgrades, 'cancelNotice'>): ClickHandler {
  return async ({ value, userId, channelId, messageTs, reply }) => {
    const parsed = decisionKey.safeParse(value);
    if (!parsed.success) throw new AppError('stale_action', CLICK_REFUSALS.noScheduledUpgradeNamed);
    const result = await autoUpgrades.cancelNotice(parsed.data, userId, { channelId, messageTs });
    await reply({ text: result.text });
    return { detail: { target: result.target, version: result.version, key: parsed.data } };
  };
}

