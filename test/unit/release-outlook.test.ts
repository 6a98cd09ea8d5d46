import { describe, expect, it } from 'vitest';
import type { AutoUpgradePolicy } from '../../src/domain/auto-upgrade.js';
import { maintenanceWindowSchema } from '../../src/domain/maintenance-window.js';
import type { VersionRun } from '../../src/domain/promotion.js';
import { releaseOutlook, type OutlookTarget } from '../../src/domain/release-outlook.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = new Date('2026-01-30T12:00:00Z'); // Friday
const t = (iso: string) => new Date(iso);
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR);

const WEEKEND = maintenanceWindowSchema.parse({ days: ['sat', 'sun'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin' });
const AUTO: AutoUpgradePolicy = { patches: true, minimumReleaseAgeMs: 72 * HOUR, noticeMs: 10 * MINUTE, window: WEEKEND };
const STAGING: OutlookTarget = { name: 'staging', autoUpgrade: AUTO, promotion: null, running: '0.30.0', paused: null };
const PROD: OutlookTarget = { name: 'prod', autoUpgrade: AUTO, promotion: { from: 'staging', soakMs: 24 * HOUR }, running: '0.30.0', paused: null };

const PAUSE = { since: hoursAgo(5), cause: 'failed_upgrade' as const, version: '0.30.0', upgradeId: null };
const patch = { version: '0.30.1', prerelease: false, publishedAt: hoursAgo(80) };
const minor = { version: '0.31.0', prerelease: false, publishedAt: hoursAgo(80) };

function outlook(release: typeof patch, targets: OutlookTarget[], evidence: VersionRun[] = []) {
  return releaseOutlook({ release, targets, evidence, now: NOW });
}

describe('releaseOutlook', () => {
  it('shows a patch going to staging in tonight\'s window and to prod 24 h later, in prod\'s window', () => {
    const [staging, prod] = outlook(patch, [STAGING, PROD]);
    expect(staging).toEqual({
      target: 'staging',
      outlook: 'automatic',
      startAt: t('2026-01-31T01:00:00Z'),
      projected: false,
      ageEligibleAt: new Date(hoursAgo(80).getTime() + 72 * HOUR),
      promotion: null,
      window: WEEKEND,
      inCurrentWindow: true,
    });
    expect(prod).toMatchObject({
      target: 'prod',
      outlook: 'automatic',
      startAt: t('2026-02-01T01:00:00Z'),
      projected: true,
      promotion: { from: 'staging', soakMs: 24 * HOUR, expectedAt: t('2026-02-01T01:00:00Z'), projected: true, gate: { holds: false, why: 'never_ran' } },
      inCurrentWindow: false,
    });
  });

  it('projects a three-stage chain from each stage\'s projected start', () => {
    const dev: OutlookTarget = { ...STAGING, name: 'dev', autoUpgrade: { ...AUTO, window: null } };
    const staging: OutlookTarget = { ...STAGING, promotion: { from: 'dev', soakMs: 2 * HOUR } };
    const [prodOutlook, stagingOutlook, devOutlook] = outlook(patch, [PROD, staging, dev]);
    expect(devOutlook).toMatchObject({ outlook: 'automatic', startAt: new Date(NOW.getTime() + 10 * MINUTE) });
    expect(stagingOutlook).toMatchObject({ outlook: 'automatic', startAt: t('2026-01-31T01:00:00Z'), projected: true });
    expect(prodOutlook).toMatchObject({ outlook: 'automatic', startAt: t('2026-02-01T01:00:00Z'), projected: true });
  });

  it('uses what staging already proved: soaking there since 2 h, prod follows in the window after the soak', () => {
    const [, prod] = outlook(patch, [STAGING, PROD], [{ target: 'staging', version: '0.30.1', since: hoursAgo(2), until: null, result: 'succeeded', postflight: 'passed' }]);
    // soak ends Sat 10:00Z, after Saturday's window: Sunday 02:00 Berlin.
    expect(prod).toMatchObject({ outlook: 'automatic', startAt: t('2026-02-01T01:00:00Z'), projected: false, promotion: { expectedAt: t('2026-01-31T10:00:00Z'), projected: false, gate: { why: 'soaking' } } });
  });

  it('says a minor needs a checklist everywhere, and that prod also waits on staging', () => {
    const [staging, prod] = outlook(minor, [STAGING, PROD]);
    expect(staging).toEqual({ target: 'staging', outlook: 'checklist', bump: 'minor', why: 'not_a_patch', pause: null, promotion: null });
    expect(prod).toMatchObject({ target: 'prod', outlook: 'checklist', bump: 'minor', why: 'not_a_patch', promotion: { from: 'staging', soakMs: 24 * HOUR, expectedAt: null, projected: false } });
  });

  it('says a major needs a checklist', () => {
    expect(outlook({ ...minor, version: '1.0.0' }, [STAGING])).toMatchObject([{ outlook: 'checklist', bump: 'major', why: 'not_a_patch' }]);
  });

  it('gives a too-young patch the first window after it is old enough', () => {
    const [staging] = outlook({ ...patch, publishedAt: hoursAgo(3) }, [STAGING]);
    // 72 h old on Monday 2 February 09:00Z: the next window is Saturday 7 February.
    expect(staging).toMatchObject({ outlook: 'automatic', startAt: t('2026-02-07T01:00:00Z'), inCurrentWindow: false });
  });

  it.each<[string, OutlookTarget, Record<string, unknown>]>([
    ['without autoUpgrade', { ...STAGING, autoUpgrade: null }, { outlook: 'checklist', bump: 'patch', why: 'auto_off' }],
    ['with patches: false', { ...STAGING, autoUpgrade: { ...AUTO, patches: false } }, { outlook: 'checklist', why: 'auto_off' }],
    ['while paused', { ...STAGING, paused: PAUSE }, { outlook: 'checklist', why: 'paused', pause: PAUSE }],
    ['running a prerelease of it', { ...STAGING, running: '0.30.1-rc.1' }, { outlook: 'checklist', bump: 'patch', why: 'runs_prerelease' }],
    ['running it already', { ...STAGING, running: '0.30.1' }, { outlook: 'up_to_date', running: '0.30.1' }],
    ['running a newer one', { ...STAGING, running: '0.30.2' }, { outlook: 'up_to_date', running: '0.30.2' }],
    ['on an older line: a minor for it', { ...STAGING, running: '0.29.3' }, { outlook: 'checklist', bump: 'minor', why: 'not_a_patch' }],
    ['with an unknown version', { ...STAGING, running: null }, { outlook: 'version_unknown' }],
  ])('a patch on a target %s', (_name, target, expected) => {
    expect(outlook(patch, [target])).toEqual([expect.objectContaining({ target: 'staging', ...expected })]);
  });

  it('calls a prerelease a prerelease everywhere', () => {
    expect(outlook({ version: '0.31.0-rc.1', prerelease: true, publishedAt: hoursAgo(80) }, [STAGING])).toMatchObject([{ outlook: 'checklist', bump: 'prerelease', why: 'prerelease' }]);
    expect(outlook({ version: '0.30.1', prerelease: true, publishedAt: hoursAgo(80) }, [STAGING])).toMatchObject([{ outlook: 'checklist', bump: 'prerelease', why: 'prerelease' }]);
  });

  it('leaves the start open when prod waits on a staging that needs a checklist', () => {
    const [, prod] = outlook(patch, [{ ...STAGING, autoUpgrade: null }, PROD]);
    expect(prod).toMatchObject({ outlook: 'automatic', startAt: null, promotion: { expectedAt: null, gate: { why: 'never_ran' } } });
  });

  it('survives a promotion cycle that slipped past the config check', () => {
    const a: OutlookTarget = { ...STAGING, name: 'a', promotion: { from: 'b', soakMs: HOUR } };
    const b: OutlookTarget = { ...STAGING, name: 'b', promotion: { from: 'a', soakMs: HOUR } };
    expect(outlook(patch, [a, b]).map((o) => o.outlook)).toEqual(['automatic', 'automatic']);
  });
});
