// What a failed rollback leaves behind, in words: its upgrade has its status again, and the target runs what it runs.
import type { UpgradeStatus } from '../domain/checklist.js';

/** What the target runs, read after the failure; or why it could not be read. */
export type RunningNow = { name: string; image: string; tag: string | null } | { error: string };

export interface FailedRollback {
  target: string;
  /** The version the rollback was to bring back. */
  rollbackTo: string;
  /** The version the upgrade installed. */
  upgradedTo: string;
  /** The status the upgrade has again. */
  status: UpgradeStatus;
  running: RunningNow;
}

const NAME_LIMIT = 63;
const IMAGE_LIMIT = 300;
const ERROR_LIMIT = 500;

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function code(text: string, limit: number): string {
  return `\`${clip(text.replace(/`/g, "'"), limit)}\``;
}

/** The upgrade's status detail: short, the checklist message shows it. */
export function failedRollbackDetail(f: Omit<FailedRollback, 'status'>): string {
  const running = 'error' in f.running ? `what ${f.target} runs could not be read` : `${f.target} runs ${f.running.image}`;
  return `a rollback to ${f.rollbackTo} failed; ${running}`;
}

/** The reply in both threads, the upgrade's and the rollback's. */
export function failedRollbackText(f: FailedRollback): string {
  const target = code(f.target, NAME_LIMIT);
  const head = `↩️ The rollback to ${code(f.rollbackTo, NAME_LIMIT)} failed, so the upgrade to ${code(f.upgradedTo, NAME_LIMIT)} is *${f.status}* again.`;
  if ('error' in f.running) {
    return `${head} What ${target} runs now could not be read (${clip(f.running.error, ERROR_LIMIT)}): check it by hand before anything else.`;
  }
  const runs = `${head} ${target} runs ${code(f.running.image, IMAGE_LIMIT)} now (${code(f.running.name, NAME_LIMIT)}, read from the target after the failure).`;
  if (f.running.tag === f.upgradedTo) return `${runs} \`/checkstack rollback ${clip(f.target, NAME_LIMIT)}\` can try again.`;
  if (f.running.tag === f.rollbackTo) return `${runs} That is the version the rollback was to bring back, but it did not pass the checks above: find out why before anything else.`;
  return `${runs} That is neither version: check the target by hand before anything else.`;
}
