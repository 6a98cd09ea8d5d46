// Restore drills against the real Postgres: the newest backup restored into `<database>_drill_<hex>` on the same
// server, every table's count compared with the record; a truncated dump, a changed count and a changed byte fail,
// in plain words; the drill database is gone after every drill; leftovers of a crash are swept; the password of the
// database role is in no log line, error or result.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRestoreDrill, sweepDrillDatabases, type DrillResult } from '../../src/backup/restore-drill.js';
import { takeBackup, type BackupOutcome } from '../../src/backup/take-backup.js';
import { AppError } from '../../src/errors.js';
import { capturingLogger, createBackupDatabase, KNOWN_TABLES, type BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL } from '../support/database.js';
import { errorText, findSecrets } from '../support/secret-scan.js';

const TARGET = 'prod';

async function databasesLike(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE left(datname, $1) = $2 ORDER BY 1', [prefix.length, prefix]);
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the drill to fail');
}

describe('a restore drill of the newest backup', () => {
  let db: BackupDatabase;
  let work: string;
  const capture = { lines: [] as string[], texts: [] as string[] };

  beforeAll(async () => {
    db = await createBackupDatabase();
    // The drill creates its throwaway database as the target's own user, as Checkstack's compose user can.
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER ROLE ${db.role} CREATEDB`);
    await admin.end();
    work = mkdtempSync(join(tmpdir(), 'ck-drill-'));
  });
  afterAll(async () => {
    const findings = findSecrets({ password: db.password, url: db.checkstackUrl }, [
      ...capture.lines.map((l, i) => [`log line ${i}`, l] as [string, string]),
      ...capture.texts.map((t, i) => [`result or error ${i}`, t] as [string, string]),
    ]);
    expect(findings).toEqual([]);
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  const prefix = () => `${db.name}_drill_`;
  async function backupInto(dir: string): Promise<BackupOutcome> {
    const log = capturingLogger();
    const outcome = await takeBackup({ target: TARGET, version: '0.30.0', databaseUrl: db.checkstackUrl, dir, keep: 5 }, { logger: log.logger, now: () => new Date() });
    capture.lines.push(...log.lines);
    return outcome;
  }
  async function drill(dir: string, extra: { signal?: AbortSignal; pgRestore?: string } = {}): Promise<DrillResult> {
    const log = capturingLogger();
    try {
      const result = await runRestoreDrill(
        { target: TARGET, databaseUrl: db.checkstackUrl, dir, ...(extra.signal ? { signal: extra.signal } : {}) },
        { logger: log.logger, now: () => new Date(), ...(extra.pgRestore ? { pgRestore: extra.pgRestore } : {}) },
      );
      capture.texts.push(JSON.stringify(result));
      return result;
    } catch (err) {
      capture.texts.push(errorText(err));
      throw err;
    } finally {
      capture.lines.push(...log.lines);
    }
  }
  /** Rewrites the record beside the dump as `change` says (the dump's bytes and checksum follow the file on disk). */
  function rewriteRecord(outcome: BackupOutcome, change: (record: Record<string, unknown>) => void): void {
    const record = JSON.parse(readFileSync(outcome.recordPath, 'utf8')) as Record<string, unknown>;
    const bytes = readFileSync(outcome.dumpPath);
    record.bytes = bytes.length;
    record.sha256 = createHash('sha256').update(bytes).digest('hex');
    change(record);
    writeFileSync(outcome.recordPath, JSON.stringify(record));
  }

  it('fails on a truncated dump with what pg_restore said, and drops its database', async () => {
    const dir = mkdtempSync(join(work, 'truncated-'));
    const outcome = await backupInto(dir);
    truncateSync(outcome.dumpPath, Math.floor(outcome.record.bytes * 0.6));
    rewriteRecord(outcome, () => undefined);
    const err = await failureOf(drill(dir));
    expect(err.code).toBe('drill_failed');
    expect(err.message).toMatch(/^The restore drill of target "prod" failed: the newest backup did not restore\. pg_restore said: .+/);
    expect(await databasesLike(prefix())).toEqual([]);
  });

  it('fails on a changed row count, naming the table, and drops its database', async () => {
    const dir = mkdtempSync(join(work, 'count-'));
    const outcome = await backupInto(dir);
    rewriteRecord(outcome, (record) => {
      (record.tables as Record<string, number>)['public.systems'] = 8;
      (record.tables as Record<string, number>)['public.gone_table'] = 1;
    });
    const result = await drill(dir);
    expect(result).toMatchObject({ target: TARGET, passed: false, rowsMatch: false, tables: 6, mismatchCount: 2, backup: outcome.dumpPath.split('/').pop() });
    expect(result.mismatches).toEqual([
      { table: 'public.gone_table', expected: 1, restored: null },
      { table: 'public.systems', expected: 8, restored: 7 },
    ]);
    expect(await databasesLike(prefix())).toEqual([]);
  });

  it('refuses a dump whose checksum is not its record\'s, and a target without backups', async () => {
    const dir = mkdtempSync(join(work, 'checksum-'));
    const outcome = await backupInto(dir);
    const bytes = readFileSync(outcome.dumpPath);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    writeFileSync(outcome.dumpPath, bytes);
    const err = await failureOf(drill(dir));
    expect(err.code).toBe('drill_failed');
    expect(err.message).toMatch(/does not have the checksum its record names/);
    const none = await failureOf(drill(mkdtempSync(join(work, 'empty-'))));
    expect(none.message).toMatch(/there is no complete backup of it/);
    expect(await databasesLike(prefix())).toEqual([]);
  });

  it('passes when every table restores with its count, and leaves no database behind', async () => {
    const dir = mkdtempSync(join(work, 'passes-'));
    const outcome = await backupInto(dir);
    const result = await drill(dir);
    expect(result).toMatchObject({
      target: TARGET,
      backup: outcome.dumpPath.split('/').pop(),
      tables: Object.keys(KNOWN_TABLES).length,
      rowsMatch: true,
      mismatches: [],
      passed: true,
      started: null,
      version: '0.30.0',
    });
    expect(result.restoredInto).toMatch(new RegExp(`^${prefix()}[0-9a-f]{8}$`));
    expect(await databasesLike(prefix())).toEqual([]);
  });

  it('a shutdown stops the restore at once, says so, and drops the drill database', async () => {
    const dir = mkdtempSync(join(work, 'shutdown-'));
    await backupInto(dir);
    const marker = join(work, 'restore-started');
    const stalling = join(work, 'pg_restore_stalling');
    writeFileSync(stalling, `#!/bin/sh\ntouch ${marker}\nexec sleep 120\n`);
    chmodSync(stalling, 0o755);
    const shutdown = new AbortController();
    const running = drill(dir, { signal: shutdown.signal, pgRestore: stalling });
    for (let i = 0; i < 600 && !existsSync(marker); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(await databasesLike(prefix())).toHaveLength(1);
    shutdown.abort();
    const err = await failureOf(running);
    expect(err.message).toMatch(/the bot was shutting down, so the restore was stopped/);
    expect(await databasesLike(prefix())).toEqual([]);
  });

  it('the startup sweep drops a drill database a crash left, and nothing else', async () => {
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${prefix()}0badc0de OWNER ${db.role}`);
      await admin.query(`CREATE DATABASE ${prefix()}keepme`);
      const log = capturingLogger();
      const swept = await sweepDrillDatabases({ target: TARGET, databaseUrl: db.checkstackUrl }, log.logger);
      capture.lines.push(...log.lines);
      expect(swept).toEqual([`${prefix()}0badc0de`]);
      expect(await databasesLike(prefix())).toEqual([`${prefix()}keepme`]);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${prefix()}keepme`);
      await admin.query(`DROP DATABASE IF EXISTS ${prefix()}0badc0de`);
      await admin.end();
    }
  });
});
