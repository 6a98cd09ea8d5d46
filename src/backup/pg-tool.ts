// Running a PostgreSQL client tool (pg_dump, pg_restore) as the bot does for backups, drills and restores: a minimal
// environment with the connection as libpq variables only (never on argv), stderr kept to a bound, stopped by the
// bot's shutdown signal, and what it said reduced to one line with every trace of the connection's secrets removed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const STDERR_KEPT = 16 * 1024;
/** What a tool inherits from the bot besides the libpq variables (never another PG* of the bot's own): PATH and locale. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

export interface PgToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the tool could not be started at all (ENOENT: not installed). */
  spawnError?: NodeJS.ErrnoException;
}

export interface PgToolRun {
  child: ChildProcess;
  /** Resolves when the tool has exited; the shutdown signal's listener is gone by then. */
  exited: Promise<PgToolExit>;
  /** What the tool wrote to stderr so far, up to a bound. */
  stderr(): string;
}

export interface PgToolOptions {
  /** The connection as libpq variables (`pgConnectionEnv`). */
  libpq: Record<string, string>;
  /** The bot's environment, for PATH and locale only. */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** `pipe` to read the tool's output (pg_dump); ignored otherwise. */
  stdout?: 'pipe' | 'ignore';
}

export function startPgTool(executable: string, args: readonly string[], options: PgToolOptions): PgToolRun {
  const source = options.env ?? process.env;
  const inherited = Object.fromEntries(INHERITED_ENV.flatMap((k) => (source[k] !== undefined ? [[k, source[k]!]] : [])));
  const child = spawn(executable, [...args], { env: { ...inherited, ...options.libpq }, stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (stderr.length < STDERR_KEPT) stderr += chunk;
  });
  const onAbort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const exited = new Promise<PgToolExit>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => options.signal?.removeEventListener('abort', onAbort));
  return { child, exited, stderr: () => stderr };
}

/** The first line of what a tool or server said, with every trace of the connection's secrets removed. */
export function redactedFirstLine(text: string, secrets: readonly string[]): string {
  let line = text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  for (const s of secrets) if (s) line = line.split(s).join('[REDACTED]');
  return line.slice(0, 300);
}

/** The SHA-256 of a file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
