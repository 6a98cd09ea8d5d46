// Polls a restarting Checkstack until `/.checkstack/ready` says 200, honouring its Retry-After.
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors.js';
import { isReadyUnknown, type CheckstackClient, type ReadyAnswer, type ReadyUnknown } from './client.js';

export const DEFAULT_READY_POLL_MS = 2_000;
const MIN_READY_POLL_MS = 250;

/** No answer at all: the container is restarting, the port is closed, a proxy answers 502. */
export interface ReadyUnreachable {
  status: null;
  ready: false;
  unreachable: string;
  checks: [];
}

export type ReadyProgress = ReadyAnswer | ReadyUnreachable;

export type WaitForReadyResult = { readyAt: Date; answer: ReadyAnswer } | { unknown: true; answer: ReadyUnknown };

export interface WaitForReadyOptions {
  client: Pick<CheckstackClient, 'ready' | 'name'>;
  timeoutMs: number;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Every answer that is not ready yet; the caller coalesces them for Slack. */
  onProgress?: (answer: ReadyProgress) => void | Promise<void>;
  /** Between polls when the server sends no Retry-After. */
  pollIntervalMs?: number;
  logger?: Logger;
}

export async function waitForReady({
  client,
  timeoutMs,
  now,
  sleep,
  onProgress,
  pollIntervalMs = DEFAULT_READY_POLL_MS,
  logger,
}: WaitForReadyOptions): Promise<WaitForReadyResult> {
  const deadline = now().getTime() + timeoutMs;
  let lastAnswer: ReadyProgress | undefined;
  let polls = 0;
  for (;;) {
    polls += 1;
    const answer = await pollOnce(client);
    if (!('unreachable' in answer) && isReadyUnknown(answer)) return { unknown: true, answer };
    if (!('unreachable' in answer) && answer.status === 200 && answer.ready) return { readyAt: now(), answer };

    lastAnswer = answer;
    try {
      await onProgress?.(answer);
    } catch (err) {
      // Reporting progress is best effort; a failed Slack update must not end the wait.
      logger?.warn({ err, target: client.name }, 'readiness progress report failed');
    }

    const remaining = deadline - now().getTime();
    if (remaining <= 0) {
      throw new AppError(
        'readiness_timeout',
        `${client.name} was not ready within ${Math.round(timeoutMs / 1000)} s (${polls} polls; last: ${describeProgress(answer)})`,
        { target: client.name, timeoutMs, polls, lastAnswer },
      );
    }
    const retryAfterMs = 'retryAfterSeconds' in answer && answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : undefined;
    // A floor keeps `Retry-After: 0` from turning the wait into a busy loop.
    await sleep(Math.min(Math.max(retryAfterMs ?? pollIntervalMs, MIN_READY_POLL_MS), remaining));
  }
}

async function pollOnce(client: Pick<CheckstackClient, 'ready'>): Promise<ReadyAnswer | ReadyUnknown | ReadyUnreachable> {
  try {
    return await client.ready();
  } catch (err) {
    if (isAppError(err) && isRestartNoise(err)) {
      return { status: null, ready: false, unreachable: err.message, checks: [] };
    }
    throw err;
  }
}

/** While a container restarts, the port is closed or a proxy in front answers 5xx: not ready yet, not a failure. */
function isRestartNoise(err: AppError): boolean {
  if (err.code === 'checkstack_unreachable') return true;
  const status = err.details.status;
  return err.code === 'checkstack_api_error' && typeof status === 'number' && status >= 500;
}

/** One line on why an answer is not ready, for messages and Slack. */
export function describeProgress(answer: ReadyProgress): string {
  if ('unreachable' in answer) return `no answer (${answer.unreachable})`;
  if (answer.reason) return `${answer.status} ${answer.reason}`;
  if (answer.error) return `${answer.status} init failed: ${answer.error}`;
  const failing = answer.checks.filter((c) => !c.ok).map((c) => (c.message ? `${c.name} (${c.message})` : c.name));
  return failing.length > 0 ? `${answer.status}, failing: ${failing.join(', ')}` : `${answer.status}, not ready`;
}
