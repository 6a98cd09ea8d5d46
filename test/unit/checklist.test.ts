import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  PREVIOUS,
  TRANSITIONS,
  UPGRADE_EVENTS,
  UPGRADE_STATUSES,
  canCancel,
  canConfirm,
  canStart,
  checklistItems,
  confirmItem,
  isActive,
  isComplete,
  isExpired,
  newChecklistState,
  allows,
  remembersPrevious,
  transition,
  transitionsOf,
  type AutomaticCheck,
  type ChecklistState,
  type UpgradeEvent,
  type UpgradeStatus,
} from '../../src/domain/checklist.js';
import type { UpgradePlan } from '../../src/domain/upgrade-plan.js';

const REQUESTER = 'U0REQUESTER';
const APPROVER = 'U0APPROVER1';
const APPROVER2 = 'U0APPROVER2';
const STRANGER = 'U0STRANGER';
const APPROVERS = new Set([REQUESTER, APPROVER, APPROVER2]);
const AT = new Date('2026-01-23T10:00:00Z');

function plan(overrides: Partial<UpgradePlan> = {}): UpgradePlan {
  return {
    from: '0.28.0',
    to: '0.30.0',
    current: { apiVersion: '0.28.0', imageTag: '0.28.0', reachable: true },
    releasesInRange: [
      { version: '0.30.0', url: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0', bump: 'minor', breakingCount: 1 },
    ],
    breaking: [],
    minorsCrossed: 1,
    flags: { migrations: false, encryption: false, destructive: false, truncated: false },
    versionMismatch: false,
    unreachable: false,
    ...overrides,
  };
}

const PASSING: AutomaticCheck[] = [
  { id: 'target_ready', title: 'Target reachable and ready', result: 'ok' },
  { id: 'deployment_found', title: 'Container found running 0.28.0', result: 'ok' },
  { id: 'master_key_present', title: '`ENCRYPTION_MASTER_KEY` present', result: 'ok', fingerprint: 'a'.repeat(64) },
];

function confirmAll(state: ChecklistState, userId: string): ChecklistState {
  return state.items.reduce((acc, item) => confirmItem(acc, item, userId, AT), state);
}

describe('checklistItems', () => {
  it('asks the four base items for a plain upgrade', () => {
    const items = checklistItems(plan(), PASSING);

    expect(items.map((item) => item.id)).toEqual(['notes_read', 'backup', 'master_key', 'downtime']);
  });

  it('links every release in range from the notes item', () => {
    const [notes] = checklistItems(plan(), PASSING);

    expect(notes?.links).toEqual([{ label: 'v0.30.0', url: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0' }]);
    expect(notes?.why).toContain('each minor may break: read every one');
  });

  it('explains why the backup and the key matter', () => {
    const items = checklistItems(plan(), PASSING);

    expect(items.find((item) => item.id === 'backup')?.why).toMatch(/only rollback path/);
    expect(items.find((item) => item.id === 'master_key')?.why).toMatch(/losing it loses every encrypted secret/);
  });

  it('adds items for destructive and encryption flags, a disagreement and an unreachable target', () => {
    const items = checklistItems(
      plan({
        flags: { migrations: true, encryption: true, destructive: true, truncated: false },
        versionMismatch: true,
        unreachable: true,
      }),
      PASSING,
    );

    expect(items.map((item) => item.id)).toEqual([
      'notes_read', 'backup', 'master_key', 'downtime',
      'destructive_restore_plan', 'encryption_procedure', 'version_mismatch_ack', 'unreachable_ack',
    ]);
    expect(items.find((item) => item.id === 'encryption_procedure')?.why).toMatch(/do not rotate the key before the re-encryption finishes/);
    expect(items.find((item) => item.id === 'destructive_restore_plan')?.why).toMatch(/database restore, not a tag change/);
  });

  it('asks for an acknowledgement when an automatic check did not pass', () => {
    const items = checklistItems(plan(), [...PASSING.slice(0, 2), { id: 'master_key_present', title: 'Key present', result: 'failed' }]);

    expect(items.at(-1)).toMatchObject({ id: 'automatic_checks_ack', why: 'Not passed: Key present.' });
  });
});

describe('approvals', () => {
  const items = checklistItems(plan(), PASSING);

  it('lets only approvers confirm', () => {
    expect(canConfirm({ userId: APPROVER, approvers: APPROVERS })).toBe(true);
    expect(canConfirm({ userId: STRANGER, approvers: APPROVERS })).toBe(false);
  });

  it('records who confirmed and when', () => {
    const state = confirmItem(newChecklistState(items), 'backup', APPROVER, AT);

    expect(state.confirmations).toEqual([{ itemId: 'backup', userId: APPROVER, at: AT }]);
  });

  it('records a double click once and returns the same state', () => {
    const once = confirmItem(newChecklistState(items), 'backup', APPROVER, AT);

    const twice = confirmItem(once, 'backup', APPROVER, new Date(AT.getTime() + 1000));

    expect(twice).toBe(once);
    expect(twice.confirmations).toHaveLength(1);
  });

  it('keeps the first confirmation when a second approver clicks the same item', () => {
    const once = confirmItem(newChecklistState(items), 'backup', APPROVER, AT);

    const again = confirmItem(once, 'backup', APPROVER2, new Date(AT.getTime() + 1000));

    expect(again).toBe(once);
    expect(again.confirmations[0]?.userId).toBe(APPROVER);
  });

  it('does not change the state it was given', () => {
    const state = newChecklistState(items);

    confirmItem(state, 'backup', APPROVER, AT);

    expect(state.confirmations).toEqual([]);
  });

  it('refuses an item that is not on the checklist as stale', () => {
    expect(() => confirmItem(newChecklistState(items), 'encryption_procedure', APPROVER, AT)).toThrow(
      expect.objectContaining({ code: 'stale_action' }),
    );
  });

  it('is complete when every item is confirmed, without requireSecondPerson', () => {
    const rules = { requester: REQUESTER, requireSecondPerson: false };
    const state = confirmAll(newChecklistState(items), REQUESTER);

    expect(isComplete(state, rules)).toBe(true);
    expect(isComplete(confirmItem(newChecklistState(items), 'backup', REQUESTER, AT), rules)).toBe(false);
  });

  it('with requireSecondPerson, the requester alone cannot complete the checklist', () => {
    const rules = { requester: REQUESTER, requireSecondPerson: true };
    const state = confirmAll(newChecklistState(items), REQUESTER);

    expect(isComplete(state, rules)).toBe(false);
  });

  it('with requireSecondPerson, one confirmation by someone else completes it', () => {
    const rules = { requester: REQUESTER, requireSecondPerson: true };
    let state = newChecklistState(items);
    for (const item of state.items.slice(0, -1)) state = confirmItem(state, item, REQUESTER, AT, rules);

    state = confirmItem(state, 'downtime', APPROVER, AT, rules);

    expect(isComplete(state, rules)).toBe(true);
  });

  it('with requireSecondPerson, keeps the last item for someone other than the requester', () => {
    const rules = { requester: REQUESTER, requireSecondPerson: true };
    let state = newChecklistState(items);
    for (const item of state.items.slice(0, -1)) state = confirmItem(state, item, REQUESTER, AT, rules);

    expect(() => confirmItem(state, 'downtime', REQUESTER, AT, rules)).toThrow(
      expect.objectContaining({ code: 'not_authorized', message: expect.stringMatching(/another approver/) }),
    );
  });

  it('lets an approver start only a complete checklist in confirming', () => {
    const rules = { requester: REQUESTER, requireSecondPerson: true };
    const complete = confirmAll(newChecklistState(items), APPROVER);

    expect(canStart({ state: complete, status: 'confirming', userId: APPROVER2, approvers: APPROVERS, rules })).toBe(true);
    expect(canStart({ state: complete, status: 'confirming', userId: STRANGER, approvers: APPROVERS, rules })).toBe(false);
    expect(canStart({ state: complete, status: 'queued', userId: APPROVER2, approvers: APPROVERS, rules })).toBe(false);
    expect(canStart({ state: newChecklistState(items), status: 'confirming', userId: APPROVER, approvers: APPROVERS, rules })).toBe(false);
  });

  it('lets the requester or an approver cancel, nobody else', () => {
    expect(canCancel({ userId: 'U0NOTAPPROVER', requester: 'U0NOTAPPROVER', approvers: APPROVERS })).toBe(true);
    expect(canCancel({ userId: APPROVER, requester: REQUESTER, approvers: APPROVERS })).toBe(true);
    expect(canCancel({ userId: STRANGER, requester: REQUESTER, approvers: APPROVERS })).toBe(false);
  });
});

describe('the upgrade state machine', () => {
  // Every status change production makes, and nothing else: the store derives its conditional updates from this table.
  const LEGAL: [UpgradeStatus, UpgradeEvent, UpgradeStatus | typeof PREVIOUS][] = [
    ['confirming', 'start', 'queued'],
    ['confirming', 'schedule', 'scheduled'],
    ['confirming', 'cancel', 'cancelled'],
    ['confirming', 'expire', 'expired'],
    ['confirming', 'invalidate', 'expired'],
    ['scheduled', 'fire', 'queued'],
    ['scheduled', 'lapse', 'expired'],
    ['scheduled', 'cancel', 'cancelled'],
    ['queued', 'unqueue', 'confirming'],
    ['queued', 'begin', 'running'],
    ['queued', 'cancel', 'cancelled'],
    ['queued', 'abandon', 'failed'],
    ['running', 'begin', 'running'],
    ['running', 'withdraw', 'cancelled'],
    ['running', 'succeed', 'succeeded'],
    ['running', 'fail', 'failed'],
    ['running', 'abandon', 'failed'],
    ['succeeded', 'rollback', 'rolling_back'],
    ['failed', 'rollback', 'rolling_back'],
    ['rolling_back', 'rollback_succeeded', 'rolled_back'],
    ['rolling_back', 'rollback_failed', PREVIOUS],
  ];

  it.each(LEGAL.filter((row) => row[2] !== PREVIOUS))('%s --%s--> %s', (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });

  it('returns a failed rollback to the status its upgrade had before, succeeded or failed', () => {
    expect(transition('rolling_back', 'rollback_failed', 'succeeded')).toBe('succeeded');
    expect(transition('rolling_back', 'rollback_failed', 'failed')).toBe('failed');
  });

  it('refuses to return a failed rollback to a status a rollback cannot start from, or to none', () => {
    for (const previous of [null, undefined, 'running', 'rolling_back', 'rolled_back'] as const) {
      expect(() => transition('rolling_back', 'rollback_failed', previous), String(previous)).toThrow(expect.objectContaining({ code: 'request_not_active' }));
    }
  });

  it('remembers where an upgrade came from only when it enters a status it can return from', () => {
    expect(UPGRADE_STATUSES.filter(remembersPrevious)).toEqual(['rolling_back']);
  });

  it('lets a new rollback follow a failed one', () => {
    const back = transition('rolling_back', 'rollback_failed', 'succeeded');
    expect(transition(back, 'rollback')).toBe('rolling_back');
  });

  it('refuses every other pair with request_not_active', () => {
    const legal = new Set(LEGAL.map(([from, event]) => `${from}/${event}`));
    let refused = 0;
    for (const from of UPGRADE_STATUSES) {
      for (const event of UPGRADE_EVENTS) {
        expect(allows(from, event), `${from}/${event}`).toBe(legal.has(`${from}/${event}`));
        if (legal.has(`${from}/${event}`)) continue;
        expect(() => transition(from, event), `${from}/${event}`).toThrow(AppError);
        expect(() => transition(from, event)).toThrow(expect.objectContaining({ code: 'request_not_active' }));
        refused += 1;
      }
    }
    expect(refused).toBe(UPGRADE_STATUSES.length * UPGRADE_EVENTS.length - LEGAL.length);
  });

  it('has exactly the legal transitions in its table, and lists each by event as the store reads them', () => {
    const table = Object.entries(TRANSITIONS).flatMap(([from, events]) => Object.entries(events).map(([event, to]) => [from, event, to]));

    expect(table).toEqual(expect.arrayContaining(LEGAL));
    expect(table).toHaveLength(LEGAL.length);
    for (const event of UPGRADE_EVENTS) {
      expect(transitionsOf(event), event).toEqual(LEGAL.filter(([, e]) => e === event).map(([from, , to]) => ({ from, to })));
      expect(transitionsOf(event).length, `${event} is used`).toBeGreaterThan(0);
    }
  });

  it('says why a running upgrade cannot be cancelled and what to do instead', () => {
    expect(() => transition('running', 'cancel')).toThrow(/cannot be stopped halfway.*\/checkstack rollback/);
  });

  it('says nothing changed when a finished request is started again', () => {
    expect(() => transition('succeeded', 'start')).toThrow(/nothing changed/);
  });

  it.each<[UpgradeStatus, boolean]>([
    ['confirming', true],
    ['queued', true],
    ['running', true],
    ['rolling_back', true],
    ['succeeded', false],
    ['failed', false],
    ['scheduled', true],
    ['cancelled', false],
    ['expired', false],
    ['rolled_back', false],
  ])('%s is active: %s', (status, active) => {
    expect(isActive(status)).toBe(active);
  });

  it('expires a request after 24 hours by default, or after the ttl given', () => {
    const created = new Date('2026-01-22T10:00:00Z');

    expect(isExpired(created, new Date('2026-01-23T09:59:59Z'))).toBe(false);
    expect(isExpired(created, new Date('2026-01-23T10:00:00Z'))).toBe(true);
    expect(isExpired(created, new Date('2026-01-22T11:00:00Z'), 60 * 60 * 1000)).toBe(true);
  });
});
