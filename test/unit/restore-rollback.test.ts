// Restore and roll back: offered only for a destructive range whose upgrade recorded a pre-upgrade backup on a Docker
// target with `backup`, worded with the backup's time (UTC) and age, and startable only after two different approvers.
import { describe, expect, it } from 'vitest';
import {
  approvalRulesFor,
  confirmItem,
  isComplete,
  newChecklistState,
  offersRestore,
  RESTORE_ITEM_ID,
  restoresDatabase,
  rollbackChecklistItems,
  type ChecklistState,
} from '../../src/domain/checklist.js';
import { AppError } from '../../src/errors.js';
import { restoreRollbackItem } from '../../src/slack/rollback-outcome.js';

const NOW = new Date('2026-12-04T18:00:00Z');
const BACKUP = { startedAt: '2026-12-04T15:30:12.000Z', version: '0.30.0' };
const ALL = { destructive: true, preUpgradeBackup: true, targetHasBackup: true, platformRestores: true, automatic: false };

function restoreChecklist(): ReturnType<typeof rollbackChecklistItems> {
  return rollbackChecklistItems({ from: '0.31.0', to: '0.30.0', destructive: true, migrations: true, restore: { ...restoreRollbackItem(BACKUP, NOW), id: RESTORE_ITEM_ID } });
}

function confirmAll(state: ChecklistState, users: string[], rules: ReturnType<typeof approvalRulesFor>): ChecklistState {
  return state.items.reduce((s, item, i) => confirmItem(s, item, users[i % users.length]!, NOW, rules), state);
}

describe('whether a rollback offers Restore and roll back', () => {
  it.each([
    ['no destructive migration in the range', { destructive: false }],
    ['the upgrade recorded no pre-upgrade backup', { preUpgradeBackup: false }],
    ['the target has no `backup`', { targetHasBackup: false }],
    ['a Kubernetes target', { platformRestores: false }],
    ["the bot's own automatic rollback", { automatic: true }],
  ])('not for %s', (_, change) => {
    expect(offersRestore({ ...ALL, ...change })).toBe(false);
  });

  it('for a destructive range with a pre-upgrade backup on a Docker target with `backup`', () => {
    expect(offersRestore(ALL)).toBe(true);
  });

  it('a destructive range without the restore keeps the manual "restore must come first" item', () => {
    const items = rollbackChecklistItems({ from: '0.31.0', to: '0.30.0', destructive: true, migrations: true });
    expect(restoresDatabase(items)).toBe(false);
    expect(items.map((i) => i.id)).toContain('database_restored');
  });
});

describe('the Restore and roll back checklist', () => {
  it('says in plain words that data written since the backup is lost, with its UTC time and age', () => {
    const items = restoreChecklist();
    expect(items[0]!.id).toBe(RESTORE_ITEM_ID);
    expect(items.map((i) => i.id)).not.toContain('database_restored');
    expect(items[0]!.title).toBe('Restore and roll back: data written since 2026-12-04 15:30 UTC (2 h 29 min ago) will be lost');
    expect(items[0]!.why).toMatch(/stops the new container, restores the backup of 0\.30\.0/);
    expect(items[0]!.why).toMatch(/Two different approvers/);
  });

  it('refuses one approver confirming every item, even without requireSecondPerson', () => {
    const items = restoreChecklist();
    const rules = approvalRulesFor(items, { requester: 'U_REQ', requireSecondPerson: false });
    const state = newChecklistState(items);
    const allButLast = state.items.slice(0, -1).reduce((s, item) => confirmItem(s, item, 'U_ONE', NOW, rules), state);
    expect(isComplete(allButLast, rules)).toBe(false);
    const err = (() => {
      try {
        confirmItem(allButLast, state.items.at(-1)!, 'U_ONE', NOW, rules);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('not_authorized');
    expect((err as AppError).message).toMatch(/2 different approvers/);
  });

  it('is complete with two different approvers', () => {
    const items = restoreChecklist();
    const rules = approvalRulesFor(items, { requester: 'U_REQ', requireSecondPerson: false });
    const done = confirmAll(newChecklistState(items), ['U_ONE', 'U_TWO'], rules);
    expect(isComplete(done, rules)).toBe(true);
  });

  it('an ordinary rollback stays complete with one approver when no second person is required', () => {
    const items = rollbackChecklistItems({ from: '0.31.0', to: '0.30.0', destructive: false, migrations: false });
    const rules = approvalRulesFor(items, { requester: 'U_REQ', requireSecondPerson: false });
    expect(rules.minimumApprovers).toBeUndefined();
    expect(isComplete(confirmAll(newChecklistState(items), ['U_ONE'], rules), rules)).toBe(true);
  });
});
