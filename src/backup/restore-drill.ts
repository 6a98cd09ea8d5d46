// A restore drill: the newest backup of a target, restored into a throwaway database on the same server, and every
// table's exact row count compared with the `.json` beside the dump. The throwaway database is dropped whatever
// happens, and a restarted bot sweeps those a crash left behind (by name). The database URL reaches pg_restore as
// libpq environment variables only; only the throwaway database's name is on its command line.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { newestBackup } from './catalog.js';
import { databaseNameOf, pgConnectionEnv, withDatabase } from './pg-connection.js';
import { countRows, firstLine, inheritedToolEnv } from './take-backup.js';

/** How many mismatches a drill's result keeps (the count of all of them is in `mismatchCount`). */
export const MISMATCHES_KEPT = 20;
const STDERR_KEPT = 16 * 1024;
/** Postgres truncates identifiers longer than this; a drill database's name must stay recognisable. */
const MAX_IDENTIFIER = 63;
const DRILL_INFIX = '_drill_';

export interface RowMismatch {
  table: string;
  /** Rows in the backup's `.json`; null when the table is not in it. */
  expected: number | null;
  /** Rows in the restored database; null when the table was not restored. */
  restored: number | null;
}

/** What `drill --json` prints (CONTRACT.md), plus the facts the Slack message and the drills table need. */
export interface DrillResult {
  target: string;
  /** The dump's file name. */
  backup: string;
  restoredInto: string;
  /** Tables compared (the union of both sides). */
  tables: number;
  rowsMatch: boolean;
  mismatches: RowMismatch[];
  mismatchCount: number;
  /** The throwaway Checkstack container: not built yet, so always null (see README, Known limits). */
  started: boolean | null;
  passed: boolean;
  durationMs: number;
  /** The version the backup was taken on. */
  version: string;
}

export interface DrillInput {
  target: string;
  /** postgres://… of Checkstack's database. Never logged, never in an error. */
  databaseUrl: string;
  dir: string;
  /** A shutdown: pg_restore is stopped and the drill database dropped, so that the bot need not wait for a long restore. */
  signal?: AbortSignal;
}

export interface DrillDeps {
  logger: Logger;
  now(): Date;
  /** The pg_restore executable; `pg_restore` on the PATH by default. */
  pgRestore?: string;
  env?: NodeJS.ProcessEnv;
  /** The random part of the throwaway database's name (8 hex digits by default). */
  suffix?: () => string;
}

function drillFailed(target: string, reason: string, kind: string): AppError {
  return new AppError('drill_failed', `The restore drill of target "${target}" failed: ${reason}`, { kind });
}

/** `<database>_drill_`, the database part shortened so that the whole name fits an identifier. */
export function drillPrefix(database: string): string {
  return `${database.slice(0, MAX_IDENTIFIER - DRILL_INFIX.length - 8)}${DRILL_INFIX}`;
}

/** The backup's row counts against the restored ones, both ways: a table missing on either side is a mismatch. */
export function compareCounts(expected: Record<string, number>, restored: Record<string, number>): { tables: number; mismatches: RowMismatch[] } {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(restored)])].sort();
  const mismatches = names.flatMap((table) => {
    const e = expected[table] ?? null;
    const r = restored[table] ?? null;
    return e === r ? [] : [{ table, expected: e, restored: r }];
  });
  return { tables: names.length, mismatches };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>, onError: (err: Error) => void): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'checkstack-chatops drill', connectionTimeoutMillis: 10_000 });
  client.on('error', onError);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function runPgRestore(input: DrillInput, deps: DrillDeps, database: string, dumpPath: string, secrets: string[]): Promise<void> {
  const child = spawn(deps.pgRestore ?? 'pg_restore', ['--exit-on-error', '--no-owner', '--no-password', `--dbname=${database}`, dumpPath], {
    env: { ...inheritedToolEnv(deps.env), ...pgConnectionEnv(input.databaseUrl, input.target), PGDATABASE: database },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < STDERR_KEPT) stderr += chunk;
  });
  const onAbort = () => child.kill('SIGTERM');
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  input.signal?.removeEventListener('abort', onAbort);
  if (input.signal?.aborted) throw drillFailed(input.target, 'the bot was shutting down, so the restore was stopped; run the drill again.', 'interrupted');
  if (exit.spawnError) {
    const missing = (exit.spawnError as NodeJS.ErrnoException).code === 'ENOENT';
    throw drillFailed(input.target, missing ? "pg_restore is not installed in the bot's image (install postgresql-client, see the README)." : 'pg_restore could not be started (see the bot log).', 'pg_restore');
  }
  if (exit.code !== 0) {
    const said = firstLine(stderr.replace(/^pg_restore: /gm, ''), secrets) || (exit.signal ? `pg_restore was killed by ${exit.signal}` : `pg_restore exited with code ${exit.code}`);
    deps.logger.warn({ target: input.target, exitCode: exit.code, signal: exit.signal, stderr: said }, 'pg_restore failed');
    throw drillFailed(input.target, `the newest backup did not restore. pg_restore said: ${said}`, 'pg_restore');
  }
}

