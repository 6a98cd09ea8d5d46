// Every word about restore drills a Slack user reads: the reply to `/checkstack drill`, the result posted in the
// channel (on demand or on `drill.every`) and the line of `/checkstack status`. Facts in, text out.
import type { DrillFreshness } from '../domain/backup.js';
import { formatAge } from './backup-words.js';
import { escapeMrkdwn, outside } from './clip.js';

/** Mismatched tables named in a message; the rest are counted. */
export const MISMATCHES_SHOWN = 5;

export interface DrillFacts {
  target: string;
  backup: string;
  tables: number;
  passed: boolean;
  mismatches: Array<{ table: string; expected: number | null; restored: number | null }>;
  mismatchCount: number;
  durationMs: number;
  /** Why it failed when that was not (only) the row counts: the restore, the checksum, the throwaway Checkstack. */
  failure?: 'checksum' | 'restore' | 'row_counts' | 'instance' | null;
  reason?: string | null;
  /** Whether a throwaway Checkstack was tried (Docker targets) and started. */
  instanceChecked?: boolean;
  started?: boolean;
}

function by(requestedBy: string | null): string {
  return requestedBy ? ` for <@${requestedBy}>` : ' (scheduled)';
}

function side(rows: number | null): string {
  return rows === null ? 'no such table' : `${rows} rows`;
}

export function drillQueuedReply(target: string): string {
  return `Restore drill of \`${escapeMrkdwn(target)}\` started: the newest backup is restored into a throwaway database and every table's row count compared. The result will be posted in this channel.`;
}

export function drillResultText(result: DrillFacts, requestedBy: string | null): string {
  const seconds = (result.durationMs / 1000).toFixed(1);
  const dump = `\`${outside(result.backup, 120)}\``;
  if (result.passed) {
    const instance = result.instanceChecked && result.started ? ', and a throwaway Checkstack started on it' : '';
    return `✅ Restore drill of *${escapeMrkdwn(result.target)}*${by(requestedBy)} passed in ${seconds} s: ${dump} restored, all ${result.tables} tables have the row counts of the backup${instance}.`;
  }
  if (result.failure && result.failure !== 'row_counts' && result.mismatchCount === 0) {
    return `❌ Restore drill of *${escapeMrkdwn(result.target)}*${by(requestedBy)} failed in ${seconds} s (${dump}): ${outside(result.reason ?? 'see the bot log.', 1500)}`;
  }
  const shown = result.mismatches.slice(0, MISMATCHES_SHOWN).map((m) => `• \`${outside(m.table, 120)}\`: backup ${side(m.expected)}, restored ${side(m.restored)}`);
  const more = result.mismatchCount > shown.length ? [`…and ${result.mismatchCount - shown.length} more`] : [];
  return [
    `❌ Restore drill of *${escapeMrkdwn(result.target)}*${by(requestedBy)} failed in ${seconds} s: ${dump} restored, but ${result.mismatchCount} of ${result.tables} tables do not have the row counts of the backup:`,
    ...shown,
    ...more,
  ].join('\n');
}

export function drillFailedText(target: string, requestedBy: string | null, reason: string): string {
  return `❌ Restore drill of *${escapeMrkdwn(target)}*${by(requestedBy)} failed: ${outside(reason, 1500)}`;
}

/** The line of `/checkstack status` for a target with `backup`: the last drill's result and age. */
export function drillStatusLine(last: { passed: boolean } | null, freshness: DrillFreshness): string {
  if (freshness.state === 'none' || !last) return '⚠️ Restore drill: none yet (`/checkstack drill`).';
  const result = last.passed ? 'passed' : '*failed*';
  const flag = last.passed && freshness.state === 'recent' ? '' : '⚠️ ';
  const overdue = freshness.state === 'overdue' ? `, *overdue* (older than ${formatAge(freshness.everyMs)})` : '';
  return `${flag}Restore drill: ${result} ${formatAge(freshness.ageMs)} ago${overdue}.`;
}

/** The reason recorded and posted for a drill a shutdown stopped. */
export const DRILL_INTERRUPTED_REASON = 'the bot was shutting down, so the drill was stopped (its throwaway database is dropped at the next start); run it again.';
