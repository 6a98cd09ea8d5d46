// A button click: ack at once, validate the payload, then run the work with the one error mapping and the audit.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { Deps } from '../src/deps.js';
import { escapeRegExp } from '../src/domain/regexp.js';
import { AppError } from '../src/errors.js';
import { parseTargetVersionValue } from '../src/slack/action-ids.js';
import { HOME_NO_CHANNEL } from '../src/slack/app-home.js';
import { acknowledge, fitReply, runInteraction, type EphemeralReply, type InteractionResult } from '../src/slack/interaction.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

const MAX_VALUE = 2000;

/** What the bot needs from a `block_actions` payload; anything else in it is ignored. */
const clickSchema = z.object({
  user: z.object({ id: z.string().min(1).max(32) }),
  channel: z.object({ id: z.string().min(1).max(32) }).optional(),
  container: z.object({ channel_id: z.string().max(32).optional(), message_ts: z.string().max(32).optional() }).partial().optional(),
  message: z.object({ ts: z.string().min(1).max(32) }).optional(),
  team: z.object({ domain: z.string().max(64).optional() }).nullish(),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(MAX_VALUE).optional() })).min(1),
});

export interface Click {
  userId: string;
  /** The message's channel; for a Home tab click, the channel of the target its value names. */
  channelId: string;
  /** The message clicked; '' for a Home tab click, which has none. */
  messageTs: string;
  teamDomain: string | null;
  actionId: string;
  value: string;
  reply(message: EphemeralReply): Promise<void>;
}

export type ClickHandler = (click: Click) => Promise<InteractionResult | void>;

type ClickListener = (args: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs) => Promise<void>;

export interface ClickRoute {
  /** The button's `action_id`, or the start of it (`confirm:` for every checklist item). */
  actionId: string | { prefix: string };
  /** The name the audit log and the metrics give the click. */
  action: string;
  handler: ClickHandler;
}

/**
 * Buttons of the Home tab. Their clicks carry no channel, no message and no response_url: each value is
 * `<target> <version>`, the answer goes ephemerally to the clicker in that target's channel, and the clicker's Home
 * tab is published again afterwards. An id may be both a message button and a Home button (Pin).
 */
export interface HomeClicks {
  routes: Array<ClickRoute & { actionId: string }>;
  /** The target's channel (its `channel`, else the first announce channel); null when there is none. */
  channelFor(target: string): Promise<string | null>;
  afterClick(userId: string): Promise<void>;
}

/**
 * Every button of the bot behind one Bolt listener. Bolt runs each registered listener's middleware for every
 * request, so one listener per button multiplied the work (and the garbage) of every click and command by the
 * number of buttons. `actionIds` matches exactly the routes' ids and the link buttons' ids, for `app.action`.
 * A link button (one with a `url`) opens its page in the browser, and Slack still sends its click: `linkButtons` are
 * only acknowledged (no work, no reply, no audit row), as Slack requires of every `block_actions` delivery. A click
 * from the Home tab goes to its `home` route (same id or not).
 */
export function clickRouter(deps: Deps, routes: ClickRoute[], linkButtons: readonly string[] = [], home?: HomeClicks): { actionIds: RegExp; listener: ClickListener } {
  const homeListeners = new Map((home?.routes ?? []).map((route) => [route.actionId, homeAction(deps, route.action, route.handler, home!)]));
  // One pattern per route decides both which ids Bolt hands over and which route takes each.
  const listeners = [
    // Ids only on the Home tab: matched so that Bolt hands them over; a click of one from elsewhere is only acknowledged.
    ...[...homeListeners.keys()].filter((id) => !routes.some((r) => r.actionId === id)).map((actionId) => {
      const pattern = `${escapeRegExp(actionId)}$`;
      return { pattern, matches: new RegExp(`^${pattern}`), listener: linkButton(deps) };
    }),
    ...routes.map((route) => {
      const pattern = typeof route.actionId === 'string' ? `${escapeRegExp(route.actionId)}$` : escapeRegExp(route.actionId.prefix);
      return { pattern, matches: new RegExp(`^${pattern}`), listener: blockAction(deps, route.action, route.handler) };
    }),
    ...linkButtons.map((actionId) => {
      const pattern = `${escapeRegExp(actionId)}$`;
      return { pattern, matches: new RegExp(`^${pattern}`), listener: linkButton(deps) };
    }),
  ];
  return {
    actionIds: new RegExp(`^(?:${listeners.map(({ pattern }) => pattern).join('|')})`),
    listener: async (args) => {
      const fromHome = isHomeClick(args.body) ? homeListeners.get(args.action.action_id) : undefined;
      if (fromHome) return fromHome(args);
      const route = listeners.find(({ matches }) => matches.test(args.action.action_id));
      // Bolt calls this listener only for ids `actionIds` matches, so a route is always found.
      await route!.listener(args);
    },
  };
}

