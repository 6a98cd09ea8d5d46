// The SQL the bot runs on a target's own Checkstack database (not the bot's): the snapshot a backup dumps and counts,
// the exact row counts a backup records and a drill compares, and the throwaway databases of restore drills.
import type pg from 'pg';

/**
 * Opens the read-only transaction whose snapshot pg_dump imports (it lives until `commitSnapshot`), and reads the
 * server's version in it.
 */
export async function exportSnapshot(client: pg.Client): Promise<{ snapshot: string; serverVersion: string }> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
  const serverVersion = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  return { snapshot, serverVersion };
}

export async function commitSnapshot(client: pg.Client): Promise<void> {
  await client.query('COMMIT');
}

/**
 * Exact row counts of every user table, in the transaction (and so the snapshot) the dump reads. A restore drill
 * counts the restored database with the same function, so both sides count the same tables the same way.
 */
export async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      ORDER BY 1, 2`,
  );
  const tables: Record<string, number> = {};
  for (const { schema, name } of rows) {
    const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`);
    tables[`${schema}.${name}`] = Number(counted[0]!.n);
  }
  return tables;
}

/** Every database of the server but the templates, by name. */
export async function databaseNames(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datistemplate = false ORDER BY datname`);
  return rows.map((r) => r.datname);
}

export async function createDatabase(client: pg.Client, name: string): Promise<void> {
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
}

export async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  // A throwaway instance may still hold connections; WITH (FORCE) (Postgres 13+) ends them.
  await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
}
