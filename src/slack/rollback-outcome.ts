// What a failed rollback leaves behind, in words: its upgrade has its status again, and the target runs what it runs.
import type { ChecklistItem, UpgradeStatus } from '../domain/checklist.js';
import { formatAge } from './backup-words.js';

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

/** `2026-12-04 15:30 UTC`: a backup's time as every approver reads it, whatever their time zone. */
function utcMinute(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The checklist item of **Restore and roll back**: what it does, and in plain words what is lost (everything
 * written since the pre-upgrade backup, with its time in UTC and how long ago that is).
 */
export function restoreRollbackItem(backup: { startedAt: string; version: string }, now: Date): Omit<ChecklistItem, 'id'> {
  const at = new Date(backup.startedAt);
  return {
    title: `Restore and roll back: data written since ${utcMinute(at)} (${formatAge(Math.max(0, now.getTime() - at.getTime()))} ago) will be lost`,
    why:
      `A release in the upgraded range ran a destructive migration, so the bot stops the new container, restores the backup of ${backup.version} ` +
      `taken before the upgrade into the live database, then starts the previous version. Every check result, change and setting written since ` +
      `${utcMinute(at)} is gone afterwards. Two different approvers must confirm this checklist.`,
  };
}

/** The rollback notice's second line for Restore and roll back (its first item says since when data is lost). */
export function restoreRollbackNotice(): string {
  return '⚠️ *Restore and roll back*: the bot stops the new container, restores the backup taken before the upgrade into the live database, then starts the previous version. *Data written since that backup will be lost* (its time is in the first item). Two different approvers must confirm.';
}

/** The Roll back step's detail when it restored the database first. */
export function restoredStepDetail(file: string, restoreMs: number, rolledBack: string): string {
  return `restored ${file} into the live database (${formatAge(restoreMs)}), then ${rolledBack}`;
}

/** The Roll back step's progress line while the live database is restored. */
export function restoreProgress(file: string): string {
  return `⏳ *Roll back*: the new version is stopped; restoring ${file} into the live database (one transaction: a failure changes nothing)…`;
}
