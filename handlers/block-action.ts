// A button click: ack at once, validate the payload, then run the work with the one error mapping and the audit.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { Deps } from '../src/deps.js';
import { AppError } from '../src/errors.js';
import { acknowledge, runInteraction, type EphemeralReply, type InteractionResult } from '../src/slack/interaction.js';

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
  channelId: string;
  messageTs: string;
  teamDomain: string | null;
  actionId: string;
  value: string;
  reply(message: EphemeralReply): Promise<void>;
}

export type ClickHandler = (click: Click) => Promise<InteractionResult | void>;

export function blockAction(deps: Deps, action: string, handler: ClickHandler) {
  return async ({ ack, body, respond, context }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await acknowledge(deps, 'action', () => ack(), context);
    const reply = async (message: EphemeralReply) => {
      await respond({ response_type: 'ephemeral', replace_original: false, text: message.text });
    };
    const userId = typeof body?.user?.id === 'string' ? body.user.id.slice(0, 32) : 'unknown';
    const channelId = typeof body?.channel?.id === 'string' ? body.channel.id.slice(0, 32) : null;
    await runInteraction(
      deps,
      { kind: 'action', action, userId, channelId, detail: { retry: context.retryNum ?? 0 }, reply },
      async () => {
        const parsed = clickSchema.safeParse(body);
        if (!parsed.success) throw new AppError('invalid_input', 'That click could not be understood; nothing changed. Try again from the latest message.');
        const data = parsed.data;
        const channel = data.channel?.id ?? data.container?.channel_id;
        const messageTs = data.message?.ts ?? data.container?.message_ts;
        const first = data.actions[0]!;
        if (!channel || !messageTs) throw new AppError('stale_action', 'That button is not on a message the bot can find; nothing changed.');
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
