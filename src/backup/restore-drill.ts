// A restore drill of a target's newest backup: the dump's checksum against its record, `pg_restore` into a throwaway
// database on the same server, every table's exact row count against the record (both ways), then optionally a
// throwaway Checkstack on the restored database (the caller's `startInstance`, Docker targets). The throwaway
// database is always dropped; `sweepDrillDatabases` drops those a crashed bot left behind.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import pg from 'pg';
import type { BackupRecord } from '../domain/backup.js';
import { compareRowCounts, drillDatabaseName, drillResultSchema, isDrillDatabaseOf, MAX_DATABASE_NAME, MISMATCHES_KEPT, type DrillFailure, type DrillResult, type TableMismatch } from '../domain/drill.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { newestBackup, type StoredBackup } from './catalog.js';
import { classifyPgError, databaseNameOf, PG_TOOL_FAILURE_FIX, pgConnectionEnv, withDatabase } from './pg-connection.js';
import { redactedFirstLine, sha256OfFile, startPgTool } from './pg-tool.js';
import { countRows, createDatabase, databaseNames, dropDatabase } from '../db/checkstack-database.js';


/** What the throwaway Checkstack of a drill came to. */
export interface InstanceOutcome {
  started: boolean;
  /** Why it did not start, in plain words, nothing secret. */
  reason?: string;
}

export interface RestoreDrillInput {
  target: string;
  /** postgres://… of the live Checkstack database. Never logged, never in an error or a result. */
  databaseUrl: string;
  dir: string;
  signal?: AbortSignal;
  /** Starts a throwaway Checkstack of `version` on `databaseUrl` and waits until it proves itself; absent: restore and counts only. */
  startInstance?: (drill: { version: string; databaseUrl: string; signal?: AbortSignal }) => Promise<InstanceOutcome>;
}

export interface RestoreDrillDeps {
  logger: Logger;
  now(): Date;
  /** The pg_restore executable; `pg_restore` on the PATH by default. */
  pgRestore?: string;
  env?: NodeJS.ProcessEnv;
  /** 8 hex characters for the throwaway database's name. */
  randomHex?: () => string;
}

function drillError(target: string, what: string): AppError {
  return new AppError('drill_failed', `The restore drill of target "${target}" could not run: ${what}`);
}

