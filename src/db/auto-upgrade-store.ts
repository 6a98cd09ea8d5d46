// What automatic patch upgrades read and remember: the facts `decideAutoUpgrade` takes (releases, runs on the
// promotion source, pauses, cancelled versions, the scheduled upgrade, what holds a target), each in one query for
// every target at once, and the few writes that record a decision.
import type { AutoUpgradePause, BusyTarget, DeclinedAutoUpgrade, KnownRelease, ScheduledAutoUpgrade } from '../domain/auto-upgrade.js';
import { IN_FLIGHT_STATUSES } from '../domain/checklist.js';
import type { VersionRun } from '../domain/promotion.js';
import type { Pool } from './pool.js';

/** The scheduled upgrade as recorded, with where its notice is. */
export interface ScheduledRow extends ScheduledAutoUpgrade {
  target: string;
  from: string;
  channelId: string | null;
  noticeTs: string | null;
}

/** Everything the decisions of one poll read, for the targets asked about. */
export interface AutoUpgradeFacts {
  releases: KnownRelease[];
  evidence: VersionRun[];
  pauses: Map<string, AutoUpgradePause>;
  declined: Map<string, DeclinedAutoUpgrade[]>;
  busy: Map<string, BusyTarget>;
  scheduled: Map<string, ScheduledRow>;
}

const SCHEDULE_COLUMNS = `target, key, from_version, version, notice_at, start_at, notice_posted_at, channel_id, notice_ts`;

function toScheduled(r: Record<string, unknown>): ScheduledRow {
  return {
    target: r.target as string,
    key: r.key as string,
    from: r.from_version as string,
    version: r.version as string,
    noticeAt: r.notice_at as Date,
    startAt: r.start_at as Date,
    noticePostedAt: (r.notice_posted_at as Date | null) ?? null,
    channelId: (r.channel_id as string | null) ?? null,
    noticeTs: (r.notice_ts as string | null) ?? null,
  };
}

/**
 * Runs of versions on the given targets, from the upgrades the bot made there: a run starts when the upgrade became
 * ready (or ended, for one that failed before) and ends when a later upgrade or rollback of the target became ready.
 */
const EVIDENCE = `
  SELECT u.id, u.target, u.to_version, u.status, u.outcome,
         coalesce(u.ready_at, u.finished_at, u.started_at, u.created_at) AS since,
         (SELECT min(n.ready_at) FROM upgrades n WHERE n.target = u.target AND n.id <> u.id AND n.ready_at > coalesce(u.ready_at, u.finished_at, u.created_at)) AS until
  FROM upgrades u
  WHERE u.kind = 'upgrade' AND u.target = ANY($1::text[])
    AND (u.status IN ('succeeded', 'failed', 'rolling_back', 'rolled_back') OR (u.status = 'running' AND u.ready_at IS NOT NULL))`;

/**
 * The pause of each target: its newest automatic upgrade that failed, unless someone resumed after it or a manual
 * upgrade was requested since (README: "until someone types /checkstack upgrade for it or /checkstack resume").
 */
const PAUSES = `
  SELECT f.target, f.id, f.to_version, f.since FROM (
    SELECT DISTINCT ON (u.target) u.target, u.id, u.to_version, u.created_at, coalesce(u.finished_at, u.updated_at) AS since
    FROM upgrades u
    WHERE u.target = ANY($1::text[]) AND u.kind = 'upgrade' AND u.requester = $2 AND u.outcome = 'failed'
    ORDER BY u.target, u.created_at DESC
  ) f
  WHERE NOT EXISTS (SELECT 1 FROM auto_upgrade_resumes r WHERE r.upgrade_id = f.id)
    AND NOT EXISTS (SELECT 1 FROM upgrades m WHERE m.target = f.target AND m.kind = 'upgrade' AND m.requester <> $2 AND m.created_at > f.created_at)`;

function toPause(r: Record<string, unknown>): AutoUpgradePause {
  return { since: r.since as Date, cause: 'failed_upgrade', version: r.to_version as string, upgradeId: r.id as string };
}

function toRun(r: Record<string, unknown>): VersionRun {
  const status = r.status as string;
  const outcome = r.outcome as string | null;
  return {
    target: r.target as string,
    version: r.to_version as string,
    since: r.since as Date,
    until: (r.until as Date | null) ?? null,
    result: status === 'failed' ? 'failed' : status === 'rolled_back' || status === 'rolling_back' ? 'rolled_back' : 'succeeded',
    postflight: outcome === 'succeeded' ? 'passed' : outcome === 'succeeded_with_warnings' ? 'warnings' : outcome === 'failed' ? 'failed' : 'pending',
    upgradeId: r.id as string,
  };
}

