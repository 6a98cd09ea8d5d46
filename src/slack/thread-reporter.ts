// Posts an upgrade's progress into its Slack thread and updates messages in place, coalescing rapid updates.
//
// Rate limits and outages are left to @slack/web-api's WebClient (8.x, `makeRequest`), the one layer that retries
// Slack calls (src/deps.ts builds it; nothing here retries):
// - HTTP 429: with `rejectRateLimitedCalls: false` (deps.ts) the client pauses its whole request queue for the
//   `Retry-After` seconds, then sends the call again under `retryConfig` (p-retry); nothing it sends starts before
//   the pause ends.
// - HTTP 5xx and network errors: retried with backoff under `retryConfig` (deps.ts: `fiveRetriesInFiveMinutes`);
//   only when those retries are exhausted does the call fail.
// - `{ ok: false, error }` answers (message_not_found, invalid_blocks…) are not retried: they would fail again.
// On top of that the reporter keeps at most one request per message in flight, so a retried request can never be
// overtaken by a newer one for the same message, and a newer state always lands after an older one. Every message
// leaves through `fitMessage`, so no text a step reports (a log line, a Docker error) can break Slack's limits.
import { webApi, type types } from '@slack/bolt';
import { AppError } from '../errors.js';
import { fitMessage } from './clip.js';

export interface ThreadMessage {
  /** Also the notification and accessibility fallback when `blocks` are given. */
  text: string;
  blocks?: (types.KnownBlock | types.Block)[];
}

/** The pino methods the reporter logs with: a metadata object, then a fixed message. */
export interface ThreadReporterLogger {
  warn(meta: object, message: string): void;
  error(meta: object, message: string): void;
}

export interface ThreadReporterOptions {
  /** Replaces known secret values in every outgoing text; the JSON of blocks is scrubbed as a whole. */
  scrub?: (text: string) => string;
  client: Pick<webApi.WebClient, 'chat'>;
  logger: ThreadReporterLogger;
  /** Least time between two `chat.update` calls for the same message, measured from when the previous one finished. */
  minUpdateIntervalMs?: number;
  now?: () => number;
  setTimer?: (callback: () => void, ms: number) => unknown;
}

export interface ThreadReporter {
  /**
   * Posts a reply in the thread of `threadTs`; replies to one thread go out in call order. Resolves with its ts;
   * rejects with AppError('slack_unavailable') once the client's retries are exhausted.
   */
  post(channel: string, threadTs: string, message: ThreadMessage): Promise<string>;
  /**
   * Replaces the content of message `ts`. Resolves once this content, or a newer one that replaced it while
   * waiting, has landed in Slack (or failed for good, which is logged). Never rejects.
   */
  update(channel: string, ts: string, message: ThreadMessage): Promise<void>;
  /** Resolves when every post and update requested so far has been sent. */
  flush(): Promise<void>;
}

interface PendingUpdate {
  message: ThreadMessage;
  waiters: Array<() => void>;
}

interface MessageSlot {
  channel: string;
  ts: string;
  pending: PendingUpdate | undefined;
  /** The running send loop, if any. */
  running: Promise<void> | undefined;
  lastFinishedAt: number | undefined;
}

export function createThreadReporter({
  client,
  logger,
  minUpdateIntervalMs = 1000,
  now = Date.now,
  setTimer = setTimeout,
  scrub,
}: ThreadReporterOptions): ThreadReporter {
  // Defence in depth: whatever a step reports (an error from Docker, a log line), no known secret reaches Slack,
  // and nothing breaks Slack's limits. Scrubbed first, as a scrubbed text may be longer.
  const clean = (message: ThreadMessage): ThreadMessage => {
    const scrubbed = scrub
      ? { text: scrub(message.text), ...(message.blocks ? { blocks: JSON.parse(scrub(JSON.stringify(message.blocks))) as ThreadMessage['blocks'] } : {}) }
      : message;
    const { message: fitted, clipped } = fitMessage(scrubbed);
    if (clipped.length > 0) logger.warn({ clipped }, 'slack message clipped to fit slack limits');
    return fitted;
  };
  const slots = new Map<string, MessageSlot>();
  const threadChains = new Map<string, Promise<void>>();

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => void setTimer(resolve, ms));

  const sendLoop = async (slot: MessageSlot): Promise<void> => {
    while (slot.pending) {
      const wait = slot.lastFinishedAt === undefined ? 0 : slot.lastFinishedAt + minUpdateIntervalMs - now();
      if (wait > 0) await sleep(wait);
      const { message, waiters } = slot.pending;
      slot.pending = undefined;
      try {
        await client.chat.update({ channel: slot.channel, ts: slot.ts, text: message.text, ...blocksOf(message) });
      } catch (err) {
        logger.error({ channel: slot.channel, ts: slot.ts, err: describe(err) }, 'slack message update failed');
      }
      slot.lastFinishedAt = now();
      for (const resolve of waiters) resolve();
    }
    slot.running = undefined;
  };

  const pruneIdleSlots = (): void => {
    const cutoff = now() - minUpdateIntervalMs;
    for (const [key, slot] of slots) {
      if (!slot.running && !slot.pending && (slot.lastFinishedAt ?? 0) < cutoff) slots.delete(key);
    }
  };

  return {
    post(channel, threadTs, raw) {
      const message = clean(raw);
      const key = `${channel}:${threadTs}`;
      const previous = threadChains.get(key) ?? Promise.resolve();
      const result = previous.then(async () => {
        try {
          const answer = await client.chat.postMessage({ channel, thread_ts: threadTs, text: message.text, ...blocksOf(message) });
          if (answer.ts === undefined) throw new Error('chat.postMessage answered without a ts');
          return answer.ts;
        } catch (err) {
          logger.error({ channel, threadTs, err: describe(err) }, 'slack thread reply failed');
          throw new AppError('slack_unavailable', 'Slack did not accept a reply in the upgrade thread.', { channel, threadTs }, { cause: err });
        }
      });
      const settled = result.then(
        () => undefined,
        () => undefined,
      );
      threadChains.set(key, settled);
      void settled.then(() => {
        if (threadChains.get(key) === settled) threadChains.delete(key);
      });
      return result;
    },

    update(channel, ts, raw) {
      const message = clean(raw);
      pruneIdleSlots();
      const key = `${channel}:${ts}`;
      const slot = slots.get(key) ?? { channel, ts, pending: undefined, running: undefined, lastFinishedAt: undefined };
      slots.set(key, slot);
      const landed = new Promise<void>((resolve) => {
        const waiters = slot.pending?.waiters ?? [];
        waiters.push(resolve);
        // A newer state replaces the one still waiting: only the latest needs to reach Slack.
        slot.pending = { message, waiters };
      });
      if (!slot.running) slot.running = sendLoop(slot);
      return landed;
    },

    async flush() {
      for (;;) {
        const busy = [...threadChains.values(), ...[...slots.values()].flatMap((s) => (s.running ? [s.running] : []))];
        if (busy.length === 0) return;
        await Promise.all(busy);
      }
    },
  };
}

function blocksOf(message: ThreadMessage): { blocks?: (types.KnownBlock | types.Block)[] } {
  return message.blocks === undefined ? {} : { blocks: message.blocks };
}

/** What is safe to log of a Slack error: its code and Slack's error name, never the request (it holds the token). */
function describe(err: unknown): Record<string, unknown> {
  if (typeof err !== 'object' || err === null) return { message: String(err) };
  const { code, message, data, statusCode } = err as { code?: unknown; message?: unknown; data?: { error?: unknown }; statusCode?: unknown };
  return { code, message, slackError: data?.error, statusCode };
}
