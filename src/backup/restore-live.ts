// Restores a pre-upgrade dump into the LIVE Checkstack database, for "Restore and roll back": the dump's SHA-256
// against its record first (a changed file is never restored), then `pg_restore --clean --if-exists
// --single-transaction --exit-on-error`, so a failing restore leaves the database as it was. The database URL reaches
// pg_restore as libpq environment variables only; no error or log line carries it or its password.
import { basename } from 'node:path';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyPgToolFailure, databaseNameOf, PG_TOOL_FAILURE_FIX, pgConnectionEnv } from './pg-connection.js';
import { redactedFirstLine, sha256OfFile, startPgTool } from './pg-tool.js';

export interface RestoreLiveInput {
  target: string;
  /** postgres://… of the live Checkstack database. Never logged, never in an error. */
  databaseUrl: string;
  /** The dump to restore, as the upgrade recorded it. */
  dumpPath: string;
  /** The SHA-256 recorded when the dump was written. */
  sha256: string;
  signal?: AbortSignal;
}

export interface RestoreLiveDeps {
  logger: Logger;
  /** The pg_restore executable; `pg_restore` on the PATH by default. */
  pgRestore?: string;
  env?: NodeJS.ProcessEnv;
}

function restoreError(target: string, what: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('restore_failed', `The restore of target "${target}" into its live database failed: ${what}`, details);
}

/** The dump's SHA-256, or null when it is gone. */
async function sha256Of(path: string): Promise<string | null> {
  try {
    return await sha256OfFile(path);
  } catch {
    return null;
  }
}

/**
 * Restores `dumpPath` into the live database. Throws AppError `restore_failed` in plain words when the dump is missing
 * or changed (nothing was touched) or pg_restore failed (its single transaction rolled back: nothing changed either).
 */
export async function restoreLive(input: RestoreLiveInput, deps: RestoreLiveDeps): Promise<{ durationMs: number }> {
  const { target, logger } = { target: input.target, logger: deps.logger };
  const started = Date.now();
  const libpq = pgConnectionEnv(input.databaseUrl, target);
  const password = libpq.PGPASSWORD ?? '';
  const secrets = [password, encodeURIComponent(password), input.databaseUrl].filter((s) => s.length >= 4);
  const file = basename(input.dumpPath);

  const actual = await sha256Of(input.dumpPath);
  if (actual === null) throw restoreError(target, `the pre-upgrade backup ${file} is no longer in the backup folder; nothing was restored.`, { kind: 'missing' });
  if (actual !== input.sha256) {
    logger.warn({ target, file, expected: input.sha256, actual }, 'restore refused: the dump changed after it was written');
    throw restoreError(target, `the pre-upgrade backup ${file} changed after it was written (its SHA-256 is ${actual.slice(0, 12)}…, the upgrade recorded ${input.sha256.slice(0, 12)}…); nothing was restored.`, { kind: 'checksum' });
  }

  const database = databaseNameOf(input.databaseUrl);
  const run = startPgTool(
    deps.pgRestore ?? 'pg_restore',
    ['--clean', '--if-exists', '--single-transaction', '--exit-on-error', '--no-owner', '--no-password', `--dbname=${database}`, input.dumpPath],
    { libpq, env: deps.env, signal: input.signal },
  );
  const exit = await run.exited;
  const stderr = run.stderr();
  if (exit.spawnError) {
    throw restoreError(target, exit.spawnError.code === 'ENOENT' ? "pg_restore is not installed in the bot's image (install postgresql-client, see the README)." : 'pg_restore could not be started (see the bot log).', { kind: 'other' });
  }
  if (exit.code !== 0) {
    const kind = classifyPgToolFailure(stderr);
    const said = redactedFirstLine(stderr.split('\n').filter((l) => /error|fatal/i.test(l)).join('\n') || stderr, secrets)
      || (exit.signal ? `pg_restore was killed by ${exit.signal}` : `pg_restore exited with code ${exit.code}`);
    logger.warn({ target, file, kind, exitCode: exit.code, signal: exit.signal, stderr: said }, 'live restore failed');
    throw restoreError(target, `${PG_TOOL_FAILURE_FIX[kind === 'disk_full' ? 'other' : kind]}. It said: ${said}. The restore ran in one transaction, so the database is as it was before it.`, { kind });
  }
  const durationMs = Date.now() - started;
  logger.info({ target, file, durationMs }, 'pre-upgrade backup restored into the live database');
  return { durationMs };
}