function isHomeClick(body: unknown): boolean {
  const b = body as { container?: { type?: unknown }; view?: { type?: unknown } } | undefined;
  return b?.container?.type === 'view' && b.view?.type === 'home';
}

const homeClickSchema = z.object({
  user: z.object({ id: z.string().min(1).max(32) }),
  team: z.object({ domain: z.string().max(64).optional() }).nullish(),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(200).optional() })).min(1),
});

function homeAction(deps: Deps, action: string, handler: ClickHandler, home: HomeClicks): ClickListener {
  return async ({ ack, body, context }) => {
    await acknowledge(deps, 'action', () => ack(), context);
    const userId = typeof body?.user?.id === 'string' ? body.user.id.slice(0, 32) : 'unknown';
    let channel: string | null = null;
    const reply = async (raw: EphemeralReply) => {
      if (!channel) {
        deps.logger.warn({ userId, action, text: raw.text.slice(0, 300) }, 'a Home tab click could not be answered: no channel');
        return;
      }
      const message = fitReply(raw, deps.logger);
      // The Home tab's answers are text (Plan upgrade, Pin).
      await deps.slack.chat.postEphemeral({ channel, user: userId, text: message.text });
    };
    await runInteraction(deps, { kind: 'action', action, userId, channelId: null, detail: { retry: context.retryNum ?? 0, from: 'home' }, reply }, async () => {
      const parsed = homeClickSchema.safeParse(body);
      const first = parsed.success ? parsed.data.actions[0]! : null;
      const target = first ? parseTargetVersionValue(first.value ?? '')?.target : undefined;
      if (!parsed.success || !first || !target) throw new AppError('invalid_input', 'That button does not name a target and a version; nothing changed.');
      channel = await home.channelFor(target);
      if (!channel) throw new AppError('invalid_input', HOME_NO_CHANNEL);
      return handler({ userId: parsed.data.user.id, channelId: channel, messageTs: '', teamDomain: parsed.data.team?.domain ?? null, actionId: first.action_id, value: first.value ?? '', reply });
    });
    await home.afterClick(userId).catch((err: unknown) => deps.logger.warn({ err, userId }, 'could not queue the Home tab after a click'));
  };
}

function linkButton(deps: Deps): ClickListener {
  return async ({ ack, context }) => {
    await acknowledge(deps, 'action', () => ack(), context);
  };
}

function blockAction(deps: Deps, action: string, handler: ClickHandler): ClickListener {
  return async ({ ack, body, respond, context }) => {
    await acknowledge(deps, 'action', () => ack(), context);
    const reply = async (raw: EphemeralReply) => {
      const message = fitReply(raw, deps.logger);
      await respond({ response_type: 'ephemeral', replace_original: false, text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) });
    };
    const userId = typeof body?.user?.id === 'string' ? body.user.id.slice(0, 32) : 'unknown';
    const channelId = typeof body?.channel?.id === 'string' ? body.channel.id.slice(0, 32) : null;
    await runInteraction(
      deps,
      { kind: 'action', action, userId, channelId, detail: { retry: context.retryNum ?? 0 }, reply },
      async () => {
        const parsed = clickSchema.safeParse(body);
        if (!parsed.success) throw new AppError('invalid_input', CLICK_REFUSALS.unreadableClick);
        const data = parsed.data;
        const channel = data.channel?.id ?? data.container?.channel_id;
        const messageTs = data.message?.ts ?? data.container?.message_ts;
        const first = data.actions[0]!;
        if (!channel || !messageTs) throw new AppError('stale_action', CLICK_REFUSALS.messageNotFound);
        return handler({
          userId: data.user.id,
          channelId: channel,
          messageTs,
          teamDomain: data.team?.domain ?? null,
          actionId: first.action_id,
          value: first.value ?? '',
          reply,
        });
      },
    );
  };
}
