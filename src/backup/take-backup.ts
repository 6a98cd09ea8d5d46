// Takes one backup of a target's Checkstack database: exact row counts and `pg_dump --format=custom` from one
// exported snapshot, streamed through SHA-256 into a `.partial` file that is renamed only when whole, then the
// record beside it, then retention. The database URL reaches pg_dump as libpq environment variables only.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { backupRecordSchema, backupStem, retentionVictims, type BackupRecord } from '../domain/backup.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { commitSnapshot, countRows, exportSnapshot } from '../db/checkstack-database.js';
import { DUMP_EXTENSION, listBackups, PARTIAL_SUFFIX, RECORD_EXTENSION, removeBackup, targetBackupDir, type StoredBackup } from './catalog.js';
import { classifyPgError, classifyPgToolFailure, PG_TOOL_FAILURE_FIX, pgConnectionEnv, type PgToolFailure } from './pg-connection.js';
import { redactedFirstLine, startPgTool } from './pg-tool.js';

/** Leftovers of an interrupted backup (a `.partial`, a dump whose record never came) older than this are removed. */
export const LEFTOVER_AGE_MS = 15 * 60_000;

export interface TakeBackupInput {
  target: string;
  /** The Checkstack version the target runs: part of the dump's name, and the image a drill starts. */
  version: string;
  /** postgres://… of Checkstack's database. Never logged, never in an error. */
  databaseUrl: string;
  dir: string;
  keep: number;
  signal?: AbortSignal;
  /** Called as the dump grows, with the bytes written so far. */
  onProgress?: (bytes: number) => void;
}

