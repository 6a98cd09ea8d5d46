// The upgrade store against a real Postgres: the one-round-trip reads of a click and of a status, and the state
// machine's events as conditional updates.
import { randomUUID } from 'node:crypto';
import { runner } from 'node-pg-migrate';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, runMigrations } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createUpgradeStore, type NewUpgrade, type UpgradeStore } from '../../src/db/upgrade-store.js';
import { allows, transition, UPGRADE_EVENTS, UPGRADE_STATUSES, type UpgradeEvent, type UpgradeStatus } from '../../src/domain/checklist.js';
import type { UpgradePlan } from '../../src/domain/upgrade-plan.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const logger = pino({ level: 'silent' });

function newUpgrade(target: string, toVersion: string): NewUpgrade {
  return {
    id: randomUUID(),
    kind: 'upgrade',
    target,
    fromVersion: '0.25.0',
    toVersion,
    requester: 'U0REQUESTER',
    channelId: 'C0OPS',
    teamDomain: 'acme',
    plan: { from: '0.25.0', to: toVersion } as UpgradePlan,
    items: [
      { id: 'notes_read', title: 'Release notes read', why: 'Minor bumps break things.' },
      { id: 'backup', title: 'Fresh Postgres backup', why: 'Migrations are not reversed.' },
    ],
    automatic: [],
    instanceId: null,
    imageTag: '0.25.0',
    apiVersion: '0.25.0',
    keyFingerprint: null,
    expiresAt: new Date(Date.now() + 3_600_000),
  };
}

describe('upgrade store: one round trip per click and per status', () => {
  let database: TestDatabase;
  let pool: Pool;
  let upgrades: UpgradeStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, logger);
    pool = createPool(database.url, logger);
    upgrades = createUpgradeStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE upgrades CASCADE');
  });

  /** An upgrade that has ended, created `minutesAgo` minutes ago. */
  async function ended(target: string, toVersion: string, minutesAgo: number, status: 'succeeded' | 'cancelled' = 'succeeded') {
    const u = (await upgrades.create(newUpgrade(target, toVersion)))!;
    await pool.query(`UPDATE upgrades SET status = $2, created_at = now() - make_interval(mins => $3) WHERE id = $1`, [u.id, status, minutesAgo]);
    return u.id;
  }

  it('reads a clicked upgrade with its confirmations, oldest first, and none when nobody confirmed', async () => {
    const created = (await upgrades.create(newUpgrade('prod', '0.30.0')))!;

    const unconfirmed = await upgrades.forClick(created.id);
    expect(unconfirmed).toMatchObject({ id: created.id, status: 'confirming', items: created.items, confirmations: [] });
    expect(unconfirmed!.expiresAt).toEqual(created.expiresAt);

    expect(await upgrades.confirm(created.id, 'backup', 'U0APPROVER1', () => true)).toBe(true);
    expect(await upgrades.confirm(created.id, 'notes_read', 'U0APPROVER2', () => true)).toBe(true);
    const clicked = await upgrades.forClick(created.id);
    expect(clicked!.confirmations).toEqual(await upgrades.confirmations(created.id));
    expect(clicked!.confirmations.map((c) => [c.itemId, c.userId])).toEqual([
      ['backup', 'U0APPROVER1'],
      ['notes_read', 'U0APPROVER2'],
    ]);
    expect(clicked!.confirmations.every((c) => c.at instanceof Date)).toBe(true);

    expect(await upgrades.forClick(randomUUID())).toBeNull();
  });

  it("lists a target's newest upgrades and the one in flight, even when that one is older than all of them", async () => {
    const newest: string[] = [];
    for (let i = 0; i < 12; i += 1) newest.unshift(await ended('prod', `0.26.${i}`, 60 - i));
    await ended('staging', '0.31.0', 1);
    // Created a day before them (the store only allows it after they ended; the clock is set back here).
    const active = (await upgrades.create(newUpgrade('prod', '0.30.0')))!;
    await pool.query(`UPDATE upgrades SET created_at = now() - interval '1 day' WHERE id = $1`, [active.id]);

    const { active: found, recent } = await upgrades.statusListings('prod', 10);
    expect(found).toMatchObject({ id: active.id, status: 'confirming', toVersion: '0.30.0' });
    expect(recent.map((u) => u.id)).toEqual(newest.slice(0, 10));
    expect(recent.every((u) => u.target === 'prod')).toBe(true);
  });

  it('lists the upgrade in flight once when it is among the newest, and none when there is none', async () => {
    await ended('prod', '0.26.0', 30, 'cancelled');
    const active = (await upgrades.create(newUpgrade('prod', '0.30.0')))!;
    const withActive = await upgrades.statusListings('prod', 10);
    expect(withActive.active?.id).toBe(active.id);
    expect(withActive.recent.map((u) => u.id)).toEqual([active.id, expect.any(String)]);

    await upgrades.apply(active.id, 'cancel');
    const without = await upgrades.statusListings('prod', 10);
    expect(without.active).toBeNull();
    expect(without.recent).toHaveLength(2);
    expect(await upgrades.statusListings('nowhere', 10)).toEqual({ active: null, recent: [] });
  });
});

