// Upgrade requests, their confirmations and job steps. Every status change is an event of the domain's state machine,
// applied as one conditional UPDATE on the statuses the table allows it from, so concurrent clicks and replicas resolve
// in the database: exactly one caller wins.
import {
  IN_FLIGHT_STATUSES,
  PREVIOUS,
  TRANSITIONS,
  UPGRADE_STATUSES,
  remembersPrevious,
  transitionsOf,
  type AutomaticCheck,
  type ChecklistItem,
  type Confirmation,
  type UpgradeEvent,
  type UpgradeStatus,
} from '../domain/checklist.js';
import type { UpgradePlan } from '../domain/upgrade-plan.js';
import { inTransaction } from './checked-out-client.js';
import type { Pool } from './pool.js';

/** Where the job recorded the pinned tag; kept so that a failure or a rollback can revert exactly that. */
export type PinRecord =
  | { kind: 'commit'; repo: string; path: string; branch: string; commitSha: string; reverted?: boolean }
  | { kind: 'pull_request'; repo: string; path: string; branch: string; number: number; url: string; merged?: boolean; reverted?: boolean }
  | { kind: 'file'; path: string; reverted?: boolean };

export interface UpgradeRecord {
  id: string;
  kind: 'upgrade' | 'rollback';
  rollbackOf: string | null;
  target: string;
  fromVersion: string;
  toVersion: string;
  requester: string;
  channelId: string;
  teamDomain: string | null;
  messageTs: string | null;
  status: UpgradeStatus;
  /** The status it had before it entered one it can return from (a rollback's upgrade: `succeeded` or `failed`). */
  previousStatus: UpgradeStatus | null;
  statusDetail: string | null;
  step: string | null;
  plan: UpgradePlan;
  items: ChecklistItem[];
  automatic: AutomaticCheck[];
  instanceId: string | null;
  imageTag: string | null;
  apiVersion: string | null;
  keyFingerprint: string | null;
  previousImage: string | null;
  pluginsBefore: { name: string; version?: string }[] | null;
  pinRecord: PinRecord | null;
  /** The dump the Backup step took before anything stopped (null: none configured, or not taken yet). */
  preUpgradeBackup: PreUpgradeBackup | null;
  logWatchUntil: Date | null;
  readyAt: Date | null;
  outcome: 'succeeded' | 'succeeded_with_warnings' | 'failed' | null;
  startedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** `--at`: when the upgrade starts once confirmed; null for one that starts when Start is pressed. */
  scheduledAt: Date | null;
  /** The reminder posted in the thread before a scheduled start. */
  scheduledReminderTs: string | null;
}

/** Which dump holds the data as the version being left wrote it: enough to find it and to check it is the same file. */
export interface PreUpgradeBackup {
  file: string;
  sha256: string;
  bytes: number;
  version: string;
  startedAt: string;
  finishedAt: string;
}

/** What a request starts with; the job and the state machine fill in the rest. */
export type NewUpgrade = Pick<
  UpgradeRecord,
  | 'id' | 'kind' | 'target' | 'fromVersion' | 'toVersion' | 'requester' | 'channelId' | 'teamDomain' | 'plan' | 'items'
  | 'automatic' | 'instanceId' | 'imageTag' | 'apiVersion' | 'keyFingerprint' | 'expiresAt'
> &
  Partial<Pick<UpgradeRecord, 'rollbackOf' | 'previousImage' | 'scheduledAt'>>;

const COLUMNS = `id, kind, rollback_of, target, from_version, to_version, requester, channel_id, team_domain, message_ts, status,
  previous_status, status_detail, step, plan, items, automatic, instance_id, image_tag, api_version, key_fingerprint, previous_image,
  plugins_before, pin_record, pre_upgrade_backup, log_watch_until, ready_at, outcome, started_by, created_at, updated_at, expires_at, queued_at, started_at, finished_at, scheduled_at, scheduled_reminder_ts`;

/** An upgrade as a list shows it: without the plan, checklist and inspection, which are large and never listed. */
export type UpgradeListing = Pick<
  UpgradeRecord,
  'id' | 'kind' | 'target' | 'fromVersion' | 'toVersion' | 'requester' | 'channelId' | 'teamDomain' | 'messageTs' | 'status' | 'statusDetail' | 'outcome' | 'createdAt' | 'scheduledAt'
