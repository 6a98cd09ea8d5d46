import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listBackups, newestBackup, removeBackup } from '../../src/backup/catalog.js';
import type { BackupRecord } from '../../src/domain/backup.js';

describe('the backup catalog on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ck-catalog-'));
    await mkdir(join(dir, 'prod'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function store(stem: string, startedAt: string, content = 'PGDMP-content', overrides: Partial<BackupRecord> = {}): Promise<BackupRecord> {
    const file = join(dir, 'prod', `${stem}.dump`);
    await writeFile(file, content);
    const record: BackupRecord = {
      target: 'prod', version: '0.30.0', file, bytes: Buffer.byteLength(content), sha256: 'b'.repeat(64),
      startedAt, finishedAt: startedAt, serverVersion: '16.4', tables: {}, ...overrides,
    };
    await writeFile(join(dir, 'prod', `${stem}.json`), JSON.stringify(record));
    return record;
  }

  it('lists complete backups newest first and names every other file and why it does not count', async () => {
    const older = await store('prod-0.29.0-20261201T000000Z', '2026-12-01T00:00:00Z');
    const newer = await store('prod-0.30.0-20261202T000000Z', '2026-12-02T00:00:00Z');
    await store('prod-0.30.0-20261203T000000Z', '2026-12-03T00:00:00Z', 'short', { bytes: 999 });
    await store('prod-0.30.0-20261204T000000Z', '2026-12-04T00:00:00Z', 'x', { target: 'staging' });
    await writeFile(join(dir, 'prod', '.prod-0.30.0-20261205T000000Z.dump.partial'), 'PGDMP-half');
    await writeFile(join(dir, 'prod', 'prod-0.30.0-20261206T000000Z.dump'), 'a dump whose record was never written');
    await writeFile(join(dir, 'prod', 'prod-0.30.0-20261207T000000Z.json'), '{"target":');

    const listing = await listBackups(dir, 'prod');

    expect(listing.backups.map((b) => b.record)).toEqual([newer, older]);
    expect(listing.ignored.map((i) => [i.path.slice(dir.length + 6), i.reason]).sort()).toEqual([
      ['.prod-0.30.0-20261205T000000Z.dump.partial', 'an interrupted backup'],
      ['prod-0.30.0-20261203T000000Z.dump', 'no complete record beside it'],
      ['prod-0.30.0-20261203T000000Z.json', 'its dump has 5 bytes where the record says 999'],
      ['prod-0.30.0-20261204T000000Z.dump', 'no complete record beside it'],
      ['prod-0.30.0-20261204T000000Z.json', 'a backup of target "staging"'],
      ['prod-0.30.0-20261206T000000Z.dump', 'no complete record beside it'],
      ['prod-0.30.0-20261207T000000Z.json', 'not valid JSON'],
    ]);
    expect((await newestBackup(dir, 'prod'))?.record).toEqual(newer);
  });

  it('is empty for a target that never had a backup', async () => {
    expect(await listBackups(dir, 'staging')).toEqual({ backups: [], ignored: [] });
    expect(await newestBackup(dir, 'staging')).toBeNull();
  });

  it('removes a backup record first, then its dump', async () => {
    await store('prod-0.30.0-20261202T000000Z', '2026-12-02T00:00:00Z');
    const [backup] = (await listBackups(dir, 'prod')).backups;
    await removeBackup(backup!);
    expect(await listBackups(dir, 'prod')).toEqual({ backups: [], ignored: [] });
  });
});
