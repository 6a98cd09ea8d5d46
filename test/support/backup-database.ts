// A Checkstack-like database for backup tests: its own password-protected role, tables in several schemas (one
// with a name that needs quoting), and known row counts. The server here trusts 127.0.0.1, so the password is
// not verified by it; the tests still prove that it never leaks.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createLogger, SecretRegistry, type Logger } from '../../src/logger.js';
import { ADMIN_DATABASE_URL, createTestDatabase, type TestDatabase } from './database.js';

export const KNOWN_TABLES: Record<string, number> = {
  'public.systems': 7,
  'public.health_check_runs': 250,
  'checkstack.plugins': 3,
  'Odd Schema.Mixed "Case" table': 2,
  'public.empty_table': 0,
};

export interface BackupDatabase extends TestDatabase {
  role: string;
  password: string;
  /** postgres://role:password@127.0.0.1:5432/name: what the target's `databaseUrlEnv` would hold. */
  checkstackUrl: string;
  drop(): Promise<void>;
}

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createBackupDatabase(): Promise<BackupDatabase> {
  const database = await createTestDatabase();
  const role = `ck_backup_${randomBytes(5).toString('hex')}`;
  // Characters URL encoding changes, so the encoded and the raw form differ and both are looked for.
  const password = `pw/${randomBytes(12).toString('hex')}@:%`;
  await admin(ADMIN_DATABASE_URL, async (client) => {
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
    await client.query(`ALTER DATABASE ${database.name} OWNER TO ${role}`);
  });
  const url = new URL(ADMIN_DATABASE_URL);
  url.username = role;
  url.password = encodeURIComponent(password);
  url.hostname = '127.0.0.1';
  url.pathname = `/${database.name}`;
  const checkstackUrl = url.toString();
  await admin(checkstackUrl, async (client) => {
    await client.query(`CREATE SCHEMA checkstack; CREATE SCHEMA "Odd Schema"`);
    await client.query(`CREATE TABLE public.systems (id serial PRIMARY KEY, name text NOT NULL)`);
    await client.query(`CREATE TABLE public.health_check_runs (id bigserial PRIMARY KEY, system_id int REFERENCES public.systems(id), ok boolean, at timestamptz DEFAULT now())`);
    await client.query(`CREATE TABLE checkstack.plugins (name text PRIMARY KEY, version text)`);
    await client.query(`CREATE TABLE "Odd Schema"."Mixed ""Case"" table" (v text)`);
    await client.query(`CREATE TABLE public.empty_table (v int)`);
    await client.query(`INSERT INTO public.systems (name) SELECT 'system ' || g FROM generate_series(1, 7) g`);
    await client.query(`INSERT INTO public.health_check_runs (system_id, ok) SELECT 1 + g % 7, g % 3 = 0 FROM generate_series(1, 250) g`);
    await client.query(`INSERT INTO checkstack.plugins VALUES ('a', '1.0.0'), ('b', '2.0.0'), ('c', '3.0.0')`);
    await client.query(`INSERT INTO "Odd Schema"."Mixed ""Case"" table" VALUES ('x'), ('y')`);
  });
  return {
    ...database,
    role,
    password,
    checkstackUrl,
    async drop() {
      await database.drop();
      await admin(ADMIN_DATABASE_URL, (client) => client.query(`DROP ROLE IF EXISTS ${role}`));
    },
  };
}

/** A logger that keeps every line it writes, as the bot would write it (secrets registered as the bot registers them). */
export function capturingLogger(secrets: string[] = []): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const registry = new SecretRegistry();
  registry.register(...secrets);
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', secrets: registry, destination }), lines };
}

/** Row counts of every user table of the database at `url`, as `<schema>.<table>`. */
export async function countTables(url: string): Promise<Record<string, number>> {
  return admin(url, async (client) => {
    const { rows } = await client.query<{ schema: string; name: string }>(
      `SELECT schemaname AS schema, tablename AS name FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    const counts: Record<string, number> = {};
    for (const { schema, name } of rows) {
      const { rows: n } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`);
      counts[`${schema}.${name}`] = Number(n[0]!.n);
    }
    return counts;
  });
}
