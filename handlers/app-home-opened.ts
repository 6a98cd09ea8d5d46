// `app_home_opened`: a user opened the bot's Home tab (or its Messages tab, which needs nothing). Their view is
// published from fresh facts, off the request path: Bolt has acknowledged the event already.
import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { Logger } from '../src/logger.js';
import type { HomeRefresh } from '../src/upgrades/home-refresh.js';

const homeOpenedSchema = z.object({ user: z.string().regex(/^[UW][A-Z0-9]{2,31}$/), tab: z.string().optional() });

export function appHomeOpened(deps: { refresh: Pick<HomeRefresh, 'opened'>; logger: Logger }) {
  return async ({ event }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs): Promise<void> => {
    const parsed = homeOpenedSchema.safeParse(event);
    if (!parsed.success) {
      deps.logger.warn({ issues: parsed.error.issues.slice(0, 3) }, 'app_home_opened without a usable user; ignored');
      return;
    }
    if (parsed.data.tab !== 'home') return;
    try {
      await deps.refresh.opened(parsed.data.user);
    } catch (err) {
      deps.logger.error({ err, userId: parsed.data.user }, 'could not queue the Home tab of a user who opened it');
    }
  };
}
