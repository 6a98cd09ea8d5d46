// The words of a drill and the freshness they rest on: flagged when none, failed or older than drill.every; mismatches
// past the first five counted, not listed.
import { describe, expect, it } from 'vitest';
import { drillFreshness } from '../../src/domain/backup.js';
import { drillResultText, drillStatusLine } from '../../src/slack/drill-words.js';

const now = new Date('2026-12-04T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
const NINETY_DAYS = 90 * 86_400_000;

describe('drill freshness and the status line', () => {
  it('is overdue only past drill.every, and never for drills on demand only', () => {
    expect(drillFreshness(null, now, NINETY_DAYS)).toEqual({ state: 'none' });
    expect(drillFreshness(daysAgo(90), now, NINETY_DAYS)).toEqual({ state: 'recent', ageMs: NINETY_DAYS });
    expect(drillFreshness(daysAgo(91), now, NINETY_DAYS)).toMatchObject({ state: 'overdue', everyMs: NINETY_DAYS });
    expect(drillFreshness(daysAgo(400), now, null)).toMatchObject({ state: 'recent' });
  });

  it('flags none, failed and overdue; a recent pass is plain', () => {
    expect(drillStatusLine(null, { state: 'none' })).toMatch(/^⚠️ Restore drill: none yet/);
    expect(drillStatusLine({ passed: true }, drillFreshness(daysAgo(3), now, NINETY_DAYS))).toBe('Restore drill: passed 3 d ago.');
    expect(drillStatusLine({ passed: false }, drillFreshness(daysAgo(3), now, NINETY_DAYS))).toBe('⚠️ Restore drill: *failed* 3 d ago.');
    expect(drillStatusLine({ passed: true }, drillFreshness(daysAgo(100), now, NINETY_DAYS))).toBe('⚠️ Restore drill: passed 100 d ago, *overdue* (older than 90 d).');
  });

  it('names the first five mismatches and counts the rest, with table names escaped', () => {
    const mismatches = Array.from({ length: 7 }, (_, i) => ({ table: `public.t${i}<&>`, expected: i, restored: i + 1 }));
    const text = drillResultText({ target: 'prod', backup: 'prod-1.0.0-20261204T100000Z.dump', tables: 9, passed: false, mismatches, mismatchCount: 7, durationMs: 1500 }, null);
    expect(text.split('\n')).toHaveLength(1 + 5 + 1);
    expect(text).toMatch(/^❌ Restore drill of \*prod\* \(scheduled\) failed in 1\.5 s: .* but 7 of 9 tables/);
    expect(text).toContain('`public.t0&lt;&amp;&gt;`: backup 0 rows, restored 1 rows');
    expect(text).not.toContain('t5');
    expect(text.endsWith('…and 2 more')).toBe(true);
  });

  it('words a failure that is not the counts by its reason, and a started instance on a pass', () => {
    const base = { target: 'prod', backup: 'prod-1.0.0-20261204T100000Z.dump', tables: 9, mismatches: [], mismatchCount: 0, durationMs: 2000 };
    expect(drillResultText({ ...base, passed: false, failure: 'instance', reason: 'the throwaway Checkstack exited with code 1 <oops>' }, 'U1')).toBe(
      '❌ Restore drill of *prod* for <@U1> failed in 2.0 s (`prod-1.0.0-20261204T100000Z.dump`): the throwaway Checkstack exited with code 1 &lt;oops&gt;',
    );
    expect(drillResultText({ ...base, passed: true, instanceChecked: true, started: true }, null)).toMatch(/all 9 tables have the row counts of the backup, and a throwaway Checkstack started on it\.$/);
  });
});
