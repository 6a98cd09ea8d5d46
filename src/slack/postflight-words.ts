// The words of the Post-flight step: each check's reply in the thread, the step's count of outcomes, the failure
// reason, and what the runner says of a check it could not run. Most checks' details come from the evaluations
// in src/domain/postflight.ts, clipped there by `checkDetail`.
import type { CheckResult } from '../domain/postflight.js';
import { outside } from './clip.js';
import { durationText } from './step-words.js';

/** Characters of what Checkstack says (a check's detail) a thread line shows. */
const CHECKSTACK_SHOWN = 1500;

const OUTCOME_ICON: Record<CheckResult['outcome'], string> = {
  pass: '✅',
  warn: '⚠️',
  fail: '❌',
  skipped: '⏭️',
  nothing_to_verify: '➖',
};

/** One post-flight check's reply in the thread. */
export function postflightResultText(result: CheckResult, durationMs: number): string {
  return `${OUTCOME_ICON[result.outcome]} *${result.name}*: ${outside(result.detail, CHECKSTACK_SHOWN)} (${durationText(durationMs)})`;
}

/** The Post-flight step's detail: how many checks ended how. */
export function postflightDetail(results: CheckResult[]): string {
  const counts = (o: CheckResult['outcome']) => results.filter((r) => r.outcome === o).length;
  return `${counts('pass')} passed, ${counts('warn')} warning(s), ${counts('fail')} failed, ${counts('skipped') + counts('nothing_to_verify')} not verifiable`;
}

/** The failure reason of an upgrade whose post-flight checks failed. */
export function postflightFailedReason(detail: string): string {
  return `post-flight checks failed (${detail})`;
}

/** A check that threw something no one foresaw: its message may say anything, so the thread shows none. */
export const CHECK_CRASHED_DETAIL = "the check itself crashed; the details are in the bot's log";

/** The healthchecks check where the catalog is empty to the caller. */
export const NO_SYSTEMS_DETAIL = 'no systems in the catalog';
export const NO_SYSTEMS_VISIBLE_DETAIL = 'no systems visible in the catalog (an API key without access rules also sees none)';

/** The healthchecks check watched anonymously because the API key sees no systems. */
export function watchedAnonymouslyDetail(publicSystems: number, watchedDetail: string): string {
  return `API key lacks permissions: it sees no systems, anonymous callers see ${publicSystems}; anonymously, ${watchedDetail}`;
}
