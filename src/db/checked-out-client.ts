// A client checked out of the pool, the one way the bot holds a connection of its own: for a transaction or a
// session advisory lock. While checked out, a client has no pool listener for its 'error' event, so Postgres going
// away (a restart, a failover, a cut connection) would be an unhandled 'error' that ends the process. Here every
// checked-out client gets a listener, is always released, and is destroyed rather than reused once it broke.
import type pg from 'pg';
import type { Pool } from './pool.js';

export interface CheckoutOptions {
  /** Told when the connection breaks while checked out (once); the work goes on or fails with its next query. */
  onLost?: (err: Error) => void;
}

export interface CheckedOut {
  client: pg.PoolClient;
  /** The error that broke the connection, once it broke. */
  lost(): Error | undefined;
  /** Marks the connection as broken (e.g. a ROLLBACK or an unlock that failed): it is destroyed on release. */
  markLost(err: Error): void;
}

export async function withCheckedOutClient<T>(pool: Pool, work: (checkedOut: CheckedOut) => Promise<T>, options: CheckoutOptions = {}): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const markLost = (err: Error) => {
    if (lost) return;
    lost = err;
    options.onLost?.(err);
  };
  client.on('error', markLost);
  try {
    return await work({ client, lost: () => lost, markLost });
  } finally {
    client.off('error', markLost);
    // A broken connection is destroyed rather than handed to the next caller.
    client.release(lost);
  }
}

/** Runs `work` in a transaction: COMMIT when it returns, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: Pool, work: (client: pg.PoolClient) => Promise<T>, options: CheckoutOptions = {}): Promise<T> {
  return withCheckedOutClient(
    pool,
    async ({ client, markLost }) => {
      await client.query('BEGIN');
      let value: T;
      try {
        value = await work(client);
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => markLost(rollbackErr));
        throw err;
      }
      await client.query('COMMIT');
      return value;
    },
    options,
  );
}

/** A session advisory lock's two keys, each hashed by Postgres (`hashtext`): a name space and an id within it. */
export interface AdvisoryLock {
  space: string;
  id: string;
}

/**
 * Holds a session advisory lock while `work` runs, on a connection of its own (`work` uses the pool as usual).
 * `wait: false` gives up at once when another session holds it. Postgres releases the lock with a connection that
 * breaks: `work` is not stopped then (the caller's own guards must still hold), and the broken client is discarded.
 */
export async function withAdvisoryLock<T>(
  pool: Pool,
  lock: AdvisoryLock,
  options: CheckoutOptions & { wait: boolean },
  work: () => Promise<T>,
): Promise<{ locked: false } | { locked: true; value: T }> {
  return withCheckedOutClient(
    pool,
    async ({ client, lost, markLost }) => {
      if (options.wait) {
        await client.query(`SELECT pg_advisory_lock(hashtext($1), hashtext($2))`, [lock.space, lock.id]);
      } else {
        const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok`, [lock.space, lock.id]);
        if (!rows[0]?.ok) return { locked: false as const };
      }
      try {
        return { locked: true as const, value: await work() };
      } finally {
        if (!lost()) {
          await client.query(`SELECT pg_advisory_unlock(hashtext($1), hashtext($2))`, [lock.space, lock.id]).catch((err: Error) => markLost(err));
        }
      }
    },
    options,
  );
}
