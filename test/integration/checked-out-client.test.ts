// The one helper for a connection of the bot's own (a transaction, a session advisory lock), against a real Postgres
// whose server end the test cuts: the process lives on, the broken client is discarded, the lock goes with it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction, withAdvisoryLock } from '../../src/db/checked-out-client.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { REPO_ROOT } from '../support/repo-root.js';

const logger = pino({ level: 'silent' });
const LOCK = { space: 'test-space', id: 'prod' };

describe('checked-out clients', () => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool(database.url, logger);
    await pool.query(`CREATE TABLE notes (text text NOT NULL)`);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /** The server process of the session that holds LOCK, as another session sees it. */
  async function lockHolder(): Promise<number | undefined> {
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::int = hashtext($1) AND objid::int = hashtext($2)`,
      [LOCK.space, LOCK.id],
    );
    return rows[0]?.pid;
  }

  it('holds a lock that a second taker does not get, and releases it after the work', async () => {
    const seen: unknown[] = [];
    const outer = await withAdvisoryLock(pool, LOCK, { wait: false }, async () => {
      seen.push(await lockHolder());
      return withAdvisoryLock(pool, LOCK, { wait: false }, async () => 'never');
    });

    expect(outer).toEqual({ locked: true, value: { locked: false } });
    expect(seen[0]).toEqual(expect.any(Number));
    expect(await lockHolder()).toBeUndefined();
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('lives on when Postgres cuts the lock holder mid-work: the work finishes, the lock is gone, the broken client discarded', async () => {
    let lost: Error | undefined;
    let seeLoss!: () => void;
    const lossSeen = new Promise<void>((resolve) => (seeLoss = resolve));

    const result = await withAdvisoryLock(
      pool,
      LOCK,
      {
        wait: true,
        onLost: (err) => {
          lost = err;
          seeLoss();
        },
      },
      async () => {
        await pool.query(`SELECT pg_terminate_backend($1)`, [await lockHolder()]);
        await lossSeen;
        return 'finished';
      },
    );

    expect(result).toEqual({ locked: true, value: 'finished' });
    expect(lost?.message).toMatch(/terminat/i);
    // Postgres released the lock with the session, and the pool holds no client of the dead session.
    expect(await withAdvisoryLock(pool, LOCK, { wait: false }, async () => 'again')).toEqual({ locked: true, value: 'again' });
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('commits what the work did, and rolls it all back when the work throws', async () => {
    await inTransaction(pool, async (client) => {
      await client.query(`INSERT INTO notes VALUES ('kept')`);
    });
    await expect(
      inTransaction(pool, async (client) => {
        await client.query(`INSERT INTO notes VALUES ('dropped')`);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');

    expect((await pool.query(`SELECT text FROM notes`)).rows).toEqual([{ text: 'kept' }]);
  });

  it('fails the transaction, not the process, when Postgres cuts its connection, and discards the client', async () => {
    const lost: Error[] = [];
    const before = pool.totalCount;

    const attempt = inTransaction(
      pool,
      async (client) => {
        const { rows } = await client.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
        await client.query(`INSERT INTO notes VALUES ('cut')`);
        await pool.query(`SELECT pg_terminate_backend($1)`, [rows[0]!.pid]);
        await client.query(`SELECT 1`);
      },
      { onLost: (err) => lost.push(err) },
    );

    await expect(attempt).rejects.toThrow();
    expect(lost).toHaveLength(1);
    expect((await pool.query(`SELECT text FROM notes WHERE text = 'cut'`)).rows).toEqual([]);
    expect(pool.totalCount).toBeLessThanOrEqual(before);
    expect((await pool.query(`SELECT 1 AS ok`)).rows).toEqual([{ ok: 1 }]);
  });

  it('is the only place that checks a client out of the pool', () => {
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts') && /\bpool\.connect\(/.test(readFileSync(path, 'utf8'))) found.push(relative(REPO_ROOT, path));
      }
    };
    for (const dir of ['src', 'handlers', 'jobs']) walk(join(REPO_ROOT, dir));

    expect(found).toEqual(['src/db/checked-out-client.ts']);
  });
});
