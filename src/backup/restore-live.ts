// Restores a pre-upgrade dump into the LIVE Checkstack database, for "Restore and roll back": the dump's SHA-256
// against its record first (a changed file is never restored), then `pg_restore --clean --if-exists
// --single-transaction --exit-on-error`, so a failing restore leaves the database as it was. The database URL reaches
// pg_restore as libpq environment variables only; no error or log line carries it or its password.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyPgToolFailure, databaseNameOf, PG_TOOL_FAILURE_FIX, pgConnectionEnv } from './pg-connection.js';

const STDERR_KEPT = 16 * 1024;
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

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

function scrub(text: string, secrets: string[]): string {
  let line = text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  for (const s of secrets) if (s) line = line.split(s).join('[REDACTED]');
  return line.slice(0, 300);
}

async function sha256Of(path: string): Promise<string | null> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(path), hash);
  } catch {
    return null;
  }
  return hash.digest('hex');
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

  const source = deps.env ?? process.env;
  const inherited = Object.fromEntries(INHERITED_ENV.flatMap((k) => (source[k] !== undefined ? [[k, source[k]!]] : [])));
  const database = databaseNameOf(input.databaseUrl);
  const child = spawn(
    deps.pgRestore ?? 'pg_restore',
    ['--clean', '--if-exists', '--single-transaction', '--exit-on-error', '--no-owner', '--no-password', `--dbname=${database}`, input.dumpPath],
    { env: { ...inherited, ...libpq }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < STDERR_KEPT) stderr += chunk;
  });
  const onAbort = () => child.kill('SIGTERM');
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  input.signal?.removeEventListener('abort', onAbort);
  if (exit.spawnError) {
    throw restoreError(target, exit.spawnError.code === 'ENOENT' ? "pg_restore is not installed in the bot's image (install postgresql-client, see the README)." : 'pg_restore could not be started (see the bot log).', { kind: 'other' });
  }
  if (exit.code !== 0) {
    const kind = classifyPgToolFailure(stderr);
    const said = scrub(stderr.split('\n').filter((l) => /error|fatal/i.test(l)).join('\n') || stderr, secrets)
      || (exit.signal ? `pg_restore was killed by ${exit.signal}` : `pg_restore exited with code ${exit.code}`);
    logger.warn({ target, file, kind, exitCode: exit.code, signal: exit.signal, stderr: said }, 'live restore failed');
    throw restoreError(target, `${PG_TOOL_FAILURE_FIX[kind === 'disk_full' ? 'other' : kind]}. It said: ${said}. The restore ran in one transaction, so the database is as it was before it.`, { kind });
  }
  const durationMs = Date.now() - started;
  logger.info({ target, file, durationMs }, 'pre-upgrade backup restored into the live database');
  return { durationMs };
}
