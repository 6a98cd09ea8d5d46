import { describe, expect, it } from 'vitest';
import {
  canConfirmOverride,
  evaluatePromotion,
  promotionAllowsStart,
  promotionChainProblems,
  promotionOverrideState,
  promotionSchema,
  whereProven,
  type PromotionPolicy,
  type VersionRun,
} from '../../src/domain/promotion.js';

const HOUR = 3_600_000;
const NOW = new Date('2026-01-30T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR);
const POLICY: PromotionPolicy = { from: 'staging', soakMs: 24 * HOUR };

function run(overrides: Partial<VersionRun>): VersionRun {
  return { target: 'staging', version: '0.30.1', since: hoursAgo(5), until: null, result: 'succeeded', postflight: 'passed', upgradeId: null, ...overrides };
}

describe('evaluatePromotion', () => {
  it.each<[string, VersionRun[], Record<string, unknown>]>([
    ['never ran on staging', [], { holds: false, why: 'never_ran', run: null, holdsAt: null, ranForMs: 0 }],
    ['ran only on another target', [run({ target: 'qa', since: hoursAgo(48) })], { holds: false, why: 'never_ran' }],
    ['ran another version only', [run({ version: '0.30.2', since: hoursAgo(48) })], { holds: false, why: 'never_ran' }],
    ['runs there, green, 5 h of 24 h', [run({})], { holds: false, why: 'soaking', holdsAt: new Date(hoursAgo(5).getTime() + 24 * HOUR), ranForMs: 5 * HOUR }],
    ['post-flight still running', [run({ postflight: 'pending', since: hoursAgo(1) })], { holds: false, why: 'postflight_pending', holdsAt: new Date(hoursAgo(1).getTime() + 24 * HOUR) }],
    ['post-flight failed', [run({ postflight: 'failed', since: hoursAgo(48) })], { holds: false, why: 'postflight_failed', holdsAt: null }],
    ['the upgrade failed', [run({ result: 'failed', postflight: 'failed', since: hoursAgo(48) })], { holds: false, why: 'failed', holdsAt: null }],
    ['rolled back after a full soak', [run({ result: 'rolled_back', since: hoursAgo(48), until: hoursAgo(2) })], { holds: false, why: 'rolled_back', holdsAt: null }],
    ['left for another version after 2 h', [run({ since: hoursAgo(10), until: hoursAgo(8) })], { holds: false, why: 'left_early', holdsAt: null, ranForMs: 2 * HOUR }],
    ['the latest run failed, an older one soaked', [run({ since: hoursAgo(100), until: hoursAgo(60) }), run({ result: 'failed', postflight: 'failed', since: hoursAgo(3) })], { holds: false, why: 'failed' }],
    ['a run that has not begun yet (clock skew) is ignored', [run({ since: new Date(NOW.getTime() + HOUR) })], { holds: false, why: 'never_ran' }],
  ])('does not hold: %s', (_name, runs, expected) => {
    expect(evaluatePromotion(POLICY, '0.30.1', runs, NOW)).toMatchObject({ from: 'staging', version: '0.30.1', soakMs: 24 * HOUR, ...expected });
  });

  it.each<[string, VersionRun[], Date]>([
    ['runs there, green, for 25 h', [run({ since: hoursAgo(25) })], hoursAgo(1)],
    ['passed with warnings', [run({ postflight: 'warnings', since: hoursAgo(25) })], hoursAgo(1)],
    ['ran 30 h and then moved on to a newer version', [run({ since: hoursAgo(50), until: hoursAgo(20) })], hoursAgo(26)],
    ['soaked once, and runs again since an hour (rollback of the next version)', [run({ since: hoursAgo(50), until: hoursAgo(20) }), run({ since: hoursAgo(1) })], hoursAgo(26)],
    ['exactly 24 h', [run({ since: hoursAgo(24) })], NOW],
  ])('holds: %s', (_name, runs, heldSince) => {
    expect(evaluatePromotion(POLICY, 'v0.30.1', runs, NOW)).toMatchObject({ holds: true, version: '0.30.1', heldSince });
  });

  it('holds right after a green run when soak is 0s', () => {
    expect(evaluatePromotion({ from: 'staging', soakMs: 0 }, '0.30.1', [run({ since: NOW })], NOW)).toMatchObject({ holds: true, heldSince: NOW });
  });
});

describe('whereProven', () => {
  it('lists, newest version first, the latest run of each version on each target', () => {
    const runs = [
      run({ version: '0.30.1', since: hoursAgo(50), until: hoursAgo(20) }),
      run({ version: '0.30.1', target: 'prod', since: hoursAgo(10) }),
      run({ version: '0.30.2', since: hoursAgo(20), postflight: 'pending' }),
      run({ version: '0.28.0', since: hoursAgo(400), until: hoursAgo(300), result: 'rolled_back' }),
      run({ version: '0.28.0', since: hoursAgo(500), until: hoursAgo(400) }),
    ];
    expect(whereProven(runs, NOW)).toEqual([
      { version: '0.30.2', targets: [{ target: 'staging', state: 'postflight_pending', since: hoursAgo(20), until: null, ranForMs: 20 * HOUR }] },
      {
        version: '0.30.1',
        targets: [
          { target: 'prod', state: 'running', since: hoursAgo(10), until: null, ranForMs: 10 * HOUR },
          { target: 'staging', state: 'ran', since: hoursAgo(50), until: hoursAgo(20), ranForMs: 30 * HOUR },
        ],
      },
      { version: '0.28.0', targets: [{ target: 'staging', state: 'rolled_back', since: hoursAgo(400), until: hoursAgo(300), ranForMs: 100 * HOUR }] },
    ]);
  });
});

describe('the promotion override', () => {
  const approvers = new Set(['U0APPROVER1', 'U0APPROVER2', 'U0REQUESTER']);
  const at = (minute: number) => new Date(NOW.getTime() + minute * 60_000);

  it('needs two different approvers', () => {
    expect(promotionOverrideState([], approvers)).toEqual({ approved: false, by: [], missing: 2 });
    expect(promotionOverrideState([{ userId: 'U0APPROVER1', at: at(1) }], approvers)).toEqual({ approved: false, by: ['U0APPROVER1'], missing: 1 });
    expect(
      promotionOverrideState(
        [
          { userId: 'U0APPROVER2', at: at(2) },
          { userId: 'U0APPROVER1', at: at(1) },
        ],
        approvers,
      ),
    ).toEqual({ approved: true, by: ['U0APPROVER1', 'U0APPROVER2'], missing: 0 });
  });

  it('counts one person once, and nobody who is not an approver (any more)', () => {
    const confirmations = [
      { userId: 'U0APPROVER1', at: at(1) },
      { userId: 'U0APPROVER1', at: at(2) },
      { userId: 'U0OUTSIDER', at: at(3) },
    ];
    expect(promotionOverrideState(confirmations, approvers)).toEqual({ approved: false, by: ['U0APPROVER1'], missing: 1 });
    expect(promotionOverrideState([{ userId: 'U0APPROVER1', at: at(1) }, { userId: 'U0APPROVER2', at: at(2) }], new Set(['U0APPROVER2']))).toMatchObject({ approved: false, missing: 1 });
  });

  it('lets a requester who is an approver be one of the two', () => {
    expect(promotionOverrideState([{ userId: 'U0REQUESTER', at: at(1) }, { userId: 'U0APPROVER1', at: at(2) }], approvers).approved).toBe(true);
  });

  it.each<[string, string, Array<{ userId: string; at: Date }>, ReturnType<typeof canConfirmOverride>]>([
    ['a first approver', 'U0APPROVER1', [], { ok: true }],
    ['a second approver', 'U0APPROVER2', [{ userId: 'U0APPROVER1', at: at(1) }], { ok: true }],
    ['a member who is not an approver', 'U0OUTSIDER', [], { ok: false, why: 'not_an_approver' }],
    ['the same approver twice', 'U0APPROVER1', [{ userId: 'U0APPROVER1', at: at(1) }], { ok: false, why: 'already_confirmed_by_you' }],
    ['a third approver', 'U0REQUESTER', [{ userId: 'U0APPROVER1', at: at(1) }, { userId: 'U0APPROVER2', at: at(2) }], { ok: false, why: 'already_approved' }],
  ])('a click by %s', (_name, userId, confirmations, expected) => {
    expect(canConfirmOverride(confirmations, userId, approvers)).toEqual(expected);
  });

  it('lets Start go ahead when the gate holds, when there is none, or with the override', () => {
    const notProven = evaluatePromotion(POLICY, '0.30.1', [], NOW);
    const proven = evaluatePromotion(POLICY, '0.30.1', [run({ since: hoursAgo(30) })], NOW);
    expect(promotionAllowsStart(null, null)).toBe(true);
    expect(promotionAllowsStart(proven, null)).toBe(true);
    expect(promotionAllowsStart(notProven, null)).toBe(false);
    expect(promotionAllowsStart(notProven, { approved: false, by: ['U0APPROVER1'], missing: 1 })).toBe(false);
    expect(promotionAllowsStart(notProven, { approved: true, by: ['U0APPROVER1', 'U0APPROVER2'], missing: 0 })).toBe(true);
  });
});

describe('promotion config', () => {
  it('parses from and soak', () => {
    expect(promotionSchema.parse({ from: 'staging', soak: '24h' })).toEqual({ from: 'staging', soakMs: 24 * HOUR });
    expect(promotionSchema.parse({ from: 'staging', soak: '0s' })).toEqual({ from: 'staging', soakMs: 0 });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ from: 'staging' }, 'soak', /expected a duration, got nothing/],
    [{ from: 'staging', soak: 86400 }, 'soak', /has no unit/],
    [{ from: 'staging', soak: '1.5d' }, 'soak', /write `36h`/],
    [{ from: 'staging prod', soak: '24h' }, 'from', /must name another target/],
  ])('refuses %j', (value, path, message) => {
    const issue = promotionSchema.safeParse(value).error!.issues[0]!;
    expect(issue.path.join('.')).toBe(path);
    expect(issue.message).toMatch(message);
  });

  it('finds unknown, self-referencing and circular promotion chains', () => {
    const p = (from: string): PromotionPolicy => ({ from, soakMs: 0 });
    expect(promotionChainProblems([{ name: 'staging' }, { name: 'prod', promotion: p('staging') }])).toEqual([]);
    expect(promotionChainProblems([{ name: 'dev' }, { name: 'staging', promotion: p('dev') }, { name: 'prod', promotion: p('staging') }])).toEqual([]);
    expect(promotionChainProblems([{ name: 'prod', promotion: p('stagin') }, { name: 'staging' }])).toEqual([
      { index: 0, message: '"stagin" is not a configured target: name one of prod, staging' },
    ]);
    expect(promotionChainProblems([{ name: 'prod', promotion: p('prod') }])).toEqual([{ index: 0, message: expect.stringMatching(/cannot be promoted from itself/) }]);
    expect(promotionChainProblems([{ name: 'a', promotion: p('b') }, { name: 'b', promotion: p('c') }, { name: 'c', promotion: p('a') }])).toEqual([
      { index: 0, message: expect.stringMatching(/circle \(a → b → c → a\)/) },
      { index: 1, message: expect.stringMatching(/circle \(b → c → a → b\)/) },
      { index: 2, message: expect.stringMatching(/circle \(c → a → b → c\)/) },
    ]);
  });
});