/** Runs `fn` on a connection to `url`; a failure to connect is an AppError in plain words. */
async function withClient<T>(url: string, target: string, secrets: string[], logger: Logger, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'checkstack-chatops drill', connectionTimeoutMillis: 10_000 });
  client.on('error', (err) => logger.warn({ target, err: { message: redactedFirstLine(err.message, secrets) } }, 'drill connection lost'));
  try {
    await client.connect();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const kind = classifyPgError(err);
    logger.warn({ target, kind, err: { message: redactedFirstLine(e.message ?? '', secrets), code: e.code } }, 'drill could not connect');
    throw drillError(target, `${PG_TOOL_FAILURE_FIX[kind]}.`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The server's names of drill databases of the live database, oldest first by name. */
async function drillDatabasesOn(client: pg.Client, database: string): Promise<string[]> {
  return (await databaseNames(client)).filter((name) => isDrillDatabaseOf(database, name));
}

/**
 * Drops every `<database>_drill_<hex>` a drill left behind (a bot killed mid-drill). Run at startup, before any drill
 * of this target can be running. Returns the names it dropped.
 */
export async function sweepDrillDatabases(input: { target: string; databaseUrl: string }, logger: Logger): Promise<string[]> {
  const database = databaseNameOf(input.databaseUrl);
  const secrets = secretsOf(input.databaseUrl, input.target);
  return withClient(input.databaseUrl, input.target, secrets, logger, async (client) => {
    const dropped: string[] = [];
    for (const name of await drillDatabasesOn(client, database)) {
      try {
        await dropDatabase(client, name);
        dropped.push(name);
        logger.info({ target: input.target, database: name }, 'dropped the database of an interrupted drill');
      } catch (err) {
        logger.warn({ target: input.target, database: name, err: { message: redactedFirstLine((err as Error).message ?? '', secrets) } }, 'could not drop the database of an interrupted drill');
      }
    }
    return dropped;
  });
}

function secretsOf(databaseUrl: string, target: string): string[] {
  const password = pgConnectionEnv(databaseUrl, target).PGPASSWORD ?? '';
  return [password, encodeURIComponent(password), databaseUrl].filter((s) => s.length >= 4);
}

/**
 * `pg_restore --exit-on-error --no-owner` of `dumpPath` into `database`; the failure's first line, or null. `stop`
 * ends it early (the bot's shutdown, or a failed checksum); only the shutdown makes it throw.
 */
async function runPgRestore(dumpPath: string, drillUrl: string, database: string, input: RestoreDrillInput, deps: RestoreDrillDeps, secrets: string[], stop: AbortSignal): Promise<string | null> {
  const run = startPgTool(deps.pgRestore ?? 'pg_restore', ['--exit-on-error', '--no-owner', '--no-password', `--dbname=${database}`, dumpPath], {
    libpq: pgConnectionEnv(drillUrl, input.target),
    env: deps.env,
    signal: stop,
  });
  const exit = await run.exited;
  const stderr = run.stderr();
  if (exit.spawnError) {
    throw drillError(input.target, exit.spawnError.code === 'ENOENT' ? "pg_restore is not installed in the bot's image (install postgresql-client, see the README)." : 'pg_restore could not be started (see the bot log).');
  }
  if (input.signal?.aborted) throw new Error('drill interrupted: the bot is shutting down');
  if (exit.code === 0) return null;
  const said = redactedFirstLine(stderr.split('\n').filter((l) => /error/i.test(l)).join('\n') || stderr, secrets);
  deps.logger.warn({ target: input.target, exitCode: exit.code, signal: exit.signal, stderr: said }, 'pg_restore failed');
  return said || (exit.signal ? `pg_restore was killed by ${exit.signal}` : `pg_restore exited with code ${exit.code}`);
}

/**
 * Runs a restore drill of the target's newest backup. A verdict (checksum, restore, counts, instance) is a result
 * with `passed: false`; what keeps the drill from running at all (no backup, the server refuses) is AppError
 * `drill_failed`. The throwaway database is dropped in every case.
 */
export async function runRestoreDrill(input: RestoreDrillInput, deps: RestoreDrillDeps): Promise<DrillResult> {
  const { target } = input;
  const { logger } = deps;
  const startedAt = deps.now();
  const backup = await newestBackup(input.dir, target);
  if (!backup) throw drillError(target, `there is no complete backup in ${input.dir}/${target} (take one with \`backup\`).`);
  const secrets = secretsOf(input.databaseUrl, target);
  const database = databaseNameOf(input.databaseUrl);
  const restoredInto = drillDatabaseName(database, deps.randomHex?.() ?? randomBytes(4).toString('hex'));
  if (Buffer.byteLength(restoredInto) > MAX_DATABASE_NAME) {
    throw drillError(target, `the drill database's name ${restoredInto} is longer than Postgres' ${MAX_DATABASE_NAME} bytes; the live database's name is too long for a drill.`);
  }
  const record = backup.record;
  const finish = (verdict: Verdict): DrillResult => {
    const result = drillResultSchema.parse({
      target,
      backup: basename(backup.dumpPath),
      backupVersion: record.version,
      restoredInto,
      tables: Object.keys(record.tables).length,
      rowsMatch: verdict.rowsMatch,
      mismatches: verdict.mismatches.slice(0, MISMATCHES_KEPT),
      mismatchCount: verdict.mismatches.length,
      started: verdict.started,
      instanceChecked: verdict.instanceChecked,
      passed: verdict.failure === null,
      failure: verdict.failure,
      reason: verdict.reason,
      startedAt: startedAt.toISOString(),
      durationMs: Math.max(0, deps.now().getTime() - startedAt.getTime()),
    });
    logger.info({ target, backup: result.backup, passed: result.passed, failure: result.failure, tables: result.tables, mismatches: result.mismatchCount, durationMs: result.durationMs }, 'restore drill finished');
    return result;
  };

  // The checksum is read while pg_restore reads the same file (the restore goes into a throwaway database, so a
  // changed file costs nothing): a drill takes the restore's time, not the restore's plus a full read of the dump.
  const checksum = sha256OfFile(backup.dumpPath).then((actual) =>
    actual === record.sha256 ? null : `the dump's SHA-256 is ${actual.slice(0, 12)}…, its record says ${record.sha256.slice(0, 12)}…: the file changed after it was written.`,
  );
  // A failed read is the checksum's verdict below; it must not go unhandled while the database is being created.
  checksum.catch(() => undefined);

  return withClient(input.databaseUrl, target, secrets, logger, async (admin) => {
    try {
      await createDatabase(admin, restoredInto);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      logger.warn({ target, err: { message: redactedFirstLine(e.message ?? '', secrets), code: e.code } }, 'drill could not create its database');
      throw drillError(target, e.code === '42501'
        ? `the database user may not create databases: grant it CREATEDB (ALTER ROLE … CREATEDB) so drills can restore into ${restoredInto}.`
        : `the throwaway database ${restoredInto} could not be created (${redactedFirstLine(e.message ?? '', secrets)}).`);
    }
    logger.info({ target, database: restoredInto, backup: basename(backup.dumpPath) }, 'drill database created');
    try {
      return finish(await restoreAndCheck(backup, record, restoredInto, input, deps, secrets, checksum));
    } finally {
      await dropDatabase(admin, restoredInto).then(
        () => logger.info({ target, database: restoredInto }, 'drill database dropped'),
        (err: unknown) => logger.error({ target, database: restoredInto, err: { message: redactedFirstLine((err as Error).message ?? '', secrets) } }, 'drill database could not be dropped; the next start sweeps it'),
      );
    }
  });
}

interface Verdict {
  rowsMatch: boolean;
  mismatches: readonly TableMismatch[];
  started: boolean;
  instanceChecked: boolean;
  failure: DrillFailure | null;
  reason: string | null;
}

const NOTHING_RESTORED = { rowsMatch: false, mismatches: [], started: false, instanceChecked: false } as const;

async function restoreAndCheck(
  backup: StoredBackup,
  record: BackupRecord,
  restoredInto: string,
  input: RestoreDrillInput,
  deps: RestoreDrillDeps,
  secrets: string[],
  checksum: Promise<string | null>,
): Promise<Verdict> {
  const drillUrl = withDatabase(input.databaseUrl, restoredInto);
  // A checksum that fails stops pg_restore: what it restores of a changed file is not looked at.
  const stopRestore = new AbortController();
  const checked = checksum.then(
    (reason) => {
      if (reason !== null) stopRestore.abort();
      return reason;
    },
    (err: unknown) => {
      stopRestore.abort();
      throw err;
    },
  );
  const restoreSignal = input.signal ? AbortSignal.any([input.signal, stopRestore.signal]) : stopRestore.signal;
  const [checksumFailure, restoreFailure] = await Promise.all([checked, runPgRestore(backup.dumpPath, drillUrl, restoredInto, input, deps, secrets, restoreSignal)]);
  if (checksumFailure !== null) return { ...NOTHING_RESTORED, failure: 'checksum', reason: checksumFailure };
  if (restoreFailure !== null) return { ...NOTHING_RESTORED, failure: 'restore', reason: `pg_restore failed: ${restoreFailure}` };
  const restored = await withClient(drillUrl, input.target, secrets, deps.logger, (client) => countRows(client));
  const mismatches = compareRowCounts(record.tables, restored);
  if (mismatches.length > 0) {
    return { rowsMatch: false, mismatches, started: false, instanceChecked: false, failure: 'row_counts', reason: `${mismatches.length} table(s) differ from the backup's record.` };
  }
  if (!input.startInstance) return { rowsMatch: true, mismatches: [], started: false, instanceChecked: false, failure: null, reason: null };
  const instance = await input.startInstance({ version: record.version, databaseUrl: drillUrl, signal: input.signal });
  return instance.started
    ? { rowsMatch: true, mismatches: [], started: true, instanceChecked: true, failure: null, reason: null }
    : { rowsMatch: true, mismatches: [], started: false, instanceChecked: true, failure: 'instance', reason: redactedFirstLine(instance.reason ?? 'the throwaway Checkstack did not start.', secrets) };
}