export function createAutoUpgradeStore(pool: Pool, botActor: string) {
  return {
    /**
     * The facts for `targets`, with the runs of `evidenceTargets` (their `promotion.from`). Six reads and no write,
     * however many targets: a poll in which nothing changed writes nothing.
     */
    async facts(targets: readonly string[], evidenceTargets: readonly string[]): Promise<AutoUpgradeFacts> {
      const [releases, evidence, pauses, declined, busy, scheduled] = await Promise.all([
        pool.query(`SELECT version, draft, prerelease, published_at FROM releases WHERE deleted_at IS NULL`),
        evidenceTargets.length > 0 ? pool.query(EVIDENCE, [evidenceTargets]) : Promise.resolve({ rows: [] }),
        pool.query(PAUSES, [targets, botActor]),
        pool.query(`SELECT target, version, declined_by, at FROM auto_upgrade_declines WHERE target = ANY($1::text[])`, [targets]),
        pool.query(`SELECT id, target, status, to_version FROM upgrades WHERE target = ANY($1::text[]) AND status = ANY($2::text[])`, [targets, IN_FLIGHT_STATUSES]),
        pool.query(`SELECT ${SCHEDULE_COLUMNS} FROM auto_upgrade_schedules WHERE target = ANY($1::text[])`, [targets]),
      ]);
      const facts: AutoUpgradeFacts = {
        releases: releases.rows.map((r) => ({ version: r.version, draft: r.draft, prerelease: r.prerelease, publishedAt: r.published_at ?? null })),
        evidence: (evidence.rows as Record<string, unknown>[]).map(toRun),
        pauses: new Map(pauses.rows.map((r) => [r.target as string, toPause(r)])),
        declined: new Map(),
        busy: new Map(busy.rows.map((r) => [r.target, { kind: r.status === 'confirming' ? 'request' : 'running', version: r.to_version, upgradeId: r.id }])),
        scheduled: new Map(scheduled.rows.map((r) => [r.target, toScheduled(r)])),
      };
      for (const r of declined.rows) {
        const list = facts.declined.get(r.target) ?? [];
        list.push({ version: r.version, by: r.declined_by, at: r.at });
        facts.declined.set(r.target, list);
      }
      return facts;
    },

    /** The target's pause, or null when its automatic upgrades are not paused. */
    async pauseOf(target: string): Promise<AutoUpgradePause | null> {
      const { rows } = await pool.query(PAUSES, [[target], botActor]);
      return rows[0] ? toPause(rows[0]) : null;
    },

    /** Records the plan, replacing any other of the target; its notice is not posted yet. */
    async schedule(row: Omit<ScheduledRow, 'noticePostedAt' | 'noticeTs'>): Promise<void> {
      await pool.query(
        `INSERT INTO auto_upgrade_schedules (target, key, from_version, version, notice_at, start_at, channel_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (target) DO UPDATE SET key = $2, from_version = $3, version = $4, notice_at = $5, start_at = $6, channel_id = $7,
           notice_posted_at = NULL, notice_ts = NULL, created_at = now()`,
        [row.target, row.key, row.from, row.version, row.noticeAt, row.startAt, row.channelId],
      );
    },

    /** Claims the notice of `key` before posting it; false when it is no longer the scheduled plan or was claimed. */
    async claimNotice(target: string, key: string, startAt: Date, at: Date): Promise<boolean> {
      const { rowCount } = await pool.query(
        `UPDATE auto_upgrade_schedules SET notice_posted_at = $3, start_at = $4 WHERE target = $1 AND key = $2 AND notice_posted_at IS NULL`,
        [target, key, at, startAt],
      );
      return (rowCount ?? 0) > 0;
    },

    async recordNotice(target: string, key: string, channelId: string, noticeTs: string): Promise<void> {
      await pool.query(`UPDATE auto_upgrade_schedules SET channel_id = $3, notice_ts = $4 WHERE target = $1 AND key = $2`, [target, key, channelId, noticeTs]);
    },

    async scheduledFor(target: string): Promise<ScheduledRow | null> {
      const { rows } = await pool.query(`SELECT ${SCHEDULE_COLUMNS} FROM auto_upgrade_schedules WHERE target = $1`, [target]);
      return rows[0] ? toScheduled(rows[0]) : null;
    },

    /** Drops the target's plan when it is still `key`; the dropped row, or null. */
    async unschedule(target: string, key: string): Promise<ScheduledRow | null> {
      const { rows } = await pool.query(`DELETE FROM auto_upgrade_schedules WHERE target = $1 AND key = $2 RETURNING ${SCHEDULE_COLUMNS}`, [target, key]);
      return rows[0] ? toScheduled(rows[0]) : null;
    },

    async decline(target: string, version: string, by: string): Promise<void> {
      await pool.query(`INSERT INTO auto_upgrade_declines (target, version, declined_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [target, version, by]);
    },

    /** Lifts the target's pause; the lifted pause, or null when the target was not paused. */
    async resume(target: string, by: string): Promise<AutoUpgradePause | null> {
      const { rows } = await pool.query(PAUSES, [[target], botActor]);
      const pause = rows[0] ? toPause(rows[0]) : null;
      if (pause === null) return null;
      await pool.query(`INSERT INTO auto_upgrade_resumes (upgrade_id, target, resumed_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [pause.upgradeId, target, by]);
      return pause;
    },
  };
}

export type AutoUpgradeStore = ReturnType<typeof createAutoUpgradeStore>;
