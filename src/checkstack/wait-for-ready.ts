// Waits for a restarting Checkstack: first for its log line `Checkstack Core initialized`, read through the platform's
// log API, and only then asks it over HTTP: `/.checkstack/ready` until 200 (honouring Retry-After) where the release
// has that endpoint, `GET /` where it does not.
//
// Why the log line first, for every release: releases before the platform endpoints (0.31 and around) die when any
// request arrives before init finished (Hono's SmartRouter freezes its matcher on the first request, and the routes
// init adds next throw `Can not add a route since the matcher is already built`), and they answer the readiness path
// with the UI's page, so polling them kills them and then reads a page as "ready". Which release the new container
// runs is not something the bot can know beforehand (an upgrade goes to a release it has never talked to; a rollback
// goes back to one it may not have inspected), and the line costs nothing on newer releases: they log it too, at the
// end of init, right before `/.checkstack/ready` can say 200. So the bot sends nothing until the line, then learns the
// release's era from its first answer. Restore drills use the same rule (CONTRACT: "logs `Checkstack Core
// initialized` (and answers `/.checkstack/ready` 200 where the release has it)").
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors.js';
import type { Deployer, RuntimeState } from '../targets/deployer.js';
import { readinessTimeoutReason } from '../slack/readiness-words.js';
import { INITIALIZED_LOG_TEXT, isReadyUnknown, type CheckstackClient, type ReadyAnswer, type ReadyUnknown, type UiAnswer } from './client.js';

export const DEFAULT_READY_POLL_MS = 2_000;
const MIN_READY_POLL_MS = 250;

export { INITIALIZED_LOG_TEXT } from './client.js';

/** The platform side of the wait: the instance's log and its state. */
export type InstanceLogs = Pick<Deployer, 'followLogs' | 'state'>;

/** No answer at all: the container is restarting, the port is closed, a proxy answers 502. */
export interface ReadyUnreachable {
  status: null;
  ready: false;
  unreachable: string;
  checks: [];
}

/** Nothing is asked yet: the instance has not logged `Checkstack Core initialized`. */
export interface AwaitingInitLog {
  status: null;
  ready: false;
  awaitingLog: true;
  /** Log lines seen since the instance started. */
  linesSeen: number;
  checks: [];
}

export type ReadyProgress = ReadyAnswer | ReadyUnreachable | AwaitingInitLog;

export type WaitForReadyResult =
  | { readyAt: Date; answer: ReadyAnswer }
  /** A release without the readiness endpoint: initialized by its log, alive by `GET /`; readiness itself unknown. */
  | { unknown: true; readyAt: Date; answer: ReadyUnknown; ui: UiAnswer };

export interface WaitForReadyOptions {
  client: Pick<CheckstackClient, 'ready' | 'ui' | 'name'>;
  /** Where `Checkstack Core initialized` is looked for; nothing is sent to `client` before it. */
  logs: InstanceLogs;
  timeoutMs: number;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Every answer that is not ready yet; the caller coalesces them for Slack. */
  onProgress?: (answer: ReadyProgress) => void | Promise<void>;
  /** Between polls when the server sends no Retry-After, and between looks at a log that ended (a restart). */
  pollIntervalMs?: number;
  /** The bot shutting down: stops following the log at once. */
  signal?: AbortSignal;
  logger?: Logger;
}

export async function waitForReady(options: WaitForReadyOptions): Promise<WaitForReadyResult> {
  const { client, timeoutMs, now, sleep, pollIntervalMs = DEFAULT_READY_POLL_MS } = options;
  const deadline = now().getTime() + timeoutMs;
  const initializedAt = await waitForInitLog(options, deadline);

  let polls = 0;
  for (;;) {
    polls += 1;
    const answer = await pollOnce(() => client.ready());
    if (!('unreachable' in answer) && isReadyUnknown(answer)) {
      return { unknown: true, readyAt: initializedAt, answer, ui: await waitForUi(options, deadline, answer) };
    }
    if (!('unreachable' in answer) && answer.status === 200 && answer.ready) return { readyAt: now(), answer };

    await report(options, answer);
    const remaining = deadline - now().getTime();
    if (remaining <= 0) {
      const reason = readinessTimeoutReason({ phase: 'ready', timeoutMs, polls, lastAnswer: answer });
      throw new AppError('readiness_timeout', `${client.name} ${reason}`, { target: client.name, timeoutMs, polls, lastAnswer: answer, phase: 'ready', reason });
    }
    const retryAfterMs = 'retryAfterSeconds' in answer && answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : undefined;
    // A floor keeps `Retry-After: 0` from turning the wait into a busy loop.
    await sleep(Math.min(Math.max(retryAfterMs ?? pollIntervalMs, MIN_READY_POLL_MS), remaining));
  }
}

