// What /readyz reports: Postgres and Redis answer, and no migration is pending. Re-checked on every call,
// so the bot turns ready again by itself when a dependency comes back.
import type { Redis } from 'ioredis';
import { pendingMigrations } from '../db/migrate.js';
import { pingPostgres, type Pool } from '../db/pool.js';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<'postgres' | 'redis' | 'migrations', { ok: boolean; detail?: string }>;
}

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function checkReadiness(pool: Pool, redis: Redis): Promise<ReadinessReport> {
  const [postgres, redisCheck] = await Promise.all([
    withTimeout(pingPostgres(pool), 'postgres').then(
      () => ({ ok: true }),
      (err: Error) => ({ ok: false, detail: err.message }),
    ),
    // ioredis queues commands while disconnected (BullMQ needs that), so look at the status first.
    redis.status !== 'ready'
      ? Promise.resolve({ ok: false, detail: `connection ${redis.status}` })
      : withTimeout(redis.ping(), 'redis').then(
          () => ({ ok: true }),
          (err: Error) => ({ ok: false, detail: err.message }),
        ),
  ]);
  const migrations = postgres.ok
    ? await withTimeout(pendingMigrations(pool), 'postgres').then(
        (pending) => (pending.length ? { ok: false, detail: `pending: ${pending.join(', ')}` } : { ok: true }),
        (err: Error) => ({ ok: false, detail: err.message }),
      )
    : { ok: false, detail: 'unknown while postgres is down' };
  return { ready: postgres.ok && redisCheck.ok && migrations.ok, checks: { postgres, redis: redisCheck, migrations } };
}
