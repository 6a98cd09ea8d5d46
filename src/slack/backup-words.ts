// Every word about backups a Slack user reads: the checklist's backup check, the result of `/checkstack backup`,
// the Backup step in an upgrade's thread and the line of `/checkstack status`. Facts in, text out.
import type { BackupFreshness, BackupRecord } from '../domain/backup.js';
import { escapeMrkdwn, outside } from './clip.js';

/** Hex characters of a dump's SHA-256 shown: enough to compare with `sha256sum`, short enough to read. */
export const CHECKSUM_SHOWN = 12;

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** `3 min`, `5 h 20 min`, `2 d 4 h`: an age a person reads at a glance. */
export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  const days = Math.floor(hours / 24);
  return `${days} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

function fileName(record: Pick<BackupRecord, 'file'>): string {
  return record.file.split('/').pop() ?? record.file;
}

/** `prod-0.30.0-20261204T100000Z.dump, 12.3 MB, sha256 1a2b3c4d5e6f…` */
export function backupFacts(record: BackupRecord): string {
  return `\`${outside(fileName(record), 120)}\`, ${formatSize(record.bytes)}, sha256 \`${record.sha256.slice(0, CHECKSUM_SHOWN)}…\``;
}

/** The checklist's backup item, checked by the bot: its title and the detail line. */
export const BACKUP_CHECK_TITLE = 'A recent database backup exists';

export function backupCheckDetail(freshness: BackupFreshness, maxAgeMs: number, target: string): string {
  const command = `/checkstack backup ${target}`;
  switch (freshness.state) {
    case 'none':
      return `no backup yet: type \`${command}\`; Start stays refused until one newer than ${formatAge(maxAgeMs)} exists`;
    case 'fresh':
      return `the newest is ${formatAge(freshness.ageMs)} old: ${backupFacts(freshness.record)}`;
    case 'stale':
      return `the newest is ${formatAge(freshness.ageMs)} old, older than the ${formatAge(maxAgeMs)} allowed: ${backupFacts(freshness.record)}. Type \`${command}\`; Start stays refused until then`;
  }
}

/** Why Start is refused while the backup check does not hold. */
export function backupStartRefusal(freshness: BackupFreshness, maxAgeMs: number, target: string): string {
  const newest = freshness.state === 'none' ? 'there is no backup yet' : `the newest backup is ${formatAge(freshness.ageMs)} old`;
  return `Nothing started: the checklist's backup item needs a backup newer than ${formatAge(maxAgeMs)}, and ${newest}. Type \`/checkstack backup ${target}\`, then press *Start upgrade* again. (The upgrade also takes a fresh backup as its own step.)`;
}

export function backupQueuedReply(target: string): string {
  return `Backup of \`${escapeMrkdwn(target)}\` started: the result will be posted in this channel.`;
}

export function backupTakenText(record: BackupRecord, requestedBy: string, durationMs: number, removed: number): string {
  const rows = Object.values(record.tables).reduce((a, b) => a + b, 0);
  const retention = removed > 0 ? ` Retention removed ${removed} older backup${removed === 1 ? '' : 's'}.` : '';
  return `✅ Backup of *${escapeMrkdwn(record.target)}* (\`${outside(record.version, 40)}\`) taken for <@${requestedBy}> in ${(durationMs / 1000).toFixed(1)} s: ${backupFacts(record)}, ${Object.keys(record.tables).length} tables, ${rows} rows.${retention}`;
}

export function backupFailedText(target: string, requestedBy: string, reason: string): string {
  return `❌ Backup of *${escapeMrkdwn(target)}* for <@${requestedBy}> failed: ${outside(reason, 1500)}`;
}

/** The finished line of the upgrade's Backup step. */
export function backupStepDetail(record: BackupRecord): string {
  return `${backupFacts(record)}, taken on ${outside(record.version, 40)}, ${Object.keys(record.tables).length} tables`;
}

export function backupStepProgress(bytes: number): string {
  return `⏳ *Backup*: ${formatSize(bytes)} written`;
}

/** The line of `/checkstack status` for a target with `backup`. */
export function backupStatusLine(freshness: BackupFreshness, maxAgeMs: number): string {
  switch (freshness.state) {
    case 'none':
      return '⚠️ Backup: none yet.';
    case 'fresh':
      return `Backup: ${formatAge(freshness.ageMs)} old (${backupFacts(freshness.record)}).`;
    case 'stale':
      return `⚠️ Backup: ${formatAge(freshness.ageMs)} old, *stale* (older than ${formatAge(maxAgeMs)}; ${backupFacts(freshness.record)}).`;
  }
}

/** A backup or drill that failed for a reason the bot did not foresee: a reference, never the raw error. */
export function unexpectedJobReason(referenceId: string): string {
  return `unexpected error; give an operator the reference \`${referenceId}\` (the details are in the bot's log).`;
}
