// Runs the work of a slash command or a click after its ack: the one place where errors become ephemeral
// Slack text, every interaction is audited, and unexpected errors get a reference id that finds the stack in the log.
import type { Deps } from '../deps.js';
import { isAppError, newReferenceId } from '../errors.js';
import { toUserMessage } from './error-text.js';
import type { Logger } from '../logger.js';
import { pinOfferOf, withPinButton } from './adoption-words.js';
import { fitMessage } from './clip.js';

export interface EphemeralReply {
  text: string;
  blocks?: unknown[];
}

export interface Interaction {
  kind: 'command' | 'action';
  /** `help`, `upgrade`, `confirm`, … */
  action: string;
  userId: string;
  channelId: string | null;
  detail: Record<string, unknown>;
  /** Answers only the user who acted. */
  reply(message: EphemeralReply): Promise<void>;
}

/** An ephemeral answer within Slack's limits, whatever its handler put in it; a clip is logged (a presenter to fix). */
export function fitReply(reply: EphemeralReply, logger: Pick<Logger, 'warn'>): EphemeralReply {
  const { message, clipped } = fitMessage(reply);
  if (clipped.length > 0) logger.warn({ clipped }, 'slack message clipped to fit slack limits');
  return message;
}

export interface InteractionResult {
  outcome?: 'ok' | 'refused';
  upgradeId?: string | null;
  detail?: Record<string, unknown>;
}

/** Acks, and records how long the request waited for it since Bolt received it. */
export async function acknowledge(
  deps: Pick<Deps, 'metrics'>,
  kind: 'command' | 'action',
  ack: () => Promise<void>,
  context: Record<string, unknown>,
): Promise<void> {
  await ack();
  if (typeof context.receivedAt === 'number') deps.metrics.ackLatency.observe({ kind }, (performance.now() - context.receivedAt) / 1000);
}

export async function runInteraction(
  deps: Pick<Deps, 'logger' | 'audit' | 'metrics'>,
  interaction: Interaction,
  work: () => Promise<InteractionResult | void>,
): Promise<void> {
  // Built only when there is something to log: most interactions log nothing, and a pino child per request is
  // garbage the next request's ack would wait on.
  let child: Logger | null = null;
  const log = () => (child ??= deps.logger.child({ interaction: interaction.kind, action: interaction.action, user: interaction.userId }));
  let outcome: 'ok' | 'refused' | 'error' = 'ok';
  let errorCode: string | null = null;
  let referenceId: string | null = null;
  let result: InteractionResult | void = undefined;
  try {
    result = await work();
    outcome = result?.outcome ?? 'ok';
  } catch (err) {
    const message = toUserMessage(err, newReferenceId);
    if (message.referenceId) {
      referenceId = message.referenceId;
      outcome = 'error';
      errorCode = isAppError(err) ? err.code : 'internal';
      log().error({ err, referenceId }, 'interaction failed');
    } else {
      outcome = 'refused';
      errorCode = isAppError(err) ? err.code : null;
      // The audit log keeps every refusal; the log only when debugging.
      log().debug({ code: errorCode }, 'interaction refused');
    }
    // A refused upgrade of a target on `latest` offers the Pin button under its reason.
    await interaction.reply(withPinButton(message.text, pinOfferOf(err))).catch((replyErr: unknown) => log().warn({ err: replyErr }, 'could not send the error reply'));
  }
  deps.metrics.interactions.inc({ kind: interaction.kind, action: interaction.action, outcome });
  await deps.audit
    .record({
      userId: interaction.userId,
      channelId: interaction.channelId,
      kind: interaction.kind,
      action: interaction.action,
      detail: { ...interaction.detail, ...(result?.detail ?? {}) },
      outcome,
      errorCode,
      referenceId,
      upgradeId: result?.upgradeId ?? null,
    })
    .catch((err: unknown) => log().error({ err }, 'could not write the audit log'));
}
