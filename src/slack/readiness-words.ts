// The words of the Readiness step: its progress line, its detail when the target is ready (or readiness is unknown),
// why it failed (from the facts the wait returns), and the Re-check's "not ready now".
import type { ReadyAnswer, ReadyCheck } from '../checkstack/client.js';
import { INITIALIZED_LOG_TEXT } from '../checkstack/client.js';
import type { ReadyProgress } from '../checkstack/wait-for-ready.js';
import type { RuntimeState } from '../targets/deployer.js';
import { outside } from './clip.js';
import { stepProgressText } from './step-words.js';

/** Characters of what Checkstack says a progress line shows. */
const READINESS_SHOWN = 1500;

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** One line on why an answer is not ready, for messages and Slack. */
export function describeProgress(answer: ReadyProgress): string {
  if ('awaitingLog' in answer) {
    return `waiting for the log line \`${INITIALIZED_LOG_TEXT}\` before asking anything (${answer.linesSeen} log line${answer.linesSeen === 1 ? '' : 's'} so far)`;
  }
  if ('unreachable' in answer) return `no answer (${answer.unreachable})`;
  if (answer.reason) return `${answer.status} ${answer.reason}`;
  if (answer.error) return `${answer.status} init failed: ${answer.error}`;
  const failing = answer.checks.filter((c) => !c.ok).map((c) => (c.message ? `${c.name} (${c.message})` : c.name));
  return failing.length > 0 ? `${answer.status}, failing: ${failing.join(', ')}` : `${answer.status}, not ready`;
}

/** The Readiness step's line while it waits. */
export function readinessProgressText(answer: ReadyProgress): string {
  return stepProgressText('readiness', outside(describeProgress(answer), READINESS_SHOWN));
}

function describeState(state: RuntimeState | null): string | null {
  if (!state) return null;
  if (state.running) return state.restartCount > 0 ? `it runs, after ${state.restartCount} restarts` : 'it runs';
  if (state.restarting) return `it is restarting (${state.restartCount} restarts so far)`;
  if (state.exitCode !== null) return `it exited with code ${state.exitCode}${state.oomKilled ? ' (out of memory)' : ''}`;
  return state.error ?? 'it is not running';
}

/** Where the wait for readiness ran out of time, and what it had seen by then. */
export type ReadinessTimeout =
  /** The init line was logged, but `/.checkstack/ready` never said ready. */
  | { phase: 'ready'; timeoutMs: number; polls: number; lastAnswer: ReadyProgress }
  /** The init line never came. */
  | { phase: 'log'; timeoutMs: number; linesSeen: number; state: RuntimeState | null; logError: string | null }
  /** A release without the readiness endpoint whose `GET /` never answered. */
  | { phase: 'ui'; timeoutMs: number; lastAnswer: ReadyProgress };

/** Why the Readiness step failed: the reason its thread, the parent message and the log show. */
export function readinessTimeoutReason(t: ReadinessTimeout): string {
  if (t.phase === 'ready') {
    return `logged \`${INITIALIZED_LOG_TEXT}\` but was not ready within ${seconds(t.timeoutMs)} (${t.polls} polls; last answer: ${describeProgress(t.lastAnswer)})`;
  }
  if (t.phase === 'ui') {
    return `logged \`${INITIALIZED_LOG_TEXT}\` and has no readiness endpoint, but \`GET /\` did not answer within ${seconds(t.timeoutMs)} (last: ${describeProgress(t.lastAnswer)})`;
  }
  const facts = [`${t.linesSeen} log line${t.linesSeen === 1 ? '' : 's'} since it started`, describeState(t.state), t.logError ? `the log could not be read: ${t.logError}` : null]
    .filter(Boolean)
    .join('; ');
  return `did not log \`${INITIALIZED_LOG_TEXT}\` within ${seconds(t.timeoutMs)} (${facts}); nothing was asked over HTTP before that line`;
}

/** The Readiness step's detail when the target answered ready. */
export function readyDetail(checks: ReadyCheck[]): string {
  return `ready: ${checks.map((c) => `${c.name} ${c.ok ? 'ok' : 'failing'}`).join(', ') || 'no named checks'}`;
}

/** The Readiness step's detail for a release without `/.checkstack/ready`: initialized by its log, alive by `GET /`. */
export function readinessUnknownDetail(uiStatus: number): string {
  return `readiness unknown: this release has no /.checkstack/ready; it logged "${INITIALIZED_LOG_TEXT}" and \`GET /\` answers ${uiStatus}`;
}

/** The Re-check's reason when the target answers not ready before anything is touched. */
export function notReadyNowText(ready: ReadyAnswer): string {
  return `the target is not ready now (${ready.reason ?? ready.error ?? `HTTP ${ready.status}`})`;
}
