// The upgrade store's one-round-trip reads against a real Postgres: what a click decides on, and what status lists.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createUpgradeStore, type NewUpgrade, type UpgradeStore } from '../../src/db/upgrade-store.js';
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

    await upgrades.transition(active.id, ['confirming'], 'cancelled');
    const without = await upgrades.statusListings('prod', 10);
    expect(without.active).toBeNull();
    expect(without.recent).toHaveLength(2);
    expect(await upgrades.statusListings('nowhere', 10)).toEqual({ active: null, recent: [] });
  });
});
