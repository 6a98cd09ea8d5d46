// Taking a backup against the real Postgres: a database with known tables and counts and its own password-protected
// role; what the dump holds, the record beside it, retention, failures in plain words, and interrupted backups
// (a pg_dump killed mid-dump, a bot process SIGKILLed mid-dump) that never count and never linger.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/catalog.js';
import { takeBackup, type TakeBackupInput } from '../../src/backup/take-backup.js';
import { AppError } from '../../src/errors.js';
import { capturingLogger, countTables, createBackupDatabase, KNOWN_TABLES, type BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL, databaseUrlFor } from '../support/database.js';
import { REPO_ROOT } from '../support/repo-root.js';
import { errorText, findSecrets } from '../support/secret-scan.js';

const TARGET = 'prod';
const VERSION = '0.30.0';

/** A clock one second further at each reading, so that backups taken in a row get distinct names. */
function steppingClock(start = Date.parse('2026-12-04T10:00:00Z')) {
  let t = start;
  return () => new Date((t += 1000));
}

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the backup to fail');
}

/** An executable shell script standing in for pg_dump. */
function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('taking a backup of a Checkstack database', () => {
  let db: BackupDatabase;
  let work: string;
  const capture = { lines: [] as string[], errors: [] as string[], files: [] as string[] };

  beforeAll(async () => {
    db = await createBackupDatabase();
    work = mkdtempSync(join(tmpdir(), 'ck-backup-'));
  });
  afterAll(async () => {
    // The password of the database role: in no log line, no error, no file but the dump's own content.
    const secrets = { password: db.password, url: db.checkstackUrl };
    const findings = findSecrets(secrets, [
      ...capture.lines.map((l, i) => [`log line ${i}`, l] as [string, string]),
      ...capture.errors.map((e, i) => [`error ${i}`, e] as [string, string]),
      ...capture.files.map((f) => [f, readFileSync(f, 'utf8')] as [string, string]),
    ]);
    expect(findings).toEqual([]);
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  function input(dir: string, extra: Partial<TakeBackupInput> = {}): TakeBackupInput {
    return { target: TARGET, version: VERSION, databaseUrl: db.checkstackUrl, dir, keep: 10, ...extra };
  }
  function logger() {
    const c = capturingLogger();
    return { logger: c.logger, done: () => capture.lines.push(...c.lines) };
  }

  it('writes a custom-format dump that restores, with a record whose counts and checksum match', async () => {
    const dir = mkdtempSync(join(work, 'content-'));
    const log = logger();
    const outcome = await takeBackup(input(dir), { logger: log.logger, now: steppingClock() });
    log.done();

    expect(outcome.record).toMatchObject({ target: TARGET, version: VERSION, tables: KNOWN_TABLES });
    expect(outcome.record.file).toBe(join(dir, TARGET, `prod-0.30.0-${outcome.record.startedAt.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}.dump`));
    expect(outcome.record.serverVersion).toMatch(/^\d+(\.\d+)?/);
    const bytes = readFileSync(outcome.dumpPath);
    expect(bytes.subarray(0, 5).toString()).toBe('PGDMP');
    expect(outcome.record.bytes).toBe(bytes.length);
    expect(outcome.record.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(JSON.parse(readFileSync(outcome.recordPath, 'utf8'))).toEqual(outcome.record);
    expect(readdirSync(join(dir, TARGET)).sort()).toEqual([outcome.dumpPath.split('/').pop(), outcome.recordPath.split('/').pop()]);
    expect((await listBackups(dir, TARGET)).backups.map((b) => b.record)).toEqual([outcome.record]);
    capture.files.push(outcome.recordPath);

    const listed = execFileSync('pg_restore', ['--list', outcome.dumpPath], { encoding: 'utf8' });
    expect(listed).toContain('TABLE DATA public health_check_runs');
    expect(listed).toContain('TABLE DATA checkstack plugins');

    // Restored into a scratch database, every table holds the rows the record names.
    const scratch = `${db.name}_restored`;
    execFileSync('psql', [ADMIN_DATABASE_URL, '-c', `CREATE DATABASE ${scratch}`]);
    try {
      execFileSync('pg_restore', ['--no-owner', '--no-acl', '--exit-on-error', '--dbname', databaseUrlFor(scratch), outcome.dumpPath]);
      expect(await countTables(databaseUrlFor(scratch))).toEqual(outcome.record.tables);
    } finally {
      execFileSync('psql', [ADMIN_DATABASE_URL, '-c', `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`]);
    }
  });

  it('takes the counts in the dump\'s snapshot: rows written during the dump are in neither', async () => {
    const dir = mkdtempSync(join(work, 'snapshot-'));
    // pg_dump starts only after a row has been added (and committed) behind the snapshot's back.
    const slowDump = script(work, 'pg_dump_after_insert', `psql -X -q -c "INSERT INTO public.systems (name) VALUES ('late')" >/dev/null && exec pg_dump "$@"`);
    const log = logger();
    const outcome = await takeBackup(input(dir), { logger: log.logger, now: steppingClock(), pgDump: slowDump });
    log.done();
    expect(outcome.record.tables['public.systems']).toBe(7);
    const restoredData = execFileSync('pg_restore', ['--data-only', '--table=systems', '--file=-', outcome.dumpPath], { encoding: 'utf8' });
    expect(restoredData).not.toContain('late');
    expect(await countTables(db.checkstackUrl)).toMatchObject({ 'public.systems': 8 });
  });

  it('keeps the newest `keep` backups and deletes the older ones, record first', async () => {
    const dir = mkdtempSync(join(work, 'retention-'));
    const now = steppingClock();
    const log = logger();
    const taken = [];
    for (let i = 0; i < 4; i += 1) taken.push(await takeBackup(input(dir, { keep: 2 }), { logger: log.logger, now }));
    log.done();
    const left = (await listBackups(dir, TARGET)).backups.map((b) => b.record.file);
    expect(left).toEqual([taken[3]!.record.file, taken[2]!.record.file]);
    expect(taken[3]!.removed).toEqual([`${taken[1]!.record.file.split('/').pop()}`]);
    expect(readdirSync(join(dir, TARGET))).toHaveLength(4);
  });

  it('two backups started in the same second both count: the second waits for the next second instead of replacing the first', async () => {
    const dir = mkdtempSync(join(work, 'same-second-'));
    // A clock that stands still until the backup sleeps, as two quick backups on a real clock would read it.
    let t = Date.parse('2026-12-04T12:00:00.250Z');
    const slept: number[] = [];
    const deps = { now: () => new Date(t), sleep: async (ms: number) => { slept.push(ms); t += ms; } };
    const log = logger();
    const first = await takeBackup(input(dir), { logger: log.logger, ...deps });
    const second = await takeBackup(input(dir), { logger: log.logger, ...deps });
    log.done();
    expect(slept).toEqual([750]);
    expect(second.record.file).not.toBe(first.record.file);
    expect(second.record.startedAt).toBe('2026-12-04T12:00:01.000Z');
    const left = (await listBackups(dir, TARGET)).backups.map((b) => b.record.sha256);
    expect(left).toEqual([second.record.sha256, first.record.sha256]);
    expect(readdirSync(join(dir, TARGET))).toHaveLength(4);
  });

  it('a pg_dump killed in the middle leaves nothing that counts, and nothing at all', async () => {
    const dir = mkdtempSync(join(work, 'killed-'));
    const log = logger();
    const earlier = await takeBackup(input(dir), { logger: log.logger, now: steppingClock() });
    // Half the dump comes out, then pg_dump dies by SIGKILL.
    const killed = script(work, 'pg_dump_killed', `pg_dump "$@" | head -c 2000\nkill -9 $$`);
    const err = await failureOf(takeBackup(input(dir), { logger: log.logger, now: steppingClock(Date.parse('2026-12-04T11:00:00Z')), pgDump: killed }));
    log.done();
    capture.errors.push(errorText(err));
    expect(err.code).toBe('backup_failed');
    expect(err.message).toMatch(/^The backup of target "prod" failed: .*killed by SIGKILL/);
    expect(readdirSync(join(dir, TARGET)).sort()).toEqual([earlier.dumpPath.split('/').pop(), earlier.recordPath.split('/').pop()].sort());
    expect((await listBackups(dir, TARGET)).backups.map((b) => b.record)).toEqual([earlier.record]);
  });

  it('a shutdown in the middle of the dump stops it at once and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(work, 'shutdown-'));
    const marker = join(work, 'shutdown-dump-written');
    const stalling = script(work, 'pg_dump_stalling_for_shutdown', `pg_dump "$@"\ntouch ${marker}\nexec sleep 120`);
    const shutdown = new AbortController();
    const log = logger();
    const backup = takeBackup(input(dir, { signal: shutdown.signal }), { logger: log.logger, now: steppingClock(), pgDump: stalling });
    for (let i = 0; i < 600 && !existsSync(marker); i += 1) await new Promise((r) => setTimeout(r, 100));
    shutdown.abort();
    const err = await backup.then(() => null, (e: unknown) => e as Error);
    log.done();
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AppError);
    expect(err!.message).toMatch(/interrupted/);
    expect(readdirSync(join(dir, TARGET))).toEqual([]);
  });

  it('says in plain words why a backup failed, without the URL or the password', async () => {
    const dir = mkdtempSync(join(work, 'failures-'));
    const log = logger();
    const mismatch = script(work, 'pg_dump_old', `echo "pg_dump: error: aborting because of server version mismatch" >&2\necho "pg_dump: detail: server version: 17.2; pg_dump version: 15.20" >&2\nexit 1`);
    const url = new URL(db.checkstackUrl);
    const cases: Array<[string, Partial<TakeBackupInput>, string | undefined, RegExp]> = [
      ['old pg_dump', {}, mismatch, /pg_dump is older than the server: the client major version must be at least the server's.*server version mismatch/],
      ['unreachable', { databaseUrl: Object.assign(new URL(url), { port: '1' }).toString() }, undefined, /the database server did not answer/],
      ['no such role', { databaseUrl: Object.assign(new URL(url), { username: 'nobody_here' }).toString() }, undefined, /the server refused the user or password/],
      ['no such database', { databaseUrl: Object.assign(new URL(url), { pathname: '/no_such_db_here' }).toString() }, undefined, /the database in the URL does not exist/],
      ['not postgres', { databaseUrl: `mysql://${db.role}:${encodeURIComponent(db.password)}@127.0.0.1/x` }, undefined, /must start with postgres:\/\//],
    ];
    for (const [name, extra, pgDump, message] of cases) {
      const err = await failureOf(takeBackup(input(dir, extra), { logger: log.logger, now: steppingClock(), ...(pgDump ? { pgDump } : {}) }));
      capture.errors.push(errorText(err));
      expect(err.message, name).toMatch(message);
      expect(err.message, name).not.toContain(db.password);
      expect(err.message, name).not.toContain(encodeURIComponent(db.password));
    }
    log.done();
    expect(existsSync(join(dir, TARGET)) ? readdirSync(join(dir, TARGET)) : []).toEqual([]);
  });

  it('a process SIGKILLed in the middle of the dump leaves no backup that counts; the next backup sweeps its leftover', async () => {
    const dir = mkdtempSync(join(work, 'sigkill-'));
    const marker = join(work, 'dump-written');
    // The whole dump is written, then pg_dump's stand-in keeps the pipe open: the backup cannot finish before the kill.
    const stalling = script(work, 'pg_dump_stalling', `pg_dump "$@"\ntouch ${marker}\nsleep 120`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/support/backup-process-entry.ts')], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, BACKUP_INPUT: JSON.stringify({ ...input(dir), pgDump: stalling }) },
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    for (let i = 0; i < 600 && !existsSync(marker); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(marker)).toBe(true);
    const partial = readdirSync(join(dir, TARGET));
    expect(partial).toHaveLength(1);
    expect(partial[0]).toMatch(/^\.prod-0\.30\.0-\d{8}T\d{6}Z\.dump\.partial$/);
    expect(statSync(join(dir, TARGET, partial[0]!)).size).toBeGreaterThan(1000);

    process.kill(child.pid!, 'SIGKILL');
    expect(await exited).toBe('SIGKILL');
    process.kill(-child.pid!, 'SIGKILL'); // the stand-in's sleep, in the same process group
    capture.lines.push(stderr);

    const listing = await listBackups(dir, TARGET);
    expect(listing.backups).toEqual([]);
    expect(listing.ignored.map((i) => i.reason)).toEqual(['an interrupted backup']);

    const log = logger();
    const again = await takeBackup(input(dir), { logger: log.logger, now: () => new Date(), leftoverAgeMs: 0 });
    log.done();
    expect((await listBackups(dir, TARGET)).backups.map((b) => b.record)).toEqual([again.record]);
    expect(readdirSync(join(dir, TARGET)).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });
});
