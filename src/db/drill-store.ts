// The restore drills the bot ran, one row each; the newest per target for `/checkstack status`.
import type { Pool } from './pool.js';

export interface DrillMismatchRow {
  table: string;
  expected: number | null;
  restored: number | null;
}

export interface DrillRow {
  target: string;
  dumpFile: string | null;
  passed: boolean;
  tables: number;
  mismatches: DrillMismatchRow[];
  /** Why a drill that did not get as far as counting failed, in plain words (never a URL). */
  error: string | null;
  startedAt: Date;
  finishedAt: Date;
}

function toRow(r: Record<string, unknown>): DrillRow {
  return {
    target: r.target as string,
    dumpFile: (r.dump_file as string | null) ?? null,
    passed: r.passed as boolean,
    tables: r.tables as number,
    mismatches: r.mismatches as DrillMismatchRow[],
    error: (r.error as string | null) ?? null,
    startedAt: r.started_at as Date,
    finishedAt: r.finished_at as Date,
  };
}

export function createDrillStore(pool: Pool) {
  return {
    async record(drill: DrillRow): Promise<void> {
      await pool.query(
        `INSERT INTO drills (target, dump_file, passed, tables, mismatches, error, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [drill.target, drill.dumpFile, drill.passed, drill.tables, JSON.stringify(drill.mismatches), drill.error, drill.startedAt, drill.finishedAt],
      );
    },
    async latest(target: string): Promise<DrillRow | null> {
      const { rows } = await pool.query(`SELECT * FROM drills WHERE target = $1 ORDER BY finished_at DESC, id DESC LIMIT 1`, [target]);
      return rows[0] ? toRow(rows[0] as Record<string, unknown>) : null;
    },
  };
}

export type DrillStore = ReturnType<typeof createDrillStore>;
