import { describe, expect, it } from 'vitest';
import { clickRouter } from '../../handlers/block-action.js';
import type { Deps } from '../../src/deps.js';

describe('clickRouter: every button behind one Bolt listener', () => {
  const noop = async () => undefined;
  // The matcher alone is under test here; the clicks themselves run end to end in the integration suites.
  const { actionIds } = clickRouter({} as Deps, [
    { actionId: { prefix: 'confirm:' }, action: 'confirm', handler: noop },
    { actionId: 'start_upgrade', action: 'start', handler: noop },
    { actionId: 'a.b', action: 'dotted', handler: noop },
  ], ['open_release_notes']);

  it('matches each exact id and every id under a prefix', () => {
    for (const id of ['start_upgrade', 'confirm:backup', 'confirm:', 'a.b', 'open_release_notes']) expect(actionIds.test(id), id).toBe(true);
  });

  it('does not match ids that merely start or end like one, nor regex look-alikes', () => {
    for (const id of ['start_upgrade_now', 'xstart_upgrade', 'xconfirm:backup', 'confirm', 'aXb', 'a.bc', 'open_release_notes_now', '']) expect(actionIds.test(id), id).toBe(false);
  });
});

describe('clickRouter: Home tab buttons', () => {
  const noop = async () => undefined;
  const home = { routes: [{ actionId: 'home_plan_upgrade', action: 'home_plan_upgrade', handler: noop }, { actionId: 'pin_version', action: 'pin_version', handler: noop }], channelFor: async () => null, afterClick: noop };
  const { actionIds } = clickRouter({} as Deps, [{ actionId: 'pin_version', action: 'pin_version', handler: noop }], [], home);

  it('hands Bolt the ids of Home buttons, once each, also those that are message buttons too', () => {
    for (const id of ['home_plan_upgrade', 'pin_version']) expect(actionIds.test(id), id).toBe(true);
    expect(actionIds.source.match(/pin_version/g)).toHaveLength(1);
    expect(actionIds.test('home_plan_upgrade_now')).toBe(false);
  });
});
