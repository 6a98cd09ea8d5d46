// What a restore drill decides, without doing it: the throwaway database's name, how restored row counts compare
// with the backup's record, and when a drill passes. The drill itself is src/backup/restore-drill.ts.
import { z } from 'zod';

/** How many mismatches a drill result keeps: enough to see the pattern, few enough for one Slack message. */
export const MISMATCHES_KEPT = 10;
/** Postgres truncates identifiers longer than this; a drill database must keep its whole name to be found again. */
export const MAX_DATABASE_NAME = 63;

export const DRILL_SUFFIX = '_drill_';

/** `<database>_drill_<8 hex>`: the throwaway database a drill restores into. */
export function drillDatabaseName(database: string, hex: string): string {
  return `${database}${DRILL_SUFFIX}${hex}`;
}

/** Whether `name` is a drill database of `database` (one a crashed bot may have left behind). */
export function isDrillDatabaseOf(database: string, name: string): boolean {
  const prefix = `${database}${DRILL_SUFFIX}`;
  return name.startsWith(prefix) && /^[0-9a-f]{8}$/.test(name.slice(prefix.length));
}

export interface TableMismatch {
  table: string;
  /** Rows the backup's record names; null when the table is not in the record. */
  expected: number | null;
  /** Rows in the restored database; null when the table was not restored. */
  restored: number | null;
}

/** Every table whose count differs, compared both ways, in table order; at most `limit` of them. */
export function compareRowCounts(expected: Readonly<Record<string, number>>, restored: Readonly<Record<string, number>>): TableMismatch[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(restored)])].sort();
  return tables.flatMap((table) => {
    const e = Object.hasOwn(expected, table) ? expected[table]! : null;
    const r = Object.hasOwn(restored, table) ? restored[table]! : null;
    return e === r ? [] : [{ table, expected: e, restored: r }];
  });
}

/** Why a drill failed, when it did: the first thing that went wrong. */
export type DrillFailure = 'checksum' | 'restore' | 'row_counts' | 'instance';

export const tableMismatchSchema = z.object({ table: z.string(), expected: z.number().int().nullable(), restored: z.number().int().nullable() }).strict();

/** The result of one drill: `drill --json` prints it (CONTRACT.md), the drills table keeps it, Slack words it. */
export const drillResultSchema = z
  .object({
    target: z.string(),
    /** The dump's file name. */
    backup: z.string(),
    /** The Checkstack version the backup was taken on. */
    backupVersion: z.string(),
    restoredInto: z.string(),
    /** How many tables the backup's record names. */
    tables: z.number().int().nonnegative(),
    rowsMatch: z.boolean(),
    /** The first mismatches (at most MISMATCHES_KEPT); `mismatchCount` says how many there were. */
    mismatches: z.array(tableMismatchSchema),
    mismatchCount: z.number().int().nonnegative(),
    /** Whether a throwaway Checkstack started on the restored database (false when none was tried). */
    started: z.boolean(),
    /** Whether a throwaway Checkstack was tried at all (Docker targets only). */
    instanceChecked: z.boolean(),
    passed: z.boolean(),
    failure: z.enum(['checksum', 'restore', 'row_counts', 'instance']).nullable(),
    /** The failure in plain words, with nothing secret in it. */
    reason: z.string().nullable(),
    startedAt: z.iso.datetime({ offset: true }),
    durationMs: z.number().int().nonnegative(),
  })
  .strict();
export type DrillResult = z.output<typeof drillResultSchema>;