>;

const LISTING_COLUMNS = `id, kind, target, from_version, to_version, requester, channel_id, team_domain, message_ts, status, status_detail, outcome, created_at, scheduled_at`;

/** A target's newest upgrade in flight. */
const ACTIVE_FOR_TARGET = `WHERE target = $1 AND status IN (${IN_FLIGHT_STATUSES.map((s) => `'${s}'`).join(', ')}) ORDER BY created_at DESC LIMIT 1`;

function toListing(r: Record<string, unknown>): UpgradeListing {
  return {
    id: r.id as string,
    kind: r.kind as UpgradeRecord['kind'],
    target: r.target as string,
    fromVersion: r.from_version as string,
    toVersion: r.to_version as string,
    requester: r.requester as string,
    channelId: r.channel_id as string,
    teamDomain: (r.team_domain as string | null) ?? null,
    messageTs: (r.message_ts as string | null) ?? null,
    status: r.status as UpgradeStatus,
    statusDetail: (r.status_detail as string | null) ?? null,
    outcome: (r.outcome as UpgradeRecord['outcome']) ?? null,
    createdAt: r.created_at as Date,
    scheduledAt: (r.scheduled_at as Date | null) ?? null,
  };
}

/**
 * An upgrade as a checklist click needs it: the listing, the deadline, the items and their confirmations (read in
 * the same statement, so one snapshot); no plan or inspection.
 */
export type ClickedUpgrade = UpgradeListing & Pick<UpgradeRecord, 'expiresAt' | 'items'> & { confirmations: Confirmation[] };

const CLICKED_COLUMNS = `${LISTING_COLUMNS}, expires_at, items`;

/** What toClicked and toRecord share: the listing, the deadline and the items. */
function toChecklist(r: Record<string, unknown>): UpgradeListing & Pick<UpgradeRecord, 'expiresAt' | 'items'> {
  return { ...toListing(r), expiresAt: r.expires_at as Date, items: r.items as ChecklistItem[] };
}

function toClicked(r: Record<string, unknown>): ClickedUpgrade {
  const itemIds = (r.confirmed_items as Confirmation['itemId'][] | null) ?? [];
  const userIds = r.confirmed_by as string[];
  const ats = r.confirmed_at as Date[];
  return { ...toChecklist(r), confirmations: itemIds.map((itemId, i) => ({ itemId, userId: userIds[i]!, at: ats[i]! })) };
}

function toRecord(r: Record<string, unknown>): UpgradeRecord {
  return {
    ...toChecklist(r),
    rollbackOf: (r.rollback_of as string | null) ?? null,
    previousStatus: (r.previous_status as UpgradeStatus | null) ?? null,
    step: (r.step as string | null) ?? null,
    plan: r.plan as UpgradePlan,
    automatic: r.automatic as AutomaticCheck[],
    instanceId: (r.instance_id as string | null) ?? null,
    imageTag: (r.image_tag as string | null) ?? null,
    apiVersion: (r.api_version as string | null) ?? null,
    keyFingerprint: (r.key_fingerprint as string | null) ?? null,
    previousImage: (r.previous_image as string | null) ?? null,
    pluginsBefore: (r.plugins_before as UpgradeRecord['pluginsBefore']) ?? null,
    pinRecord: (r.pin_record as PinRecord | null) ?? null,
    preUpgradeBackup: (r.pre_upgrade_backup as PreUpgradeBackup | null) ?? null,
    logWatchUntil: (r.log_watch_until as Date | null) ?? null,
    readyAt: (r.ready_at as Date | null) ?? null,
    startedBy: (r.started_by as string | null) ?? null,
    updatedAt: r.updated_at as Date,
    queuedAt: (r.queued_at as Date | null) ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
    scheduledReminderTs: (r.scheduled_reminder_ts as string | null) ?? null,
  };
}

const SELECT_CONFIRMATIONS = `SELECT item_id, user_id, at FROM confirmations WHERE upgrade_id = $1 ORDER BY at, item_id`;

