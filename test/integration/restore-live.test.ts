// Restoring a pre-upgrade dump into the live database, against the real Postgres: rows written after the backup are
// gone and every count equals the backup's record; a dump whose checksum no longer matches is refused and the
// database keeps every row; a failing pg_restore changes nothing; the role's password appears nowhere.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreLive } from '../../src/backup/restore-live.js';
import { takeBackup, type BackupOutcome } from '../../src/backup/take-backup.js';
import { AppError } from '../../src/errors.js';
import { capturingLogger, countTables, createBackupDatabase, KNOWN_TABLES, type BackupDatabase } from '../support/backup-database.js';
import { errorText, findSecrets } from '../support/secret-scan.js';

const TARGET = 'prod';

async function writeAfterBackup(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`INSERT INTO public.systems (name) VALUES ('written after the backup'), ('also after')`);
    await client.query(`INSERT INTO public.empty_table VALUES (1)`);
    await client.query(`DELETE FROM checkstack.plugins WHERE name = 'a'`);
  } finally {
    await client.end();
  }
}

describe('restoring a pre-upgrade backup into the live database', () => {
  let db: BackupDatabase;
  let work: string;
  let backup: BackupOutcome;
  const seen: string[] = [];

  beforeEach(async () => {
    db = await createBackupDatabase();
    work = mkdtempSync(join(tmpdir(), 'ck-restore-live-'));
    const c = capturingLogger();
    backup = await takeBackup({ target: TARGET, version: '0.30.0', databaseUrl: db.checkstackUrl, dir: work, keep: 10 }, { logger: c.logger, now: () => new Date() });
    seen.push(...c.lines);
    await writeAfterBackup(db.checkstackUrl);
  });
  afterEach(async () => {
    const findings = findSecrets({ password: db.password, url: db.checkstackUrl }, seen.map((t, i) => [`line ${i}`, t] as [string, string]));
    seen.length = 0;
    rmSync(work, { recursive: true, force: true });
    await db.drop();
    expect(findings).toEqual([]);
  });

  it('refuses a dump whose checksum differs from the record and changes nothing', async () => {
    const before = await countTables(db.checkstackUrl);
    appendFileSync(backup.dumpPath, 'tampered');
    const c = capturingLogger();
    const err = await restoreLive({ target: TARGET, databaseUrl: db.checkstackUrl, dumpPath: backup.dumpPath, sha256: backup.record.sha256 }, { logger: c.logger }).catch((e: unknown) => e);
    seen.push(...c.lines, errorText(err));
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('restore_failed');
    expect((err as AppError).details.kind).toBe('checksum');
    expect((err as AppError).message).toMatch(/changed after it was written.*nothing was restored/);
    expect(await countTables(db.checkstackUrl)).toEqual(before);
    expect(before['public.systems']).toBe(KNOWN_TABLES['public.systems']! + 2);
  });

  it('refuses a dump that is gone', async () => {
    rmSync(backup.dumpPath);
    const err = await restoreLive({ target: TARGET, databaseUrl: db.checkstackUrl, dumpPath: backup.dumpPath, sha256: backup.record.sha256 }, { logger: capturingLogger().logger }).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('restore_failed');
    expect((err as AppError).message).toMatch(/no longer in the backup folder/);
  });

  it('leaves the database as it was when pg_restore fails part-way (one transaction)', async () => {
    // A table the dump re-creates is now referenced by an object outside the dump: --clean cannot drop it.
    const client = new pg.Client({ connectionString: db.checkstackUrl });
    await client.connect();
    await client.query(`CREATE TABLE public.newer (id int REFERENCES public.systems(id))`);
    await client.end();
    const before = await countTables(db.checkstackUrl);
    const c = capturingLogger();
    const err = await restoreLive({ target: TARGET, databaseUrl: db.checkstackUrl, dumpPath: backup.dumpPath, sha256: backup.record.sha256 }, { logger: c.logger }).catch((e: unknown) => e);
    seen.push(...c.lines, errorText(err));
    expect((err as AppError).code).toBe('restore_failed');
    expect((err as AppError).message).toMatch(/It said: .*one transaction, so the database is as it was/);
    expect(await countTables(db.checkstackUrl)).toEqual(before);
  });

  it('restores: rows written after the backup are gone and every count equals the record', async () => {
    const c = capturingLogger();
    await restoreLive({ target: TARGET, databaseUrl: db.checkstackUrl, dumpPath: backup.dumpPath, sha256: backup.record.sha256 }, { logger: c.logger });
    seen.push(...c.lines);
    const after = await countTables(db.checkstackUrl);
    expect(after).toEqual(backup.record.tables);
    expect(after).toEqual(KNOWN_TABLES);
    const client = new pg.Client({ connectionString: db.checkstackUrl });
    await client.connect();
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM public.systems WHERE name LIKE '%after%'`);
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});
