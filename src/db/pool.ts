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

/** One round trip: Postgres answers. */
export async function pingPostgres(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}

export async function postgresServerVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
  return rows[0]?.server_version ?? '';
}
