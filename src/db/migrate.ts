// Applies the numbered .sql migrations with node-pg-migrate; its advisory lock (in "wait" mode) keeps replicas from racing.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Pool } from './pool.js';
import type { Logger } from '../logger.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));
const MIGRATIONS_TABLE = 'pgmigrations';
/** A fixed lock id of our own, so another tool's migrations in the same database never block ours. */
const LOCK_ID = 0x636b6368; // "ckch"

export function migrationNames(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
}

export async function runMigrations(databaseUrl: string, logger: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    lockValue: LOCK_ID,
    advisoryLockMode: 'wait',
    singleTransaction: true,
    checkOrder: true,
    log: () => undefined,
  });
  const names = applied.map((m) => m.name);
  logger.info({ applied: names }, names.length ? 'migrations applied' : 'migrations up to date');
  return names;
}

/** Migrations in the repo that the database has not recorded; empty when up to date. */
export async function pendingMigrations(pool: Pool, names = migrationNames()): Promise<string[]> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [MIGRATIONS_TABLE]);
  if (!exists.rows[0]?.t) return names;
  const { rows } = await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const done = new Set(rows.map((r) => r.name));
  return names.filter((n) => !done.has(n));
}