export interface TakeBackupDeps {
  logger: Logger;
  now(): Date;
  /** The pg_dump executable; `pg_dump` on the PATH by default. */
  pgDump?: string;
  /** The bot's environment, for PATH and locale only. */
  env?: NodeJS.ProcessEnv;
  leftoverAgeMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface BackupOutcome {
  record: BackupRecord;
  dumpPath: string;
  recordPath: string;
  /** Backups retention deleted, by file name. */
  removed: string[];
  durationMs: number;
}

/**
 * A start time whose file name no backup of this target uses yet. Names have one-second resolution, so two backups
 * in one second (a manual one, then the upgrade's Backup step) would share a name: the second waits for the next
 * second rather than replace the first, and its `startedAt` stays the true start. Backups of one target are serialised
 * by the caller's lock, so nothing takes the name between this check and the rename.
 */
async function unusedSecond(folder: string, target: string, version: string, deps: TakeBackupDeps): Promise<Date> {
  for (;;) {
    const at = deps.now();
    const stem = backupStem(target, version, at);
    const taken = await Promise.all([`${stem}${DUMP_EXTENSION}`, `${stem}${RECORD_EXTENSION}`].map((name) => pathExists(join(folder, name))));
    if (!taken.some(Boolean)) return at;
    await (deps.sleep ?? defaultSleep)(1000 - at.getUTCMilliseconds());
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The failure as an operator reads it: what went wrong in plain words, then what the server or tool said. */
function failure(target: string, kind: PgToolFailure, toolMessage?: string): AppError {
  const said = toolMessage ? `. It said: ${toolMessage}` : '';
  return new AppError('backup_failed', `The backup of target "${target}" failed: ${PG_TOOL_FAILURE_FIX[kind]}${said}`, { kind });
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeFileDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes what interrupted backups left in the target's folder, once older than `ageMs` (a live backup of another process is younger). */
async function removeLeftovers(dir: string, target: string, now: Date, ageMs: number, logger: Logger): Promise<string[]> {
  const { ignored } = await listBackups(dir, target);
  const removed: string[] = [];
  for (const file of ignored) {
    const name = basename(file.path);
    if (!name.endsWith(PARTIAL_SUFFIX) && !name.endsWith(DUMP_EXTENSION)) continue;
    const info = await stat(file.path).catch(() => null);
    if (!info || now.getTime() - info.mtimeMs < ageMs) continue;
    await rm(file.path, { force: true });
    removed.push(name);
    logger.info({ target, file: name, reason: file.reason }, 'removed the leftover of an interrupted backup');
  }
  return removed;
}

/** Keeps the newest `keep` backups of the target; returns the file names of the dumps it deleted. */
export async function applyRetention(dir: string, target: string, keep: number, logger: Logger): Promise<string[]> {
  const { backups } = await listBackups(dir, target);
  const victims = retentionVictims(
    backups.map((b) => ({ startedAt: b.record.startedAt, file: b.record.file, backup: b })),
    keep,
  ).map((v) => v.backup as StoredBackup);
  for (const victim of victims) {
    await removeBackup(victim);
    logger.info({ target, file: basename(victim.dumpPath) }, 'backup removed by retention');
  }
  return victims.map((v) => basename(v.dumpPath));
}

interface DumpResult {
  bytes: number;
  sha256: string;
}

/** Runs pg_dump on the snapshot and streams its output through SHA-256 into `partialPath`. */
async function runPgDump(input: TakeBackupInput, deps: TakeBackupDeps, snapshot: string, partialPath: string, secrets: string[]): Promise<DumpResult> {
  const run = startPgTool(deps.pgDump ?? 'pg_dump', ['--format=custom', `--snapshot=${snapshot}`, '--no-password'], {
    libpq: pgConnectionEnv(input.databaseUrl, input.target),
    env: deps.env,
    signal: input.signal,
    stdout: 'pipe',
  });
  const child = run.child;

  const hash = createHash('sha256');
  let bytes = 0;
  let lastReport = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (input.onProgress && bytes - lastReport >= 8 * 1024 * 1024) {
        lastReport = bytes;
        input.onProgress(bytes);
      }
      done(null, chunk);
    },
  });
  let writeError: NodeJS.ErrnoException | null = null;
  try {
    await pipeline(child.stdout!, hashing, createWriteStream(partialPath, { flags: 'wx' }));
  } catch (err) {
    writeError = err as NodeJS.ErrnoException;
    child.kill('SIGTERM');
  }
  const exit = await run.exited;
  const stderr = run.stderr();
  if (exit.spawnError) {
    const missing = (exit.spawnError as NodeJS.ErrnoException).code === 'ENOENT';
    throw new AppError('backup_failed', `The backup of target "${input.target}" failed: ${missing ? 'pg_dump is not installed in the bot\'s image (install postgresql-client, see the README)' : 'pg_dump could not be started (see the bot log)'}.`, { kind: 'other' }, { cause: exit.spawnError });
  }
  if (input.signal?.aborted) throw new Error('backup interrupted: the bot is shutting down');
  if (writeError && writeError.code === 'ENOSPC') throw failure(input.target, 'disk_full');
  if (exit.code !== 0) {
    const kind = classifyPgToolFailure(stderr, writeError?.code);
    const said = redactedFirstLine(stderr, secrets) || (exit.signal ? `pg_dump was killed by ${exit.signal}` : `pg_dump exited with code ${exit.code}`);
    deps.logger.warn({ target: input.target, kind, exitCode: exit.code, signal: exit.signal, stderr: redactedFirstLine(stderr, secrets) }, 'pg_dump failed');
    throw failure(input.target, kind, said);
  }
  if (writeError) {
    deps.logger.warn({ target: input.target, err: { message: writeError.message, code: writeError.code } }, 'writing the dump failed');
    throw new AppError('backup_failed', `The backup of target "${input.target}" failed: the dump could not be written to the backup folder (${writeError.code ?? 'error'}).`, { kind: 'other' });
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Takes a backup now. Throws AppError `backup_misconfigured` (a bad URL) or `backup_failed` (with the reason in plain
 * words, never the URL); whatever it leaves behind on failure does not count as a backup and is removed.
 */
export async function takeBackup(input: TakeBackupInput, deps: TakeBackupDeps): Promise<BackupOutcome> {
  const { target } = input;
  const { logger } = deps;
  const libpq = pgConnectionEnv(input.databaseUrl, target);
  const secrets = [libpq.PGPASSWORD ?? '', input.databaseUrl].filter((s) => s.length >= 4);
  const folder = targetBackupDir(input.dir, target);
  try {
    await mkdir(folder, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AppError('backup_failed', `The backup of target "${target}" failed: the backup folder ${folder} cannot be created (${code ?? 'error'}); mount a writable volume there.`, { kind: code === 'ENOSPC' ? 'disk_full' : 'other' });
  }
  await removeLeftovers(input.dir, target, deps.now(), deps.leftoverAgeMs ?? LEFTOVER_AGE_MS, logger).catch((err: unknown) => logger.warn({ err, target }, 'could not sweep leftovers of interrupted backups'));

  const startedAt = await unusedSecond(folder, target, input.version, deps);
  const stem = backupStem(target, input.version, startedAt);
  const dumpPath = join(folder, `${stem}${DUMP_EXTENSION}`);
  const recordPath = join(folder, `${stem}${RECORD_EXTENSION}`);
  const partialDump = join(folder, `.${stem}${DUMP_EXTENSION}${PARTIAL_SUFFIX}`);
  const partialRecord = join(folder, `.${stem}${RECORD_EXTENSION}${PARTIAL_SUFFIX}`);

  const client = new pg.Client({ connectionString: input.databaseUrl, application_name: 'checkstack-chatops backup', connectionTimeoutMillis: 10_000 });
  // A connection that breaks mid-backup must fail the backup, not the process.
  client.on('error', (err) => logger.warn({ target, err: { message: redactedFirstLine(err.message, secrets), code: (err as { code?: string }).code } }, 'backup connection lost'));
  let written = false;
  // A shutdown stops the counts too (pg_dump is stopped by runPgDump): the bot need not wait for a count(*) to end.
  const stopCounting = () => void client.end().catch(() => undefined);
  input.signal?.addEventListener('abort', stopCounting, { once: true });
  try {
    try {
      await client.connect();
    } catch (err) {
      const kind = classifyPgError(err);
      logger.warn({ target, kind, err: { message: redactedFirstLine((err as Error).message ?? '', secrets), code: (err as { code?: string }).code } }, 'backup could not connect');
      throw failure(target, kind, kind === 'other' ? redactedFirstLine((err as Error).message ?? '', secrets) : undefined);
    }
    let tables: Record<string, number>;
    let serverVersion: string;
    let dump: DumpResult;
    try {
      // The snapshot lives as long as this transaction: it stays open until pg_dump has finished.
      const exported = await exportSnapshot(client);
      const snapshot = exported.snapshot;
      serverVersion = exported.serverVersion;
      // pg_dump imports the snapshot at its start; the counts run meanwhile in the same snapshot, so they cost no wall time.
      const dumping = runPgDump(input, deps, snapshot, partialDump, secrets);
      const counting = countRows(client);
      const [dumped, counted] = await Promise.allSettled([dumping, counting]);
      if (dumped.status === 'rejected') throw dumped.reason;
      if (counted.status === 'rejected') throw counted.reason;
      dump = dumped.value;
      tables = counted.value;
      await commitSnapshot(client);
    } catch (err) {
      if (err instanceof AppError || (err instanceof Error && /interrupted/.test(err.message))) throw err;
      const kind = classifyPgError(err);
      logger.warn({ target, kind, err: { message: redactedFirstLine((err as Error).message ?? '', secrets), code: (err as { code?: string }).code } }, 'backup query failed');
      throw failure(target, kind, redactedFirstLine((err as Error).message ?? '', secrets));
    }

    await fsyncPath(partialDump);
    await rename(partialDump, dumpPath);
    const finishedAt = deps.now();
    const record = backupRecordSchema.parse({
      target,
      version: input.version,
      file: dumpPath,
      bytes: dump.bytes,
      sha256: dump.sha256,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      serverVersion,
      tables,
    });
    await writeFileDurably(partialRecord, `${JSON.stringify(record, null, 2)}\n`);
    await rename(partialRecord, recordPath);
    await fsyncPath(folder);
    written = true;
    const removed = await applyRetention(input.dir, target, input.keep, logger);
    logger.info({ target, file: basename(dumpPath), bytes: dump.bytes, tables: Object.keys(tables).length, removed: removed.length }, 'backup taken');
    return { record, dumpPath, recordPath, removed, durationMs: finishedAt.getTime() - startedAt.getTime() };
  } catch (err) {
    if (!written) {
      // Whatever this run wrote never counts as a backup: gone, so it cannot mislead anyone either.
      await Promise.all([partialDump, partialRecord, dumpPath, recordPath].map((p) => rm(p, { force: true })));
    }
    if (err instanceof AppError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw failure(target, 'disk_full');
    throw err;
  } finally {
    input.signal?.removeEventListener('abort', stopCounting);
    await client.end().catch(() => undefined);
  }
}