/**
 * Follows the instance's log from its current run until the init line; a log that ends (the container stopped or
 * restarts) is followed again. The deadline is wall-clock time, like the log stream itself.
 */
async function waitForInitLog(options: WaitForReadyOptions, deadline: number): Promise<Date> {
  const { client, logs, timeoutMs, now, sleep, pollIntervalMs = DEFAULT_READY_POLL_MS, signal, logger } = options;
  let linesSeen = 0;
  let lastLogError: string | null = null;
  for (;;) {
    try {
      const since = currentRunSince(await logs.state());
      await report(options, { status: null, ready: false, awaitingLog: true, linesSeen, checks: [] });
      const seen = await followUntilInitialized(logs, since, deadline - now().getTime(), signal, () => void (linesSeen += 1));
      if (seen) {
        logger?.info({ target: client.name, linesSeen }, 'checkstack logged that its core is initialized');
        return now();
      }
      lastLogError = null;
    } catch (err) {
      // A pod between two containers has no log to follow yet; the deadline bounds how long that may last.
      if (!isAppError(err)) throw err;
      lastLogError = err.message;
      logger?.info({ target: client.name, err: err.message }, 'could not follow the instance log yet');
    }
    // Not an AppError: the runner reads a plain error under an aborted signal as "interrupted, resume on restart".
    if (signal?.aborted) throw new Error('the wait for the init log line was interrupted: the bot is shutting down');
    const remaining = deadline - now().getTime();
    if (remaining <= 0) {
      const state = await logs.state().catch(() => null);
      const reason = readinessTimeoutReason({ phase: 'log', timeoutMs, linesSeen, state, logError: lastLogError });
      throw new AppError('readiness_timeout', `${client.name} ${reason}`, { target: client.name, timeoutMs, linesSeen, state, phase: 'log', reason });
    }
    // The log ended: the instance stopped. Look again once it had time to restart.
    await sleep(Math.min(pollIntervalMs, remaining));
  }
}

/**
 * Where the current run's log begins: after the previous run ended, or the whole log of an instance that never
 * stopped. Not the start time: a process can print before the engine records that it started (Docker's `StartedAt`
 * is set after the process runs), and the init line of a fast start would be cut off.
 */
function currentRunSince(state: RuntimeState): Date {
  const finished = state.finishedAt ? Date.parse(state.finishedAt) : Number.NaN;
  return Number.isNaN(finished) ? new Date(0) : new Date(finished);
}

/** True when the init line came; false when the log ended or `withinMs` passed first. */
async function followUntilInitialized(logs: InstanceLogs, since: Date, withinMs: number, signal: AbortSignal | undefined, onLine: () => void): Promise<boolean> {
  if (withinMs <= 0 || signal?.aborted) return false;
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => stop.abort(), withinMs);
  let seen = false;
  try {
    await logs.followLogs(
      since,
      (line) => {
        if (seen) return;
        onLine();
        if (line.text.includes(INITIALIZED_LOG_TEXT)) {
          seen = true;
          stop.abort();
        }
      },
      stop.signal,
    );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onOuterAbort);
  }
  return seen;
}

/** A release without the readiness endpoint: after its init line, `GET /` must answer (any status; the post-flight judges the page). */
async function waitForUi(options: WaitForReadyOptions, deadline: number, readyAnswer: ReadyUnknown): Promise<UiAnswer> {
  const { client, timeoutMs, now, sleep, pollIntervalMs = DEFAULT_READY_POLL_MS } = options;
  for (;;) {
    const answer = await pollOnce(() => client.ui());
    if (!('unreachable' in answer)) return answer;
    await report(options, answer);
    const remaining = deadline - now().getTime();
    if (remaining <= 0) {
      const reason = readinessTimeoutReason({ phase: 'ui', timeoutMs, lastAnswer: answer });
      throw new AppError('readiness_timeout', `${client.name} ${reason}`, { target: client.name, timeoutMs, readyAnswer, phase: 'ui', reason });
    }
    await sleep(Math.min(Math.max(pollIntervalMs, MIN_READY_POLL_MS), remaining));
  }
}

async function report(options: WaitForReadyOptions, answer: ReadyProgress): Promise<void> {
  try {
    await options.onProgress?.(answer);
  } catch (err) {
    // Reporting progress is best effort; a failed Slack update must not end the wait.
    options.logger?.warn({ err, target: options.client.name }, 'readiness progress report failed');
  }
}

async function pollOnce<T>(ask: () => Promise<T>): Promise<T | ReadyUnreachable> {
  try {
    return await ask();
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
