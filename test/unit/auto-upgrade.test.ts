import { describe, expect, it } from 'vitest';
import {
  autoUpgradeKey,
  autoUpgradeSchema,
  decideAutoUpgrade,
  type AutoUpgradeDecision,
  type AutoUpgradeInput,
  type AutoUpgradePolicy,
  type KnownRelease,
  type ScheduledAutoUpgrade,
} from '../../src/domain/auto-upgrade.js';
import { maintenanceWindowSchema } from '../../src/domain/maintenance-window.js';
import type { VersionRun } from '../../src/domain/promotion.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// Friday 30 January 2026, 13:00 in Berlin. 0.30.0 is the fixtures' newest release; its patches are made up here.
const NOW = new Date('2026-01-30T12:00:00Z');
const t = (iso: string) => new Date(iso);
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR);

const release = (version: string, publishedAt: string | null, extra: Partial<KnownRelease> = {}): KnownRelease => ({
  version,
  draft: false,
  prerelease: false,
  publishedAt: publishedAt === null ? null : t(publishedAt),
  ...extra,
});

const R0300 = release('0.30.0', '2026-01-23T00:31:48Z');
const R0301 = release('0.30.1', '2026-01-26T09:15:00Z'); // 72 h old on 29 Jan 09:15Z
const R0302 = release('0.30.2', '2026-01-27T10:00:00Z'); // 72 h old on 30 Jan 10:00Z, two hours before NOW
const R0303 = release('0.30.3', '2026-01-30T09:00:00Z'); // 3 h old at NOW
const R0310 = release('0.31.0', '2026-01-28T08:00:00Z');

