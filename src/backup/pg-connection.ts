// How pg_dump, pg_restore and psql get Checkstack's database URL: as libpq environment variables of the child
// process, never as an argument (arguments are visible to every user of the host in `ps`) and never in a log line.
// Also the one place that turns what those tools print on failure into a reason an operator can act on.
import { AppError } from '../errors.js';

/** The libpq variables of a `postgres://` URL. Query parameters that libpq knows (sslmode, …) are passed on too. */
export function pgConnectionEnv(databaseUrl: string, target: string): Record<string, string> {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new AppError('backup_misconfigured', `The database URL of target "${target}" is not a URL. Set it as postgres://user:password@host:5432/database.`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new AppError('backup_misconfigured', `The database URL of target "${target}" must start with postgres://, not ${url.protocol}//.`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw new AppError('backup_misconfigured', `The database URL of target "${target}" names no database: end it with /<database>.`);
  const env: Record<string, string> = { PGDATABASE: database, PGHOST: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || '127.0.0.1', PGPORT: url.port || '5432' };
  if (url.username) env.PGUSER = decodeURIComponent(url.username);
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  const known: Record<string, string> = { sslmode: 'PGSSLMODE', sslrootcert: 'PGSSLROOTCERT', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY', application_name: 'PGAPPNAME', connect_timeout: 'PGCONNECT_TIMEOUT' };
  for (const [key, value] of url.searchParams) if (known[key]) env[known[key]] = value;
  env.PGCONNECT_TIMEOUT ??= '10';
  return env;
}

/** The database name in a URL, for names and messages (never the URL itself). */
export function databaseNameOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
}

/** The same URL pointing at another database on the same server (a drill's throwaway database). */
export function withDatabase(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

export type PgToolFailure = 'unreachable' | 'auth' | 'no_database' | 'version_mismatch' | 'disk_full' | 'other';

/** What a pg tool's stderr (or the error of writing its output) says went wrong. */
export function classifyPgToolFailure(stderr: string, writeErrorCode?: string): PgToolFailure {
  if (writeErrorCode === 'ENOSPC' || /No space left on device/i.test(stderr)) return 'disk_full';
  if (/server version mismatch|aborting because of server version mismatch/i.test(stderr)) return 'version_mismatch';
  if (/password authentication failed|no password supplied|authentication failed|no pg_hba\.conf entry/i.test(stderr)) return 'auth';
  if (/database "[^"]*" does not exist/i.test(stderr)) return 'no_database';
  if (/could not connect|Connection refused|could not translate host name|timeout expired|Network is unreachable|server closed the connection/i.test(stderr)) return 'unreachable';
  return 'other';
}

/** Node's codes for a server that cannot be reached (a connection refused, a name that does not resolve, a dropped route). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/**
 * What node-postgres' connect or query error means, as the same kinds as a pg tool's failure. Another Node code
 * (EACCES reading an sslrootcert, EPROTO from TLS) is not called unreachable: its message decides, as a tool's would.
 */
export function classifyPgError(err: unknown): PgToolFailure {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === '28P01' || code === '28000') return 'auth';
  if (code === '3D000') return 'no_database';
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  return classifyPgToolFailure(typeof e.message === 'string' ? e.message : '');
}

/** The operator's next step for each failure, in plain words. */
export const PG_TOOL_FAILURE_FIX: Record<PgToolFailure, string> = {
  unreachable: 'the database server did not answer: check the host and port in the database URL and that the bot can reach it',
  auth: 'the server refused the user or password in the database URL',
  no_database: 'the database in the URL does not exist on that server',
  version_mismatch: 'the bot\'s pg_dump is older than the server: the client major version must be at least the server\'s (the image ships PostgreSQL 17 client tools)',
  disk_full: 'the backup volume is full: free space or lower `backup.keep`',
  other: 'see the tool\'s message',
};
