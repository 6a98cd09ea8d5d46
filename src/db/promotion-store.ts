// The promotion gate's facts, read from the upgrades the bot ran: which version ran on which target, from when to
// when, and how it went; and the override confirmations of a request.
import type { OverrideConfirmation, VersionRun } from '../domain/promotion.js';
import { inTransaction } from './checked-out-client.js';
import type { Pool } from './pool.js';

/**
 * One row per upgrade that got its new version running (or ended): it ran from the moment it became ready (its end,
 * when it never did) until the next upgrade or rollback of the same target had its own version running.
 */
const RUNS = `SELECT u.id, u.target, u.to_version, u.status, u.outcome, u.step,
    coalesce(u.ready_at, u.finished_at, u.started_at, u.created_at) AS since,
    (SELECT min(coalesce(n.ready_at, n.finished_at)) FROM upgrades n
      WHERE n.target = u.target AND n.id <> u.id AND coalesce(n.ready_at, n.finished_at) > coalesce(u.ready_at, u.finished_at, u.started_at, u.created_at)
        AND (n.ready_at IS NOT NULL OR (n.kind = 'rollback' AND n.status = 'succeeded'))) AS until
  FROM upgrades u
  WHERE u.kind = 'upgrade' AND ($1::text[] IS NULL OR u.target = ANY($1::text[]))
    AND (u.status IN ('succeeded', 'failed', 'rolling_back', 'rolled_back') OR (u.status = 'running' AND u.ready_at IS NOT NULL))
  ORDER BY since`;

function toRun(r: Record<string, unknown>): VersionRun {
  const status = r.status as string;
  const outcome = r.outcome as string | null;
  // The job ends an upgrade whose post-flight checks failed as failed in that step: the upgrade itself went through.
  if (status === 'failed' && r.step === 'postflight') {
    return { target: r.target as string, version: r.to_version as string, since: r.since as Date, until: (r.until as Date | null) ?? null, result: 'succeeded', postflight: 'failed', upgradeId: r.id as string };
  }
  return {
    target: r.target as string,
    version: r.to_version as string,
    since: r.since as Date,
    until: (r.until as Date | null) ?? null,
    result: status === 'rolled_back' || status === 'rolling_back' ? 'rolled_back' : status === 'failed' ? 'failed' : 'succeeded',
    postflight: outcome === 'succeeded' ? 'passed' : outcome === 'succeeded_with_warnings' ? 'warnings' : outcome === 'failed' ? 'failed' : 'pending',
    upgradeId: r.id as string,
  };
}

export function createPromotionStore(pool: Pool) {
  return {
    /** The runs on these targets (every target when omitted), oldest first. */
    async runs(targets?: string[]): Promise<VersionRun[]> {
      const { rows } = await pool.query(RUNS, [targets ?? null]);
      return rows.map(toRun);
    },

    async overrides(upgradeId: string): Promise<OverrideConfirmation[]> {
      const { rows } = await pool.query(`SELECT user_id, at FROM promotion_overrides WHERE upgrade_id = $1 ORDER BY at, user_id`, [upgradeId]);
      return rows.map((r) => ({ userId: r.user_id as string, at: r.at as Date }));
    },

    /**
     * Records `userId`'s override confirmation while the request is still confirming; false when `allowed` (which sees
     * the confirmations under a lock on the upgrade's row) says no or the request moved on. Two racing clicks are
     * decided one after the other, so no third confirmation is ever recorded.
     */
    async confirmOverride(upgradeId: string, userId: string, allowed: (confirmations: OverrideConfirmation[]) => boolean): Promise<boolean> {
      return inTransaction(pool, async (client) => {
        const { rowCount: confirming } = await client.query(`SELECT 1 FROM upgrades WHERE id = $1 AND status = 'confirming' FOR UPDATE`, [upgradeId]);
        const { rows } = await client.query(`SELECT user_id, at FROM promotion_overrides WHERE upgrade_id = $1 ORDER BY at, user_id`, [upgradeId]);
        if (!confirming || !allowed(rows.map((r) => ({ userId: r.user_id as string, at: r.at as Date })))) return false;
        const { rowCount } = await client.query(`INSERT INTO promotion_overrides (upgrade_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [upgradeId, userId]);
        return (rowCount ?? 0) > 0;
      });
    },
  };
}

export type PromotionStore = ReturnType<typeof createPromotionStore>;