/** The same confirmations as three parallel arrays (null when there are none), beside the upgrade's own columns. */
const SELECT_FOR_CLICK = `SELECT ${CLICKED_COLUMNS}, c.confirmed_items, c.confirmed_by, c.confirmed_at
  FROM upgrades u CROSS JOIN LATERAL (
    SELECT array_agg(item_id ORDER BY at, item_id) AS confirmed_items, array_agg(user_id ORDER BY at, item_id) AS confirmed_by,
           array_agg(at ORDER BY at, item_id) AS confirmed_at
    FROM confirmations WHERE upgrade_id = u.id
  ) c
  WHERE u.id = $1`;

function toConfirmation(r: Record<string, unknown>): Confirmation {
  return { itemId: r.item_id as Confirmation['itemId'], userId: r.user_id as string, at: r.at as Date };
}

/** Postgres' unique_violation: the partial index says the target already has an active request. */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

/** One step of a job as recorded: a step that started and has no end was interrupted (or is running). */
export interface StepRecord {
  step: string;
  outcome: string | null;
  detail: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  /** The step's own reply in the thread. */
  messageTs: string | null;
  /** Further replies it posted, by key (post-flight results by check name). */
  replies: Record<string, string>;
}

export interface TransitionChanges {
  statusDetail?: string | null;
  step?: string | null;
  startedBy?: string;
  outcome?: UpgradeRecord['outcome'];
}

/** Statuses in which an upgrade has ended: entering one records when. */
const FINISHED_STATUSES: readonly UpgradeStatus[] = ['succeeded', 'failed', 'cancelled', 'expired', 'rolled_back'];

/** What `/checkstack rollback` may find as a target's last upgrade: those a rollback starts from, and one being rolled back. */
const ROLLBACK_CANDIDATES: readonly UpgradeStatus[] = [...new Set(transitionsOf('rollback').flatMap(({ from, to }) => (to === PREVIOUS ? [from] : [from, to])))];

/** An event's row of the table as the UPDATE takes it: parallel arrays of "from" status, destination and whether to remember. */
function eventRules(event: UpgradeEvent) {
  const rules = transitionsOf(event);
  return {
    from: rules.map((rule) => rule.from),
    to: rules.map((rule) => rule.to),
    remember: rules.map((rule) => rule.to !== PREVIOUS && remembersPrevious(rule.to)),
    // Back the way it came: to a status from which some event leads to the one it leaves.
    returnable: UPGRADE_STATUSES.filter((status) => rules.some((rule) => rule.to === PREVIOUS && Object.values(TRANSITIONS[status]).includes(rule.from))),
  };
}

