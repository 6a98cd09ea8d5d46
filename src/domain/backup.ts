// Backups of a target's Checkstack database, as files and as policy: the `backup` and `drill` blocks of a target,
// the record written beside each dump (the `.json` of ../shared/CONTRACT.md), dump names, freshness and retention.
// Pure: the catalog in src/backup/ reads the files, this decides what they mean.
import { z } from 'zod';
import { durationSchema } from './durations.js';

export const DEFAULT_BACKUP_KEEP = 10;
export const DEFAULT_BACKUP_MAX_AGE = '24h';

/** The `backup` block of a target; `maxAge` comes out in milliseconds. */
export const backupConfigSchema = z
  .object({
    /** The name of the env var that holds Checkstack's database URL: the URL itself never enters the config. */
    databaseUrlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name, such as CHECKSTACK_PROD_DATABASE_URL'),
    dir: z.string().min(1).refine((d) => d.startsWith('/'), 'must be an absolute path, such as /backups'),
    keep: z.number().int().min(1).max(1000).default(DEFAULT_BACKUP_KEEP),
    maxAge: durationSchema({ plainNumbers: 'refuse', minMs: 60_000, example: '24h' }).prefault(DEFAULT_BACKUP_MAX_AGE),
  })
  .strict();
export type BackupConfig = z.output<typeof backupConfigSchema>;

/** The `drill` block of a target; `every` (milliseconds) is absent for drills on demand only. */
export const drillConfigSchema = z
  .object({
    every: durationSchema({ plainNumbers: 'refuse', minMs: 3_600_000, example: '90d' }).optional(),
  })
  .strict();
export type DrillConfig = z.output<typeof drillConfigSchema>;

const isoTime = z.iso.datetime({ offset: true });

/** The `.json` beside each dump, exactly as CONTRACT.md specifies it (`backup --json` prints it too). */
export const backupRecordSchema = z
  .object({
    target: z.string().min(1),
    version: z.string().min(1),
    /** Absolute path of the dump as it was written. The catalog finds the dump beside the `.json`, by its base name. */
    file: z.string().min(1),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    startedAt: isoTime,
    finishedAt: isoTime,
    /** `SHOW server_version` of the server the dump was taken from. */
    serverVersion: z.string().min(1),
    /** Exact row counts per `<schema>.<table>`, taken in the dump's snapshot. */
    tables: z.record(z.string(), z.number().int().nonnegative()),
  })
  .strict();
export type BackupRecord = z.output<typeof backupRecordSchema>;

/** `20261204T153000Z`: the UTC time in a dump's name, sortable as text. */
export function compactUtc(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** `<target>-<version>-<UTC yyyymmddThhmmssZ>`: the name of a dump without its `.dump`/`.json` extension. */
export function backupStem(target: string, version: string, startedAt: Date): string {
  return `${target}-${version}-${compactUtc(startedAt)}`;
}

/** Newest first by `startedAt`, then by file name (two dumps in one second stay in a stable order). */
export function newestFirst<T extends Pick<BackupRecord, 'startedAt' | 'file'>>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || (a.file < b.file ? 1 : a.file > b.file ? -1 : 0));
}

/** The backups retention deletes: all but the newest `keep`. */
export function retentionVictims<T extends Pick<BackupRecord, 'startedAt' | 'file'>>(records: readonly T[], keep: number): T[] {
  return newestFirst(records).slice(keep);
}

export type BackupFreshness =
  | { state: 'none' }
  | { state: 'fresh'; record: BackupRecord; ageMs: number }
  | { state: 'stale'; record: BackupRecord; ageMs: number; maxAgeMs: number };

/** Whether the newest backup satisfies the checklist's backup item: one newer than `maxAge` (by when it finished). */
export function backupFreshness(newest: BackupRecord | null, now: Date, maxAgeMs: number): BackupFreshness {
  if (!newest) return { state: 'none' };
  const ageMs = Math.max(0, now.getTime() - Date.parse(newest.finishedAt));
  return ageMs <= maxAgeMs ? { state: 'fresh', record: newest, ageMs } : { state: 'stale', record: newest, ageMs, maxAgeMs };
}

export type DrillFreshness =
  | { state: 'none' }
  | { state: 'recent'; ageMs: number }
  | { state: 'overdue'; ageMs: number; everyMs: number };

/** Whether the last drill is within the cadence: overdue when older than `drill.every` (never, for drills on demand only). */
export function drillFreshness(lastFinishedAt: Date | null, now: Date, everyMs: number | null): DrillFreshness {
  if (!lastFinishedAt) return { state: 'none' };
  const ageMs = Math.max(0, now.getTime() - lastFinishedAt.getTime());
  return everyMs !== null && ageMs > everyMs ? { state: 'overdue', ageMs, everyMs } : { state: 'recent', ageMs };
}
