// The audit log: every slash command and button click, who, what, when and the outcome.
import type { Pool } from './pool.js';

export interface AuditEntry {
  userId: string;
  channelId: string | null;
  kind: 'command' | 'action' | 'webhook' | 'job';
  action: string;
  detail: Record<string, unknown>;
  outcome: 'ok' | 'refused' | 'error';
  errorCode?: string | null;
  referenceId?: string | null;
  upgradeId?: string | null;
}

export interface AuditRow extends AuditEntry {
  id: string;
  at: Date;
}

/**
 * One prepared statement for one row or many: the columns go as arrays. Parsed and planned once per connection, so
 * the INSERT after every interaction costs Postgres and the bot as little as it can.
 */
const INSERT_ROWS = {
  name: 'audit_log_insert_rows',
  text: `INSERT INTO audit_log (user_id, channel_id, kind, action, detail, outcome, error_code, reference_id, upgrade_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::text[], $9::text[])`,
};
const MAX_BATCH = 200;

type AuditValues = [string, string | null, string, string, string, string, string | null, string | null, string | null];

interface PendingRow {
  values: AuditValues;
  resolve(): void;
  reject(err: unknown): void;
}

export function createAuditLog(pool: Pool) {
  // Rows recorded while an INSERT is on its way wait for it and go together in the next one: under a burst of
  // interactions that is one round trip and one commit for many rows instead of one each. With nothing in flight a
  // row goes at once. Each `record` still resolves only once its own row is stored.
  let pending: PendingRow[] = [];
  let flushing = false;

  async function insert(rows: AuditValues[]): Promise<void> {
    const columns = Array.from({ length: 9 }, (_, i) => rows.map((row) => row[i]));
    await pool.query({ ...INSERT_ROWS, values: columns });
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (pending.length > 0) {
        const batch = pending.length <= MAX_BATCH ? pending : pending.slice(0, MAX_BATCH);
        pending = pending.length <= MAX_BATCH ? [] : pending.slice(MAX_BATCH);
        try {
          await insert(batch.map((row) => row.values));
          for (const row of batch) row.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // One row Postgres refuses must not cost the others theirs: each again on its own.
          await Promise.all(batch.map((row) => insert([row.values]).then(row.resolve, row.reject)));
        }
      }
    } finally {
      flushing = false;
    }
  }

  return {
    record(entry: AuditEntry): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const values: AuditValues = [entry.userId, entry.channelId, entry.kind, entry.action, JSON.stringify(entry.detail), entry.outcome, entry.errorCode ?? null, entry.referenceId ?? null, entry.upgradeId ?? null];
        pending.push({ values, resolve, reject });
        if (!flushing) void flush();
      });
    },
    /** Who last did `action` (successfully) on an upgrade, e.g. who pressed "Stop log watch". */
    async lastActor(upgradeId: string, action: string): Promise<string | null> {
      const { rows } = await pool.query<{ user_id: string }>(
        `SELECT user_id FROM audit_log WHERE upgrade_id = $1 AND action = $2 AND outcome = 'ok' ORDER BY id DESC LIMIT 1`,
        [upgradeId, action],
      );
      return rows[0]?.user_id ?? null;
    },
    async recent(limit = 50): Promise<AuditRow[]> {
      const { rows } = await pool.query(
        `SELECT id, at, user_id, channel_id, kind, action, detail, outcome, error_code, reference_id, upgrade_id
         FROM audit_log ORDER BY id DESC LIMIT $1`,
        [limit],
      );
      return rows.map((r) => ({
        id: String(r.id),
        at: r.at,
        userId: r.user_id,
        channelId: r.channel_id,
        kind: r.kind,
        action: r.action,
        detail: r.detail,
        outcome: r.outcome,
        errorCode: r.error_code,
        referenceId: r.reference_id,
        upgradeId: r.upgrade_id,
      }));
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
