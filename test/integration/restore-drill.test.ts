// Restore drills against the real Postgres: a backup of a database with known tables, restored into a throwaway
// database and counted; a tampered, a truncated and a miscounted backup each fail; the throwaway database is gone
// afterwards in every case, leftovers of a crashed bot are swept, and the role's password appears nowhere.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/catalog.js';
import { runRestoreDrill, sweepDrillDatabases, type RestoreDrillInput } from '../../src/backup/restore-drill.js';
import { takeBackup } from '../../src/backup/take-backup.js';
import { AppError } from '../../src/errors.js';
import { capturingLogger, createBackupDatabase, KNOWN_TABLES, type BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL } from '../support/database.js';
import { errorText, findSecrets } from '../support/secret-scan.js';

const TARGET = 'prod';

async function databasesLike(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`, [prefix]);
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('a restore drill of the newest backup', () => {
  let db: BackupDatabase;
  let work: string;
  let base: string;
  const capture = { lines: [] as string[], texts: [] as string[] };

  beforeAll(async () => {
    db = await createBackupDatabase();
    // Checkstack's compose user is the server's superuser; a dedicated role needs CREATEDB for drills (README).
    await adminQuery(`ALTER ROLE ${db.role} CREATEDB`);
    work = mkdtempSync(join(tmpdir(), 'ck-drill-'));
    base = join(work, 'base');
    const c = capturingLogger();
    await takeBackup({ target: TARGET, version: '0.30.0', databaseUrl: db.checkstackUrl, dir: base, keep: 10 }, { logger: c.logger, now: () => new Date() });
    capture.lines.push(...c.lines);
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

  /** A copy of the backup folder that one test may tamper with. */
  function copyOfBackups(name: string): string {
    const dir = join(work, name);
    cpSync(base, dir, { recursive: true });
    return dir;
  }
  async function drill(dir: string, extra: Partial<RestoreDrillInput> = {}) {
    const c = capturingLogger();
    try {
      const result = await runRestoreDrill({ target: TARGET, databaseUrl: db.checkstackUrl, dir, ...extra }, { logger: c.logger, now: () => new Date() });
      capture.texts.push(JSON.stringify(result));
      return result;
    } catch (err) {
      capture.texts.push(errorText(err));
      throw err;
    } finally {
      capture.lines.push(...c.lines);
    }
  }
  async function onlyBackup(dir: string) {
    const [backup] = (await listBackups(dir, TARGET)).backups;
    return backup!;
  }

  it('fails on a dump changed after it was written (same size, other bytes) without restoring anything', async () => {
    const dir = copyOfBackups('tampered');
    const backup = await onlyBackup(dir);
    const bytes = readFileSync(backup.dumpPath);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    writeFileSync(backup.dumpPath, bytes);

    const result = await drill(dir);

    expect(result).toMatchObject({ passed: false, failure: 'checksum', rowsMatch: false, started: false });
    expect(result.reason).toMatch(/SHA-256/);
    expect(await databasesLike(`${db.name}_drill_`)).toEqual([]);
  });

  it('fails on a truncated dump whose record was rewritten to match it: pg_restore stops, the drill database is dropped', async () => {
    const dir = copyOfBackups('truncated');
    const backup = await onlyBackup(dir);
    const half = readFileSync(backup.dumpPath).subarray(0, Math.floor(backup.record.bytes * 0.6));
    writeFileSync(backup.dumpPath, half);
    writeFileSync(backup.recordPath, JSON.stringify({ ...backup.record, bytes: half.length, sha256: createHash('sha256').update(half).digest('hex') }));

    const result = await drill(dir);

    expect(result).toMatchObject({ passed: false, failure: 'restore', rowsMatch: false });
    expect(result.reason).toMatch(/pg_restore failed/);
    expect(result.restoredInto).toMatch(new RegExp(`^${db.name}_drill_[0-9a-f]{8}$`));
    expect(await databasesLike(`${db.name}_drill_`)).toEqual([]);
  });

  it('fails when a table holds other rows than the record names, listing the mismatches both ways', async () => {
    const dir = copyOfBackups('miscounted');
    const backup = await onlyBackup(dir);
    const tables: Record<string, number> = { ...backup.record.tables, 'public.systems': 8, 'public.gone_table': 4 };
    delete tables['checkstack.plugins'];
    writeFileSync(backup.recordPath, JSON.stringify({ ...backup.record, tables }));

    const result = await drill(dir);

    expect(result).toMatchObject({ passed: false, failure: 'row_counts', rowsMatch: false, mismatchCount: 3 });
    expect(result.mismatches).toEqual([
      { table: 'checkstack.plugins', expected: null, restored: 3 },
      { table: 'public.gone_table', expected: 4, restored: null },
      { table: 'public.systems', expected: 8, restored: 7 },
    ]);
    expect(await databasesLike(`${db.name}_drill_`)).toEqual([]);
  });

  it('passes a whole backup: every table restored with the rows its record names; the throwaway instance gets the drill database', async () => {
    const dir = copyOfBackups('whole');
    const seen: { version: string; database: string; counts: Record<string, number> }[] = [];
    const result = await drill(dir, {
      startInstance: async ({ version, databaseUrl }) => {
        const client = new pg.Client({ connectionString: databaseUrl });
        await client.connect();
        const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM public.health_check_runs');
        const { rows: name } = await client.query<{ db: string }>('SELECT current_database() AS db');
        await client.end();
        seen.push({ version, database: name[0]!.db, counts: { 'public.health_check_runs': Number(rows[0]!.n) } });
        return { started: true };
      },
    });

    expect(result).toMatchObject({ target: TARGET, passed: true, failure: null, rowsMatch: true, mismatches: [], started: true, instanceChecked: true, tables: Object.keys(KNOWN_TABLES).length, backupVersion: '0.30.0' });
    expect(seen).toEqual([{ version: '0.30.0', database: result.restoredInto, counts: { 'public.health_check_runs': 250 } }]);
    expect(await databasesLike(`${db.name}_drill_`)).toEqual([]);
  });

  it('fails when the throwaway instance does not start, and still drops the database', async () => {
    const result = await drill(copyOfBackups('no-start'), { startInstance: async () => ({ started: false, reason: 'it exited with code 1 before logging Checkstack Core initialized' }) });
    expect(result).toMatchObject({ passed: false, failure: 'instance', rowsMatch: true, started: false, instanceChecked: true });
    expect(await databasesLike(`${db.name}_drill_`)).toEqual([]);
  });

  it('drops the drill database when the instance check throws', async () => {
    await expect(drill(copyOfBackups('throws'), { startInstance: async () => { throw new Error('docker went away'); } })).rejects.toThrow(/docker went away/);
    expect(await databasesLike(`${db.name}_drill_`)).toEqual([]);
  });

  it('refuses plainly when there is no backup', async () => {
    const err = await drill(join(work, 'empty')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('drill_failed');
    expect((err as AppError).message).toMatch(/no complete backup/);
  });

  it('a restarted bot sweeps the drill databases a crashed one left, and nothing else', async () => {
    // As the crashed bot left it: created by the target's role.
    await adminQuery(`CREATE DATABASE ${db.name}_drill_0badf00d OWNER ${db.role}`);
    await adminQuery(`CREATE DATABASE ${db.name}_drill_keepme`);
    try {
      const c = capturingLogger();
      const dropped = await sweepDrillDatabases({ target: TARGET, databaseUrl: db.checkstackUrl }, c.logger);
      capture.lines.push(...c.lines);
      expect(dropped).toEqual([`${db.name}_drill_0badf00d`]);
      expect(await databasesLike(`${db.name}_drill_`)).toEqual([`${db.name}_drill_keepme`]);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${db.name}_drill_keepme`);
    }
  });
});