describe('upgrade store: every status change is an event of the state machine', () => {
  let database: TestDatabase;
  let pool: Pool;
  let upgrades: UpgradeStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, logger);
    pool = createPool(database.url, logger);
    upgrades = createUpgradeStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /** An upgrade of its own target in `status`, as the job leaves it while it waits for its pin pull request to be merged. */
  async function upgradeIn(status: UpgradeStatus, previous: UpgradeStatus | null = null) {
    const u = (await upgrades.create(newUpgrade(`target-${randomUUID()}`, '0.30.0')))!;
    await pool.query(
      `UPDATE upgrades SET status = $2, previous_status = $3, step = 'git_record', pin_record = $4 WHERE id = $1`,
      [u.id, status, previous, JSON.stringify({ kind: 'pull_request', repo: 'acme/infra', path: 'a.yml', branch: 'main', number: 7, url: 'https://github.com/acme/infra/pull/7' })],
    );
    return u.id;
  }

  async function statusOf(id: string): Promise<{ status: UpgradeStatus; previous_status: UpgradeStatus | null }> {
    const { rows } = await pool.query(`SELECT status, previous_status FROM upgrades WHERE id = $1`, [id]);
    return rows[0];
  }

  // Each status with what it may remember: a rollback's upgrade came from succeeded or failed.
  const CASES = UPGRADE_STATUSES.flatMap((status): [UpgradeStatus, UpgradeStatus | null][] =>
    status === 'rolling_back' ? [[status, 'succeeded'], [status, 'failed'], [status, null]] : [[status, null]],
  );

  it.each(CASES)('from %s (before: %s), applies exactly what the table allows for each event', async (from, previous) => {
    for (const event of UPGRADE_EVENTS) {
      const id = await upgradeIn(from, previous);
      let expected: UpgradeStatus | null = null;
      try {
        expected = transition(from, event, previous);
      } catch {
        expected = null;
      }

      const applied = await upgrades.apply(id, event, { statusDetail: `${event} applied` });

      const after = await statusOf(id);
      if (expected === null) {
        expect(applied, `${from}/${event}`).toBeNull();
        expect(after.status, `${from}/${event}`).toBe(from);
      } else {
        expect(applied?.status, `${from}/${event}`).toBe(expected);
        expect(applied?.statusDetail).toBe(`${event} applied`);
        expect(after.status, `${from}/${event}`).toBe(expected);
      }
    }
  });

  it('records where an upgrade came from when a rollback begins, and returns it there when the rollback fails', async () => {
    for (const before of ['succeeded', 'failed'] as const) {
      const id = await upgradeIn(before);

      const rollingBack = await upgrades.apply(id, 'rollback');
      expect(rollingBack).toMatchObject({ status: 'rolling_back', previousStatus: before });
      const back = await upgrades.apply(id, 'rollback_failed', { statusDetail: 'a rollback to 0.28.0 failed' });
      expect(back).toMatchObject({ status: before, statusDetail: 'a rollback to 0.28.0 failed' });
      // And the next rollback may begin.
      expect(await upgrades.apply(id, 'rollback')).toMatchObject({ status: 'rolling_back', previousStatus: before });
    }
  });

  it('keeps the time an upgrade finished when a failed rollback returns it', async () => {
    const id = await upgradeIn('succeeded');
    await pool.query(`UPDATE upgrades SET finished_at = '2026-01-01T00:00:00Z' WHERE id = $1`, [id]);
    await upgrades.apply(id, 'rollback');

    const back = await upgrades.apply(id, 'rollback_failed');

    expect(back?.finishedAt).toEqual(new Date('2026-01-01T00:00:00Z'));
  });

  it('withdraws a running upgrade only while it waits for its pull request to be merged', async () => {
    const waiting = await upgradeIn('running');
    const pastTheWait = await upgradeIn('running');
    await pool.query(`UPDATE upgrades SET step = 'pull' WHERE id = $1`, [pastTheWait]);

    expect(await upgrades.cancelWhileWaitingForMerge(pastTheWait, 'cancelled by <@U0X>')).toBeNull();
    expect((await statusOf(pastTheWait)).status).toBe('running');
    expect(await upgrades.cancelWhileWaitingForMerge(waiting, 'cancelled by <@U0X>')).toMatchObject({ status: 'cancelled', statusDetail: 'cancelled by <@U0X>' });
  });

  // Events that race for one upgrade and leave it where none of the others applies (a cancel after a start would be a second, legal, change).
  it.each<[UpgradeStatus, UpgradeEvent[]]>([
    ['confirming', ['start']],
    ['confirming', ['start', 'expire', 'invalidate']],
    ['running', ['succeed', 'fail', 'abandon']],
    ['rolling_back', ['rollback_succeeded', 'rollback_failed']],
  ])('lets exactly one of 20 concurrent events on a %s upgrade win (%s)', async (from, events) => {
    const id = await upgradeIn(from, from === 'rolling_back' ? 'succeeded' : null);

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => upgrades.apply(id, events[i % events.length]!)));

    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect((await statusOf(id)).status).toBe(winners[0]!.status);
    expect(events.some((event) => allows(from, event))).toBe(true);
  });

  it('finds an upgrade left rolling back after its rollback ended, and not one whose rollback still runs', async () => {
    const stranded = await upgradeIn('rolling_back', 'succeeded');
    const inFlight = await upgradeIn('rolling_back', 'failed');
    for (const [of, status] of [[stranded, 'failed'], [inFlight, 'running']] as const) {
      const rollback = (await upgrades.create({ ...newUpgrade(`rb-${randomUUID()}`, '0.25.0'), kind: 'rollback', rollbackOf: of }))!;
      await pool.query(`UPDATE upgrades SET status = $2 WHERE id = $1`, [rollback.id, status]);
    }

    const found = await upgrades.strandedRollbacks();

    expect(found.map(({ upgrade, rollback }) => [upgrade.id, rollback.status])).toEqual([[stranded, 'failed']]);
  });
});

