// The bot's Postgres pool: bounded, with timeouts so a dead database fails fast instead of hanging requests.
import pg from 'pg';
import type { Logger } from '../logger.js';

export type Pool = pg.Pool;

export function createPool(databaseUrl: string, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 15_000,
    query_timeout: 20_000,
    application_name: 'checkstack-chatops',
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', (err) => logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'postgres idle client error'));
  return pool;
}
