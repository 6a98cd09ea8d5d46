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

export function createAuditLog(pool: Pool) {
  return {
    async record(entry: AuditEntry): Promise<void> {
      await pool.query(
        `INSERT INTO audit_log (user_id, channel_id, kind, action, detail, outcome, error_code, reference_id, upgrade_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [entry.userId, entry.channelId, entry.kind, entry.action, JSON.stringify(entry.detail), entry.outcome, entry.errorCode ?? null, entry.referenceId ?? null, entry.upgradeId ?? null],
      );
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