/**
 * Runs one drill now. A count mismatch is a failed drill in the result; a drill that cannot get that far (no backup,
 * a checksum that differs, pg_restore refusing the dump, the server refusing the throwaway database) throws
 * AppError `drill_failed` in plain words. The throwaway database is dropped in every case.
 */
export async function runRestoreDrill(input: DrillInput, deps: DrillDeps): Promise<DrillResult> {
  const { target } = input;
  const { logger } = deps;
  const started = deps.now();
  const libpq = pgConnectionEnv(input.databaseUrl, target);
  const secrets = [libpq.PGPASSWORD ?? '', input.databaseUrl].filter((s) => s.length >= 4);
  const onConnectionError = (err: Error) => logger.warn({ target, err: { message: firstLine(err.message, secrets) } }, 'drill connection lost');

  const backup = await newestBackup(input.dir, target);
  if (!backup) throw drillFailed(target, `there is no complete backup of it in ${input.dir}/${target} to restore: take one first (\`backup\`).`, 'no_backup');
  const dumpName = basename(backup.dumpPath);
  const actual = await sha256Of(backup.dumpPath);
  if (actual !== backup.record.sha256) {
    logger.warn({ target, file: dumpName, expected: backup.record.sha256, actual }, 'drill: dump checksum differs from its record');
    throw drillFailed(target, `the dump ${dumpName} does not have the checksum its record names (sha256 ${actual.slice(0, 12)}… instead of ${backup.record.sha256.slice(0, 12)}…): the file changed after it was written.`, 'checksum');
  }

  const drillDatabase = `${drillPrefix(libpq.PGDATABASE!)}${(deps.suffix ?? (() => randomBytes(4).toString('hex')))()}`;
  const sqlError = (doing: string) => (err: unknown) => {
    if (err instanceof AppError) throw err;
    const message = firstLine((err as Error).message ?? '', secrets);
    logger.warn({ target, doing, err: { message, code: (err as { code?: string }).code } }, 'drill query failed');
    throw drillFailed(target, `${doing} failed: ${message}`, 'server');
  };
  let created = false;
  try {
    await withClient(input.databaseUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(drillDatabase)}`), onConnectionError).catch(
      sqlError(`creating the throwaway database ${drillDatabase} (the database user needs CREATEDB)`),
    );
    created = true;
    logger.info({ target, file: dumpName, database: drillDatabase }, 'drill restoring');
    await runPgRestore(input, deps, drillDatabase, backup.dumpPath, secrets);
    const restored = await withClient(withDatabase(input.databaseUrl, drillDatabase), countRows, onConnectionError).catch(sqlError('counting the restored rows'));
    const { tables, mismatches } = compareCounts(backup.record.tables, restored);
    const result: DrillResult = {
      target,
      backup: dumpName,
      restoredInto: drillDatabase,
      tables,
      rowsMatch: mismatches.length === 0,
      mismatches: mismatches.slice(0, MISMATCHES_KEPT),
      mismatchCount: mismatches.length,
      started: null,
      passed: mismatches.length === 0,
      durationMs: deps.now().getTime() - started.getTime(),
      version: backup.record.version,
    };
    logger.info({ target, file: dumpName, tables, mismatches: mismatches.length, passed: result.passed }, 'drill finished');
    return result;
  } finally {
    if (created) await dropDrillDatabase(input.databaseUrl, drillDatabase, logger, onConnectionError, target);
  }
}

/** True when dropped. A failure is logged, not thrown: the next start's sweep drops it, and a drill's own result stands. */
async function dropDrillDatabase(databaseUrl: string, database: string, logger: Logger, onError: (err: Error) => void, target: string): Promise<boolean> {
  try {
    await withClient(databaseUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`), onError);
    return true;
  } catch (err) {
    logger.warn({ target, database, err: { code: (err as { code?: string }).code } }, 'could not drop the drill database');
    return false;
  }
}

/**
 * Drops every `<database>_drill_<8 hex>` on the target's server: what drills interrupted by a crash left. Called at
 * startup, before any drill of this bot runs. Returns the names dropped.
 */
export async function sweepDrillDatabases(input: Pick<DrillInput, 'target' | 'databaseUrl'>, logger: Logger): Promise<string[]> {
  const database = databaseNameOf(input.databaseUrl);
  const prefix = drillPrefix(database);
  const libpq = pgConnectionEnv(input.databaseUrl, input.target);
  const secrets = [libpq.PGPASSWORD ?? '', input.databaseUrl].filter((s) => s.length >= 4);
  const onError = (err: Error) => logger.warn({ target: input.target, err: { message: firstLine(err.message, secrets) } }, 'drill sweep connection lost');
  const leftovers = await withClient(
    input.databaseUrl,
    async (client) => (await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE left(datname, $1) = $2', [prefix.length, prefix])).rows.map((r) => r.datname),
    onError,
  );
  const dropped: string[] = [];
  for (const name of leftovers.filter((n) => /^[0-9a-f]{8}$/.test(n.slice(prefix.length)))) {
    if (!(await dropDrillDatabase(input.databaseUrl, name, logger, onError, input.target))) continue;
    dropped.push(name);
    logger.info({ target: input.target, database: name }, 'swept a leftover drill database');
  }
  return dropped;
}
