import { describe, expect, it } from 'vitest';
import { backupFreshness, backupRecordSchema, backupStem, compactUtc, newestFirst, retentionVictims, type BackupRecord } from '../../src/domain/backup.js';

const record = (startedAt: string, finishedAt = startedAt, file = `/b/prod/prod-0.30.0-${compactUtc(new Date(startedAt))}.dump`): BackupRecord => ({
  target: 'prod',
  version: '0.30.0',
  file,
  bytes: 10,
  sha256: 'a'.repeat(64),
  startedAt,
  finishedAt,
  serverVersion: '16.4',
  tables: { 'public.checks': 3 },
});

describe('backup names', () => {
  it('puts the UTC start time, to the second, in a sortable form', () => {
    expect(compactUtc(new Date('2026-12-04T15:30:07.123Z'))).toBe('20261204T153007Z');
    expect(backupStem('prod', '0.30.0', new Date('2026-01-02T03:04:05Z'))).toBe('prod-0.30.0-20260102T030405Z');
  });
});

describe('backupRecordSchema', () => {
  it('accepts the record of the contract and refuses extra or missing fields', () => {
    expect(backupRecordSchema.parse(record('2026-12-04T15:30:07Z'))).toEqual(record('2026-12-04T15:30:07Z'));
    expect(backupRecordSchema.safeParse({ ...record('2026-12-04T15:30:07Z'), password: 'x' }).success).toBe(false);
    const { sha256: _sha, ...withoutSha } = record('2026-12-04T15:30:07Z');
    expect(backupRecordSchema.safeParse(withoutSha).success).toBe(false);
    expect(backupRecordSchema.safeParse({ ...record('2026-12-04T15:30:07Z'), tables: { 'public.checks': -1 } }).success).toBe(false);
  });
});

describe('retention and order', () => {
  const a = record('2026-12-01T00:00:00Z');
  const b = record('2026-12-02T00:00:00Z');
  const c = record('2026-12-03T00:00:00Z');
  const cTwin = record('2026-12-03T00:00:00Z', '2026-12-03T00:00:00Z', '/b/prod/prod-0.30.1-20261203T000000Z.dump');

  it('orders newest first, and two dumps of the same second by name', () => {
    expect(newestFirst([a, c, b])).toEqual([c, b, a]);
    expect(newestFirst([c, cTwin]).map((r) => r.file)).toEqual([cTwin.file, c.file]);
  });

  it('deletes all but the newest `keep`', () => {
    expect(retentionVictims([b, a, c], 2)).toEqual([a]);
    expect(retentionVictims([b, a, c], 3)).toEqual([]);
    expect(retentionVictims([b, a, c], 1)).toEqual([b, a]);
  });
});

describe('backupFreshness', () => {
  const maxAge = 24 * 3_600_000;
  it('is fresh within maxAge of when the dump finished, stale after, none without a backup', () => {
    const done = record('2026-12-03T11:00:00Z', '2026-12-03T12:00:00Z');
    expect(backupFreshness(done, new Date('2026-12-04T12:00:00Z'), maxAge)).toEqual({ state: 'fresh', record: done, ageMs: maxAge });
    expect(backupFreshness(done, new Date('2026-12-04T12:00:01Z'), maxAge)).toEqual({ state: 'stale', record: done, ageMs: maxAge + 1000, maxAgeMs: maxAge });
    expect(backupFreshness(null, new Date(), maxAge)).toEqual({ state: 'none' });
  });
});