const WEEKEND = maintenanceWindowSchema.parse({ days: ['sat', 'sun'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin' });
const POLICY: AutoUpgradePolicy = { patches: true, minimumReleaseAgeMs: 72 * HOUR, noticeMs: 10 * MINUTE, window: null };

function input(overrides: Partial<AutoUpgradeInput> = {}): AutoUpgradeInput {
  return {
    target: 'prod',
    policy: POLICY,
    promotion: null,
    running: '0.30.0',
    paused: null,
    releases: [R0300],
    evidence: [],
    declined: [],
    busy: null,
    scheduled: null,
    now: NOW,
    ...overrides,
  };
}

const stagingRun = (version: string, since: Date, extra: Partial<VersionRun> = {}): VersionRun => ({
  target: 'staging',
  version,
  since,
  until: null,
  result: 'succeeded',
  postflight: 'passed',
  upgradeId: null,
  ...extra,
});

function scheduledFrom(decision: AutoUpgradeDecision, noticePostedAt: Date | null = null): ScheduledAutoUpgrade {
  if (decision.action !== 'schedule') throw new Error(`expected a schedule, got ${decision.action}`);
  const { key, version, noticeAt, startAt } = decision.plan;
  return { key, version, noticeAt, startAt, noticePostedAt };
}

describe('decideAutoUpgrade: when nothing is automatic', () => {
  it.each<[string, Partial<AutoUpgradeInput>, Record<string, unknown>]>([
    ['no autoUpgrade block', { policy: null, releases: [R0300, R0301] }, { reason: 'disabled' }],
    ['patches: false', { policy: { ...POLICY, patches: false }, releases: [R0300, R0301] }, { reason: 'disabled' }],
    ['the running version is unknown', { running: null, releases: [R0300, R0301] }, { reason: 'version_unknown', running: null }],
    ['the target runs `latest`', { running: 'latest', releases: [R0300, R0301] }, { reason: 'version_unknown', running: 'latest' }],
    ['the target runs a prerelease', { running: '0.31.0-rc.1', releases: [R0310, release('0.31.1', '2026-01-20T00:00:00Z')] }, { reason: 'runs_prerelease', running: '0.31.0-rc.1' }],
    [
      'automatic upgrades are paused by a failed one',
      { paused: { since: hoursAgo(30), cause: 'failed_upgrade', version: '0.30.1', upgradeId: 'u-1' }, releases: [R0300, R0301, R0302] },
      { reason: 'paused', pause: { since: hoursAgo(30), cause: 'failed_upgrade', version: '0.30.1', upgradeId: 'u-1' } },
    ],
    ['a manual request is open', { busy: { kind: 'request', version: '0.31.0', upgradeId: 'u-2' }, releases: [R0300, R0301] }, { reason: 'busy', busy: { kind: 'request', version: '0.31.0', upgradeId: 'u-2' } }],
    ['it runs the newest release', {}, { reason: 'no_patch', running: '0.30.0', newest: null, declined: null }],
    ['the only newer release is a minor', { releases: [R0300, R0310] }, { reason: 'no_patch', newest: { version: '0.31.0', bump: 'minor' } }],
    ['the only newer release is a major', { releases: [R0300, release('1.0.0', '2026-01-01T00:00:00Z')] }, { reason: 'no_patch', newest: { version: '1.0.0', bump: 'major' } }],
    ['the patch is a draft', { releases: [R0300, release('0.30.1', null, { draft: true })] }, { reason: 'no_patch', newest: null }],
    ['the patch is a draft with a date', { releases: [R0300, release('0.30.1', '2026-01-20T00:00:00Z', { draft: true })] }, { reason: 'no_patch', newest: null }],
    ['the patch is a prerelease by its version', { releases: [R0300, release('0.30.1-rc.1', '2026-01-20T00:00:00Z')] }, { reason: 'no_patch', newest: null }],
    ['the patch is marked prerelease on GitHub', { releases: [R0300, release('0.30.1', '2026-01-20T00:00:00Z', { prerelease: true })] }, { reason: 'no_patch', newest: null }],
    ['the patch is older than the running version', { running: '0.30.2', releases: [R0301, R0302] }, { reason: 'no_patch', running: '0.30.2', newest: null }],
    ['a patch of an older line came out later', { releases: [R0300, release('0.29.7', '2026-01-29T00:00:00Z')] }, { reason: 'no_patch', newest: null }],
    [
      'a person cancelled the newest patch',
      { releases: [R0300, R0301, R0302], declined: [{ version: '0.30.2', by: 'U0APPROVER1', at: hoursAgo(1) }] },
      { reason: 'no_patch', declined: { version: '0.30.2', by: 'U0APPROVER1', at: hoursAgo(1) } },
    ],
  ])('%s', (_name, overrides, hold) => {
    expect(decideAutoUpgrade(input(overrides))).toEqual({ action: 'none', target: 'prod', hold: expect.objectContaining(hold), recheckAt: null });
  });

  it('waits for a patch that is too young, and says when it is old enough', () => {
    const decision = decideAutoUpgrade(input({ releases: [R0300, R0303] }));
    expect(decision).toEqual({
      action: 'none',
      target: 'prod',
      hold: {
        reason: 'not_yet',
        running: '0.30.0',
        version: '0.30.3',
        waitingFor: [{ gate: 'age', publishedAt: t('2026-01-30T09:00:00Z'), ageMs: 3 * HOUR, requiredMs: 72 * HOUR, eligibleAt: t('2026-02-02T09:00:00Z') }],
        eligibleAt: t('2026-02-02T09:00:00Z'),
        pending: ['0.30.3'],
      },
      recheckAt: t('2026-02-02T09:00:00Z'),
    });
  });
});

describe('decideAutoUpgrade: scheduling a patch', () => {
  it('schedules an old-enough patch right after the notice when there is no window', () => {
    expect(decideAutoUpgrade(input({ releases: [R0300, R0301] }))).toEqual({
      action: 'schedule',
      replaces: null,
      plan: {
        target: 'prod',
        key: 'auto@prod@0.30.1@20260129T091500Z',
        from: '0.30.0',
        version: '0.30.1',
        eligibleAt: t('2026-01-29T09:15:00Z'),
        noticeAt: NOW,
        startAt: new Date(NOW.getTime() + 10 * MINUTE),
        windowEndsAt: null,
        skipping: [],
      },
    });
  });

  it.each<[string, string, string, string]>([
    ['on Friday afternoon: Saturday 02:00 Berlin', '2026-01-30T12:00:00Z', '2026-01-31T01:00:00.000Z', '2026-01-31T04:00:00.000Z'],
    ['inside the window: after the notice', '2026-01-31T01:30:00Z', '2026-01-31T01:40:00.000Z', '2026-01-31T04:00:00.000Z'],
    ['five minutes before the window closes: the next opening', '2026-01-31T03:55:00Z', '2026-02-01T01:00:00.000Z', '2026-02-01T04:00:00.000Z'],
    ['on Sunday after the window: next Saturday', '2026-02-01T06:00:00Z', '2026-02-07T01:00:00.000Z', '2026-02-07T04:00:00.000Z'],
  ])('starts at the next moment inside the window, %s', (_name, now, startAt, windowEndsAt) => {
    const decision = decideAutoUpgrade(input({ releases: [R0300, R0301], policy: { ...POLICY, window: WEEKEND }, now: t(now) }));
    expect(decision).toMatchObject({ action: 'schedule', plan: { version: '0.30.1', startAt: t(startAt), noticeAt: new Date(t(startAt).getTime() - 10 * MINUTE), windowEndsAt: t(windowEndsAt) } });
  });

  it('starts a patch that becomes old enough inside the window once it is', () => {
    const decision = decideAutoUpgrade(
      input({ releases: [R0300, release('0.30.1', '2026-01-28T01:20:00Z')], policy: { ...POLICY, window: WEEKEND }, now: t('2026-01-31T01:21:00Z') }),
    );
    expect(decision).toMatchObject({ action: 'schedule', plan: { eligibleAt: t('2026-01-31T01:20:00Z'), startAt: t('2026-01-31T01:31:00Z') } });
  });

  it('goes straight to the newest eligible patch, past older ones and not to a younger one', () => {
    const decision = decideAutoUpgrade(input({ releases: [R0303, R0302, R0301, R0300, R0310] }));
    expect(decision).toMatchObject({ action: 'schedule', plan: { version: '0.30.2', skipping: ['0.30.1'], key: 'auto@prod@0.30.2@20260130T100000Z' } });
  });

  it('takes a patch newer than a declined one, and lists a duplicate release once', () => {
    const decision = decideAutoUpgrade(input({ releases: [R0300, R0301, R0302, R0302], declined: [{ version: '0.30.1', by: 'U0APPROVER1', at: hoursAgo(20) }] }));
    expect(decision).toMatchObject({ action: 'schedule', plan: { version: '0.30.2', skipping: [] } });
  });

  it('upgrades a target two patches behind along its own line, not to the next minor', () => {
    const decision = decideAutoUpgrade(input({ running: '0.30.1', releases: [R0301, R0302, R0310] }));
    expect(decision).toMatchObject({ action: 'schedule', plan: { from: '0.30.1', version: '0.30.2' } });
  });

  it('is deterministic: the same inputs give the same decision, and a later poll the same key', () => {
    const first = decideAutoUpgrade(input({ releases: [R0300, R0301] }));
    expect(decideAutoUpgrade(input({ releases: [R0301, R0300] }))).toEqual(first);
    const later = decideAutoUpgrade(input({ releases: [R0300, R0301], now: new Date(NOW.getTime() + 5 * MINUTE) }));
    expect(later.action === 'schedule' && later.plan.key).toBe(first.action === 'schedule' && first.plan.key);
  });

  it('makes keys BullMQ accepts as job ids', () => {
    expect(autoUpgradeKey('prod-eu_1', '0.141.0', t('2026-01-29T09:15:00.250Z'))).toBe('auto@prod-eu_1@0.141.0@20260129T091500.250Z');
    expect(autoUpgradeKey('prod', '0.30.1', t('2026-01-29T09:15:00Z'))).not.toContain(':');
  });
});

describe('decideAutoUpgrade: promotion from staging', () => {
  const PROMOTED = { promotion: { from: 'staging', soakMs: 24 * HOUR }, releases: [R0300, R0301, R0302] };

  it.each<[string, VersionRun[], Record<string, unknown>, Date | null]>([
    ['not run on staging', [], { why: 'never_ran', holdsAt: null }, null],
    ['soaking on staging for 2 h of 24 h', [stagingRun('0.30.2', hoursAgo(2))], { why: 'soaking', ranForMs: 2 * HOUR }, new Date(hoursAgo(2).getTime() + 24 * HOUR)],
    ['rolled back on staging', [stagingRun('0.30.2', hoursAgo(40), { result: 'rolled_back', until: hoursAgo(10) })], { why: 'rolled_back' }, null],
    ['post-flight failed on staging', [stagingRun('0.30.2', hoursAgo(40), { postflight: 'failed' })], { why: 'postflight_failed' }, null],
    ['post-flight still running on staging', [stagingRun('0.30.2', hoursAgo(1), { postflight: 'pending' })], { why: 'postflight_pending' }, new Date(hoursAgo(1).getTime() + 24 * HOUR)],
  ])('waits while the newest patch is %s (and the older one never ran there)', (_name, evidence, promotion, eligibleAt) => {
    const decision = decideAutoUpgrade(input({ ...PROMOTED, evidence }));
    expect(decision.action).toBe('none');
    if (decision.action !== 'none' || decision.hold.reason !== 'not_yet') throw new Error('expected not_yet');
    expect(decision.hold.version).toBe('0.30.2');
    expect(decision.hold.waitingFor).toEqual([expect.objectContaining({ gate: 'promotion', promotion: expect.objectContaining(promotion) })]);
    expect(decision.hold.pending).toEqual(['0.30.2', '0.30.1']);
    expect(decision.recheckAt).toEqual(eligibleAt);
  });

  it('schedules a patch proven on staging, eligible when both its age and its soak were reached', () => {
    const decision = decideAutoUpgrade(input({ ...PROMOTED, evidence: [stagingRun('0.30.2', t('2026-01-29T06:00:00Z'))] }));
    // age: 30 Jan 10:00Z; soak: 29 Jan 06:00Z + 24 h = 30 Jan 06:00Z; the later one counts.
    expect(decision).toMatchObject({ action: 'schedule', plan: { version: '0.30.2', eligibleAt: t('2026-01-30T10:00:00Z') } });
  });

  it('counts the soak when it ends after the release is old enough', () => {
    const decision = decideAutoUpgrade(input({ ...PROMOTED, evidence: [stagingRun('0.30.2', t('2026-01-29T11:30:00Z'))] }));
    expect(decision).toMatchObject({ action: 'schedule', plan: { eligibleAt: t('2026-01-30T11:30:00Z'), key: 'auto@prod@0.30.2@20260130T113000Z' } });
  });

  it('takes the older patch proven on staging while the newer one still soaks', () => {
    const evidence = [stagingRun('0.30.1', hoursAgo(60), { until: hoursAgo(3) }), stagingRun('0.30.2', hoursAgo(3))];
    expect(decideAutoUpgrade(input({ ...PROMOTED, evidence }))).toMatchObject({ action: 'schedule', plan: { version: '0.30.1' } });
  });

  it('reports the soonest of several waiting patches', () => {
    // 0.30.1 left staging early (never by itself); 0.30.3 is too young and soaks; 0.30.2 soaks and is old enough.
    const evidence = [stagingRun('0.30.1', hoursAgo(30), { until: hoursAgo(29) }), stagingRun('0.30.2', hoursAgo(20)), stagingRun('0.30.3', hoursAgo(1))];
    const decision = decideAutoUpgrade(input({ ...PROMOTED, releases: [R0300, R0301, R0302, R0303], evidence }));
    expect(decision).toMatchObject({ action: 'none', hold: { reason: 'not_yet', version: '0.30.2', eligibleAt: new Date(hoursAgo(20).getTime() + 24 * HOUR) }, recheckAt: new Date(hoursAgo(20).getTime() + 24 * HOUR) });
  });

  it('asks for both gates when a patch is too young and not proven', () => {
    const decision = decideAutoUpgrade(input({ ...PROMOTED, releases: [R0300, R0303], evidence: [stagingRun('0.30.3', hoursAgo(2))] }));
    expect(decision).toMatchObject({
      action: 'none',
      hold: { reason: 'not_yet', version: '0.30.3', waitingFor: [{ gate: 'age' }, { gate: 'promotion' }], eligibleAt: t('2026-02-02T09:00:00Z') },
    });
  });
});

describe('decideAutoUpgrade: a scheduled upgrade, re-checked when its job fires', () => {
  const base = input({ releases: [R0300, R0301], policy: { ...POLICY, window: WEEKEND } });
  const first = decideAutoUpgrade(base); // notice Sat 00:50Z, start Sat 01:00Z
  const scheduled = scheduledFrom(first);
  const plan = { key: scheduled.key, version: '0.30.1' };

  it('was scheduled for Saturday 02:00 Berlin', () => {
    expect(scheduled).toMatchObject({ noticeAt: t('2026-01-31T00:50:00Z'), startAt: t('2026-01-31T01:00:00Z') });
  });

  it.each<[string, Partial<AutoUpgradeInput>, Record<string, unknown>]>([
    ['polled again before the notice: wait, write nothing', { scheduled, now: t('2026-01-30T18:00:00Z') }, { action: 'wait', wakeAt: t('2026-01-31T00:50:00Z'), plan: { ...plan, startAt: t('2026-01-31T01:00:00Z') } }],
    ['at the notice time: notify, start unchanged', { scheduled, now: t('2026-01-31T00:50:00Z') }, { action: 'notify', plan: { ...plan, startAt: t('2026-01-31T01:00:00Z') } }],
    ['five minutes late for the notice (a restart): the whole notice, start moved on', { scheduled, now: t('2026-01-31T00:55:00Z') }, { action: 'notify', plan: { ...plan, startAt: t('2026-01-31T01:05:00Z') } }],
    ['notice posted, before the start: wait for the start', { scheduled: { ...scheduled, noticePostedAt: t('2026-01-31T00:50:00Z') }, now: t('2026-01-31T00:52:00Z') }, { action: 'wait', wakeAt: t('2026-01-31T01:00:00Z') }],
    ['notice posted late, at the planned start: wait the full notice', { scheduled: { ...scheduled, noticePostedAt: t('2026-01-31T00:55:00Z') }, now: t('2026-01-31T01:00:00Z') }, { action: 'wait', wakeAt: t('2026-01-31T01:05:00Z') }],
    ['notice posted, at the start: start', { scheduled: { ...scheduled, noticePostedAt: t('2026-01-31T00:50:00Z') }, now: t('2026-01-31T01:00:00Z') }, { action: 'start', plan: { ...plan, startAt: t('2026-01-31T01:00:00Z') } }],
    ['notice posted, the bot down until after the window: the next opening, a new notice', { scheduled: { ...scheduled, noticePostedAt: t('2026-01-31T00:50:00Z') }, now: t('2026-01-31T06:00:00Z') }, { action: 'schedule', replaces: { ...scheduled, noticePostedAt: t('2026-01-31T00:50:00Z') }, plan: { ...plan, startAt: t('2026-02-01T01:00:00Z') } }],
    ['notice never posted and the window over: the next opening', { scheduled, now: t('2026-01-31T04:30:00Z') }, { action: 'schedule', plan: { ...plan, startAt: t('2026-02-01T01:00:00Z') } }],
    ['the window moved in the config: rescheduled into the new one', { scheduled, policy: { ...POLICY, window: { ...WEEKEND, from: '03:00' } } }, { action: 'schedule', replaces: scheduled, plan: { ...plan, startAt: t('2026-01-31T02:00:00Z') } }],
    ['a newer patch is eligible: replaced by it', { scheduled, releases: [R0300, R0301, R0302] }, { action: 'schedule', replaces: scheduled, plan: { version: '0.30.2', skipping: ['0.30.1'] } }],
    ['paused since: cancelled', { scheduled, paused: { since: hoursAgo(1), cause: 'failed_upgrade', version: '0.30.1', upgradeId: null } }, { action: 'cancel', scheduled, hold: { reason: 'paused' } }],
    ['someone upgraded it by hand meanwhile: cancelled', { scheduled, running: '0.30.1' }, { action: 'cancel', hold: { reason: 'no_patch' } }],
    ['a manual request is open: cancelled', { scheduled, busy: { kind: 'request', version: '0.31.0', upgradeId: 'u-3' } }, { action: 'cancel', hold: { reason: 'busy' } }],
    ['autoUpgrade switched off: cancelled', { scheduled, policy: { ...POLICY, patches: false } }, { action: 'cancel', hold: { reason: 'disabled' } }],
    ['the release turned out a draft again: cancelled', { scheduled, releases: [R0300, { ...R0301, draft: true }] }, { action: 'cancel', hold: { reason: 'no_patch' } }],
  ])('%s', (_name, overrides, expected) => {
    expect(decideAutoUpgrade({ ...base, ...overrides })).toMatchObject(expected);
  });

  it('runs through notice and start without moving anything when every job fires on time', () => {
    const atNotice = decideAutoUpgrade({ ...base, scheduled, now: scheduled.noticeAt });
    expect(atNotice.action).toBe('notify');
    const posted = { ...scheduled, noticePostedAt: scheduled.noticeAt };
    expect(decideAutoUpgrade({ ...base, scheduled: posted, now: scheduled.startAt })).toMatchObject({ action: 'start', plan: { key: scheduled.key } });
  });
});

describe('autoUpgradeSchema', () => {
  it('applies the defaults: off, 72h, 10m, any time', () => {
    expect(autoUpgradeSchema.parse({})).toEqual({ patches: false, minimumReleaseAgeMs: 72 * HOUR, noticeMs: 10 * MINUTE, window: null });
  });

  it('reads the contract example', () => {
    expect(
      autoUpgradeSchema.parse({ patches: true, minimumReleaseAge: '72h', notice: '10m', window: { days: ['sat', 'sun'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin' } }),
    ).toEqual({ patches: true, minimumReleaseAgeMs: 72 * HOUR, noticeMs: 10 * MINUTE, window: WEEKEND });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ patches: 'yes' }, 'patches', /true or false/],
    [{ minimumReleaseAge: 72 }, 'minimumReleaseAge', /has no unit/],
    [{ notice: '0s' }, 'notice', /is zero/],
    [{ notice: '8d' }, 'notice', /the most this field takes is 7d/],
    [{ window: { from: '02:00', to: '05:00', timeZone: 'Europe/Berlinn' } }, 'window.timeZone', /not a time zone/],
    [{ minors: true }, '', /minors/],
  ])('refuses %j', (value, path, message) => {
    const issue = autoUpgradeSchema.safeParse(value).error!.issues[0]!;
    expect(issue.path.join('.')).toBe(path);
    expect(issue.message + JSON.stringify(issue)).toMatch(message);
  });
});