describe('migration 005: upgrades a failed rollback left rolling back', () => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool(database.url, logger);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  it('remembers where each came from, so the sweep can return it', async () => {
    // The database as the bot left it before 005: two upgrades locked out by a failed rollback.
    await runner({ databaseUrl: database.url, dir: MIGRATIONS_DIR, direction: 'up', count: 4, migrationsTable: 'pgmigrations', log: () => undefined });
    const ids = { succeeded: randomUUID(), failed: randomUUID() };
    for (const [outcome, id] of [['succeeded_with_warnings', ids.succeeded], ['failed', ids.failed]] as const) {
      await pool.query(
        `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, channel_id, status, outcome, plan, items, automatic, expires_at)
         VALUES ($1, 'upgrade', $2, '0.28.0', '0.30.0', 'U0R', 'C0OPS', 'rolling_back', $3, '{}', '[]', '[]', now())`,
        [id, `t-${id}`, outcome],
      );
    }

    await runMigrations(database.url, logger);

    const { rows } = await pool.query(`SELECT id, status, previous_status FROM upgrades ORDER BY previous_status`);
    expect(rows).toEqual([
      { id: ids.failed, status: 'rolling_back', previous_status: 'failed' },
      { id: ids.succeeded, status: 'rolling_back', previous_status: 'succeeded' },
    ]);
  });
});