export function createUpgradeStore(pool: Pool) {
  /** `apply`, with an extra SQL condition on the row (`u`) for an event that needs one. */
  async function applyWhere(id: string, event: UpgradeEvent, changes: TransitionChanges, condition: string): Promise<UpgradeRecord | null> {
    const rules = eventRules(event);
    const { rows } = await pool.query(
      `UPDATE upgrades u SET
         status = CASE WHEN m.t = '${PREVIOUS}' THEN u.previous_status ELSE m.t END,
         previous_status = CASE WHEN m.remember THEN u.status ELSE u.previous_status END,
         updated_at = now(),
         status_detail = CASE WHEN $5::boolean THEN $6 ELSE u.status_detail END,
         step = CASE WHEN $7::boolean THEN $8 ELSE u.step END,
         started_by = coalesce($9, u.started_by),
         outcome = coalesce($10, u.outcome),
         queued_at = CASE WHEN m.t = 'queued' THEN now() ELSE u.queued_at END,
         started_at = CASE WHEN m.t = 'running' AND u.started_at IS NULL THEN now() ELSE u.started_at END,
         finished_at = CASE WHEN m.t = ANY($11::text[]) THEN now() ELSE u.finished_at END
       FROM unnest($2::text[], $3::text[], $4::boolean[]) AS m(f, t, remember)
       WHERE u.id = $1 AND u.status = m.f AND (m.t <> '${PREVIOUS}' OR u.previous_status = ANY($12::text[])) ${condition}
       RETURNING ${COLUMNS}`,
      [
        id, rules.from, rules.to, rules.remember,
        changes.statusDetail !== undefined, changes.statusDetail ?? null,
        changes.step !== undefined, changes.step ?? null,
        changes.startedBy ?? null, changes.outcome ?? null,
        FINISHED_STATUSES, rules.returnable,
      ],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async function byId(id: string): Promise<UpgradeRecord | null> {
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM upgrades WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  return {
    /** Inserts a new request; null when the target already has an active one. */
    async create(u: NewUpgrade): Promise<UpgradeRecord | null> {
      try {
        const { rows } = await pool.query(
          `INSERT INTO upgrades (id, kind, rollback_of, target, from_version, to_version, requester, channel_id, team_domain, status,
             plan, items, automatic, instance_id, image_tag, api_version, key_fingerprint, previous_image, expires_at, scheduled_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'confirming', $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
           RETURNING ${COLUMNS}`,
          [
            u.id, u.kind, u.rollbackOf ?? null, u.target, u.fromVersion, u.toVersion, u.requester, u.channelId, u.teamDomain,
            JSON.stringify(u.plan), JSON.stringify(u.items), JSON.stringify(u.automatic), u.instanceId, u.imageTag, u.apiVersion,
            u.keyFingerprint, u.previousImage ?? null, u.expiresAt, u.scheduledAt ?? null,
          ],
        );
        return toRecord(rows[0]);
      } catch (err) {
        if (isUniqueViolation(err)) return null;
        throw err;
      }
    },

    /** Removes a request that never reached Slack (its checklist could not be posted). */
    async discard(id: string): Promise<void> {
      await pool.query(`DELETE FROM upgrades WHERE id = $1 AND message_ts IS NULL`, [id]);
    },

    async setMessage(id: string, messageTs: string): Promise<void> {
      await pool.query(`UPDATE upgrades SET message_ts = $2, updated_at = now() WHERE id = $1`, [id, messageTs]);
    },

    byId,

    /** A clicked confirm or Start decides on this, in one round trip; the full record is read again only if something changes. */
    async forClick(id: string): Promise<ClickedUpgrade | null> {
      const { rows } = await pool.query(SELECT_FOR_CLICK, [id]);
      return rows[0] ? toClicked(rows[0]) : null;
    },

    async activeForTarget(target: string): Promise<UpgradeRecord | null> {
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM upgrades ${ACTIVE_FOR_TARGET}`, [target]);
      return rows[0] ? toRecord(rows[0]) : null;
    },

    async history(target: string, limit: number): Promise<UpgradeListing[]> {
      const { rows } = await pool.query(`SELECT ${LISTING_COLUMNS} FROM upgrades WHERE target = $1 ORDER BY created_at DESC LIMIT $2`, [target, limit]);
      return rows.map(toListing);
    },

    /**
     * What `/checkstack status` lists, in one round trip: the target's newest upgrade in flight (as activeForTarget
     * finds it) and its `limit` newest upgrades, without plans or checklists, which are large.
     */
    async statusListings(target: string, limit: number): Promise<{ active: UpgradeListing | null; recent: UpgradeListing[] }> {
      const { rows } = await pool.query(
        `(SELECT ${LISTING_COLUMNS} FROM upgrades ${ACTIVE_FOR_TARGET})
         UNION
         (SELECT ${LISTING_COLUMNS} FROM upgrades WHERE target = $1 ORDER BY created_at DESC LIMIT $2)
         ORDER BY created_at DESC`,
        [target, limit],
      );
      const listed = rows.map(toListing);
      // The upgrade in flight (at most one) is after the `limit` newest only when it is older than all of them.
      return { active: listed.find((u) => IN_FLIGHT_STATUSES.includes(u.status)) ?? null, recent: listed.slice(0, limit) };
    },

    /** The newest finished upgrade (not a rollback) of a target: what `/checkstack rollback` undoes. */
    async lastFinishedUpgrade(target: string): Promise<UpgradeRecord | null> {
      const { rows } = await pool.query(
        `SELECT ${COLUMNS} FROM upgrades WHERE target = $1 AND kind = 'upgrade' AND status = ANY($2::text[])
         ORDER BY finished_at DESC NULLS LAST, created_at DESC LIMIT 1`,
        [target, ROLLBACK_CANDIDATES],
      );
      return rows[0] ? toRecord(rows[0]) : null;
    },

    async inStatus(statuses: UpgradeStatus[]): Promise<UpgradeRecord[]> {
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM upgrades WHERE status = ANY($1::text[]) ORDER BY created_at`, [statuses]);
      return rows.map(toRecord);
    },

    /**
     * Applies `event` of the state machine: moves the upgrade along the table's transition for the status it is in
     * now, in one conditional UPDATE. Returns the updated record, or null when the event does not apply to its status
     * any more (someone else won the race, or it expired).
     */
    async apply(id: string, event: UpgradeEvent, changes: TransitionChanges = {}): Promise<UpgradeRecord | null> {
      return applyWhere(id, event, changes, '');
    },

    /**
     * Cancels a running upgrade that is still only waiting for its pull request to be merged (`withdraw`): nothing
     * has changed on the target yet. Null once the job has moved past that wait.
     */
    async cancelWhileWaitingForMerge(id: string, statusDetail: string): Promise<UpgradeRecord | null> {
      return applyWhere(id, 'withdraw', { statusDetail }, `AND u.step = 'git_record' AND u.pin_record->>'kind' = 'pull_request'`);
    },

    /**
     * Upgrades still `rolling_back` although their newest rollback has ended: the bot stopped between ending the
     * rollback and giving its upgrade the outcome. The sweep settles them.
     */
    async strandedRollbacks(): Promise<{ upgrade: UpgradeRecord; rollback: UpgradeRecord }[]> {
      const { rows } = await pool.query<{ upgrade_id: string; rollback_id: string }>(
        `SELECT u.id AS upgrade_id, r.id AS rollback_id FROM upgrades u
         CROSS JOIN LATERAL (SELECT id, status FROM upgrades WHERE rollback_of = u.id ORDER BY created_at DESC LIMIT 1) r
         WHERE u.status = 'rolling_back' AND NOT (r.status = ANY($1::text[]))`,
        [IN_FLIGHT_STATUSES],
      );
      const found = await Promise.all(rows.map(async (row) => ({ upgrade: await byId(row.upgrade_id), rollback: await byId(row.rollback_id) })));
      return found.flatMap(({ upgrade, rollback }) => (upgrade && rollback ? [{ upgrade, rollback }] : []));
    },

    /** Records what the job learned (previous image, plugins before, ready time, current step). */
    async recordJobFacts(
      id: string,
      facts: {
      previousImage?: string;
      pluginsBefore?: UpgradeRecord['pluginsBefore'];
      readyAt?: Date;
      step?: string | null;
      statusDetail?: string | null;
      pinRecord?: PinRecord;
      logWatchUntil?: Date;
      preUpgradeBackup?: PreUpgradeBackup;
    },
    ): Promise<void> {
      await pool.query(
        `UPDATE upgrades SET
           previous_image = coalesce($2, previous_image),
           plugins_before = coalesce($3::jsonb, plugins_before),
           ready_at = coalesce($4, ready_at),
           step = CASE WHEN $5::boolean THEN $6 ELSE step END,
           status_detail = CASE WHEN $7::boolean THEN $8 ELSE status_detail END,
           pin_record = coalesce($9::jsonb, pin_record),
           log_watch_until = coalesce($10, log_watch_until),
           pre_upgrade_backup = coalesce($11::jsonb, pre_upgrade_backup),
           updated_at = now()
         WHERE id = $1`,
        [
          id, facts.previousImage ?? null, facts.pluginsBefore ? JSON.stringify(facts.pluginsBefore) : null, facts.readyAt ?? null,
          facts.step !== undefined, facts.step ?? null, facts.statusDetail !== undefined, facts.statusDetail ?? null,
          facts.pinRecord ? JSON.stringify(facts.pinRecord) : null, facts.logWatchUntil ?? null,
          facts.preUpgradeBackup ? JSON.stringify(facts.preUpgradeBackup) : null,
        ],
      );
    },

    /** Records the reminder a scheduled upgrade's thread got (posted once; its Cancel button is valid there). */
    /**
     * Claims the posting of a scheduled upgrade's reminder, once: false when it was claimed before. Claimed before the
     * post, so a crash in between loses the reminder rather than posting it twice.
     */
    async claimScheduledReminder(id: string): Promise<boolean> {
      const { rowCount } = await pool.query(
        `UPDATE upgrades SET scheduled_reminder_claimed_at = now(), updated_at = now() WHERE id = $1 AND scheduled_reminder_claimed_at IS NULL`,
        [id],
      );
      return (rowCount ?? 0) > 0;
    },

    async setScheduledReminder(id: string, messageTs: string): Promise<void> {
      await pool.query(`UPDATE upgrades SET scheduled_reminder_ts = $2, updated_at = now() WHERE id = $1`, [id, messageTs]);
    },

    /**
     * Sets when the log watch ends, earlier or later (unlike recordJobFacts, which never moves a fact back):
     * stopping the watch early sets it to now. False when the upgrade does not exist.
     */
    async setLogWatchUntil(id: string, until: Date): Promise<boolean> {
      const { rowCount } = await pool.query(`UPDATE upgrades SET log_watch_until = $2, updated_at = now() WHERE id = $1`, [id, until]);
      return (rowCount ?? 0) > 0;
    },

    async confirmations(upgradeId: string): Promise<Confirmation[]> {
      const { rows } = await pool.query(SELECT_CONFIRMATIONS, [upgradeId]);
      return rows.map(toConfirmation);
    },

    /**
     * Records a confirmation while the request is still confirming; false when the item was already confirmed, the
     * request moved on, or `allowed` says no. `allowed` sees the confirmations under a lock on the upgrade's row, so
     * concurrent clicks on one checklist are decided one after another: a rule about the other confirmations (at
     * least one by a second person) holds however the clicks race. It may also throw to refuse.
     */
    async confirm(upgradeId: string, itemId: string, userId: string, allowed: (confirmations: Confirmation[]) => boolean): Promise<boolean> {
      return inTransaction(pool, async (client) => {
        const { rowCount: confirming } = await client.query(`SELECT 1 FROM upgrades WHERE id = $1 AND status = 'confirming' FOR UPDATE`, [upgradeId]);
        const { rows } = await client.query(SELECT_CONFIRMATIONS, [upgradeId]);
        if (!confirming || !allowed(rows.map(toConfirmation))) return false;
        const { rowCount } = await client.query(
          `INSERT INTO confirmations (upgrade_id, item_id, user_id) VALUES ($1, $2, $3) ON CONFLICT (upgrade_id, item_id) DO NOTHING`,
          [upgradeId, itemId, userId],
        );
        return (rowCount ?? 0) > 0;
      });
    },

    /** Steps: the job records each start and end; a step finished earlier is skipped on resume. */
    async stepStarted(upgradeId: string, step: string): Promise<void> {
      await pool.query(
        `INSERT INTO upgrade_steps (upgrade_id, step) VALUES ($1, $2)
         ON CONFLICT (upgrade_id, step) DO UPDATE SET attempt = upgrade_steps.attempt + 1, started_at = now(), finished_at = NULL, outcome = NULL, detail = NULL`,
        [upgradeId, step],
      );
      await pool.query(`UPDATE upgrades SET step = $2, updated_at = now() WHERE id = $1`, [upgradeId, step]);
    },

    async stepFinished(upgradeId: string, step: string, outcome: 'ok' | 'failed' | 'skipped', detail: string | null): Promise<void> {
      await pool.query(
        `UPDATE upgrade_steps SET finished_at = now(), outcome = $3, detail = $4 WHERE upgrade_id = $1 AND step = $2`,
        [upgradeId, step, outcome, detail],
      );
    },

    async setStepMessage(upgradeId: string, step: string, messageTs: string): Promise<void> {
      await pool.query(`UPDATE upgrade_steps SET message_ts = $3 WHERE upgrade_id = $1 AND step = $2`, [upgradeId, step, messageTs]);
    },

    /** A reply the step posted beside its own message, under `key` (a post-flight check's name). */
    async setStepReply(upgradeId: string, step: string, key: string, messageTs: string): Promise<void> {
      await pool.query(
        `UPDATE upgrade_steps SET replies = replies || jsonb_build_object($3::text, $4::text) WHERE upgrade_id = $1 AND step = $2`,
        [upgradeId, step, key, messageTs],
      );
    },

    async steps(upgradeId: string): Promise<StepRecord[]> {
      const { rows } = await pool.query(
        `SELECT step, outcome, detail, started_at, finished_at, message_ts, replies FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`,
        [upgradeId],
      );
      return rows.map((r) => ({
        step: r.step,
        outcome: r.outcome,
        detail: r.detail,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        messageTs: r.message_ts,
        replies: r.replies ?? {},
      }));
    },
  };
}

export type UpgradeStore = ReturnType<typeof createUpgradeStore>;
