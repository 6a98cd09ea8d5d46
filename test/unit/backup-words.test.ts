import { describe, expect, it } from 'vitest';
import { checklistItems, type AutomaticCheck } from '../../src/domain/checklist.js';
import type { BackupRecord } from '../../src/domain/backup.js';
import type { UpgradePlan } from '../../src/domain/upgrade-plan.js';
import { backupCheckDetail, backupStatusLine, backupStepDetail, formatAge, formatSize } from '../../src/slack/backup-words.js';

const RECORD: BackupRecord = {
  target: 'prod', version: '0.30.0', file: '/backups/prod/prod-0.30.0-20261204T100000Z.dump', bytes: 12_900_000,
  sha256: 'ab'.repeat(32), startedAt: '2026-12-04T10:00:00Z', finishedAt: '2026-12-04T10:00:05Z', serverVersion: '16.6', tables: {},
};
const HOUR = 3_600_000;

describe('backup words', () => {
  it.each([
    [30_000, 'less than a minute'],
    [5 * 60_000, '5 min'],
    [HOUR, '1 h'],
    [5 * HOUR + 20 * 60_000, '5 h 20 min'],
    [47 * HOUR, '47 h'],
    [50 * HOUR, '2 d 2 h'],
    [90 * 24 * HOUR, '90 d'],
  ])('an age of %i ms reads "%s"', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });

  it.each([
    [512, '512 B'],
    [2048, '2.0 KB'],
    [12_900_000, '12.3 MB'],
    [3 * 1024 ** 3, '3.00 GB'],
  ])('a size of %i bytes reads "%s"', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it('the checklist check shows age, size and a checksum prefix, never the whole checksum', () => {
    const fresh = backupCheckDetail({ state: 'fresh', record: RECORD, ageMs: 2 * HOUR }, 24 * HOUR, 'prod');
    expect(fresh).toBe('the newest is 2 h old: `prod-0.30.0-20261204T100000Z.dump`, 12.3 MB, sha256 `abababababab…`');
    expect(backupCheckDetail({ state: 'stale', record: RECORD, ageMs: 30 * HOUR, maxAgeMs: 24 * HOUR }, 24 * HOUR, 'prod')).toMatch(/^the newest is 30 h old, older than the 24 h allowed: .*Type `\/checkstack backup prod`/);
    expect(backupCheckDetail({ state: 'none' }, 24 * HOUR, 'prod')).toMatch(/^no backup yet: type `\/checkstack backup prod`/);
    expect(backupStatusLine({ state: 'stale', record: RECORD, ageMs: 30 * HOUR, maxAgeMs: 24 * HOUR }, 24 * HOUR)).toMatch(/^⚠️ Backup: 30 h old, \*stale\*/);
  });

  it('escapes a file name or version with mrkdwn control characters once, not twice', () => {
    const odd = { ...RECORD, version: '0.30.0<b>', file: '/backups/prod/a&b<c>.dump' };
    const detail = backupStepDetail(odd);
    expect(detail).toContain('`a&amp;b&lt;c&gt;.dump`');
    expect(detail).toContain('taken on 0.30.0&lt;b&gt;');
    expect(detail).not.toContain('&amp;lt;');
    expect(detail).not.toContain('&amp;amp;');
  });
});

describe('the checklist with a backup the bot checks', () => {
  const plan = { from: '0.29.0', to: '0.30.0', minorsCrossed: 1, releasesInRange: [], flags: { destructive: false, encryption: false, migrations: false, truncated: false }, versionMismatch: false, unreachable: false } as unknown as UpgradePlan;
  const failedBackup: AutomaticCheck = { id: 'backup_fresh', title: 'A recent database backup exists', result: 'failed' };

  it('has no backup item for a person, and a failed backup check is not acknowledged away', () => {
    const ids = checklistItems(plan, [failedBackup], { backupCheckedByBot: true }).map((i) => i.id);
    expect(ids).toEqual(['notes_read', 'master_key', 'downtime']);
  });

  it('keeps the backup item for a person without a backup block', () => {
    expect(checklistItems(plan, []).map((i) => i.id)).toEqual(['notes_read', 'backup', 'master_key', 'downtime']);
  });
});
