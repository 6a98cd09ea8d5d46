// The Home view from facts: what each target shows, which button the viewer gets, and that any number of targets and
// any outside text still make a view Slack takes (checked with the fake Slack's own rules).
import { describe, expect, it } from 'vitest';
import { appHomeView, HOME_VIEW_BLOCKS, type HomeTargetFacts } from '../../src/slack/app-home.js';
import { checkHomeView } from '../fakes/slack-block-kit.js';

const NOW = new Date('2026-12-04T21:00:00Z');

function target(name: string, status: Partial<NonNullable<HomeTargetFacts['status']>> = {}): HomeTargetFacts {
  return {
    target: name,
    status: {
      tag: '0.25.0',
      version: '0.25.0',
      reachable: true,
      latest: { version: '0.30.0', htmlUrl: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0' },
      behind: { minors: 3, patches: 1 },
      active: null,
      last: null,
      ...status,
    },
  };
}

type Block = { type: string; block_id?: string; text?: { text: string }; accessory?: { action_id: string; value: string } };
const blocks = (view: ReturnType<typeof appHomeView>) => view.blocks as Block[];
const sectionOf = (view: ReturnType<typeof appHomeView>, name: string) => blocks(view).find((b) => b.block_id === `home_target:${name}`);
const actionIds = (view: ReturnType<typeof appHomeView>) => blocks(view).flatMap((b) => (b.accessory ? [b.accessory.action_id] : []));

describe('the Home view', () => {
  it('shows no Pin to a viewer who is not an approver, and no button at all for a target with an upgrade in flight', () => {
    const facts = [
      target('edge', { tag: 'latest', version: '0.25.0' }),
      target('prod', { active: { kind: 'upgrade', fromVersion: '0.25.0', toVersion: '0.30.0', status: 'running', link: 'https://fake-team.slack.com/archives/C0OPS/p1700000000000100' } }),
    ];

    const view = appHomeView({ targets: facts, viewerIsApprover: false, now: NOW });

    expect(actionIds(view)).toEqual([]);
    expect(sectionOf(view, 'prod')?.text?.text).toContain('In flight: <https://fake-team.slack.com/archives/C0OPS/p1700000000000100|upgrade `0.25.0` → `0.30.0`>, running');
    expect(checkHomeView(view)).toBeNull();
  });

  it('offers an approver Pin to the exact version of a target on a floating tag, with the value the Pin handler reads', () => {
    const view = appHomeView({ targets: [target('edge', { tag: 'latest', version: '0.25.0' })], viewerIsApprover: true, now: NOW });

    expect(sectionOf(view, 'edge')?.accessory).toMatchObject({ action_id: 'pin_version', value: 'edge 0.25.0' });
    expect(sectionOf(view, 'edge')?.text?.text).toContain('*edge* runs `latest` = `0.25.0`');
  });

  it('offers no Pin while the exact version of a floating tag is unknown, and says so', () => {
    const view = appHomeView({ targets: [target('edge', { tag: 'latest', version: null })], viewerIsApprover: true, now: NOW });

    expect(actionIds(view)).toEqual([]);
    expect(sectionOf(view, 'edge')?.text?.text).toContain('runs `latest`: the exact version is not known');
  });

  it('shows the version, the newest release, lines and patches behind, the last result, and Plan upgrade to anyone', () => {
    const view = appHomeView({
      targets: [target('prod', { last: { kind: 'upgrade', fromVersion: '0.22.0', toVersion: '0.25.0', status: 'succeeded', outcome: 'succeeded_with_warnings' } })],
      viewerIsApprover: false,
      now: NOW,
    });

    const text = sectionOf(view, 'prod')?.text?.text ?? '';
    expect(text).toContain('*prod* runs `0.25.0`');
    expect(text).toContain('Newest release <https://github.com/enyineer/checkstack/releases/tag/v0.30.0|v0.30.0> · behind by 3 minor lines and 1 patch');
    expect(text).toContain('Last: upgrade `0.22.0` → `0.25.0`: succeeded (with warnings)');
    expect(sectionOf(view, 'prod')?.accessory).toMatchObject({ action_id: 'home_plan_upgrade', value: 'prod 0.30.0' });
  });

  it('offers nothing to a target that is up to date, and says a target whose status could not be read', () => {
    const view = appHomeView({ targets: [target('prod', { behind: { minors: 0, patches: 0 } }), { target: 'broken', status: null }], viewerIsApprover: true, now: NOW });

    expect(sectionOf(view, 'prod')?.text?.text).toContain('up to date');
    expect(sectionOf(view, 'broken')?.text?.text).toContain('could not be read');
    expect(actionIds(view)).toEqual([]);
  });

  it('offers no Pin to a version the target reports that is not an exact version', () => {
    const view = appHomeView({ targets: [target('edge', { tag: 'latest', version: `0.25.0-${'x'.repeat(3000)} <!here>` })], viewerIsApprover: true, now: NOW });

    expect(actionIds(view)).toEqual([]);
    expect(sectionOf(view, 'edge')?.text?.text).not.toContain('<!here>');
    expect(checkHomeView(view)).toBeNull();
  });

  it('escapes and clips outside text (a hostile image tag, a link that is not one)', () => {
    const hostile = `<!channel> ${'&<>'.repeat(5000)}`;
    const view = appHomeView({
      targets: [target('prod', { tag: hostile, version: null, latest: { version: hostile, htmlUrl: 'javascript:alert(1)' } })],
      viewerIsApprover: true,
      now: NOW,
    });

    const text = sectionOf(view, 'prod')?.text?.text ?? '';
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('javascript:');
    expect(checkHomeView(view)).toBeNull();
  });

  it('fits 60 targets in 100 blocks, each with its own Pin or Plan upgrade, in a view Slack takes', () => {
    const targets = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? target(`t${i}`, { tag: 'latest', version: '0.25.0' }) : target(`t${i}`)));

    const view = appHomeView({ targets, viewerIsApprover: true, now: NOW });

    expect(view.blocks.length).toBeLessThanOrEqual(HOME_VIEW_BLOCKS);
    expect(targets.every((t) => sectionOf(view, t.target))).toBe(true);
    expect(actionIds(view).filter((id) => id === 'pin_version')).toHaveLength(30);
    expect(checkHomeView(view)).toBeNull();
  });

  it('summarises the targets past the block limit by name, saying so, and marks those with an upgrade in flight', () => {
    const targets = Array.from({ length: 150 }, (_, i) => target(`t${i}`, i === 149 ? { active: { kind: 'upgrade', fromVersion: '0.25.0', toVersion: '0.30.0', status: 'running' } } : {}));

    const view = appHomeView({ targets, viewerIsApprover: false, now: NOW });

    expect(view.blocks).toHaveLength(HOME_VIEW_BLOCKS);
    const more = blocks(view).find((b) => b.block_id === 'home_more')?.text?.text ?? '';
    expect(more).toMatch(/^…and 53 more targets the Home tab has no room for/);
    expect(more).toContain('`t149` (upgrade in flight)');
    expect(checkHomeView(view)).toBeNull();
  });

  it('says when no target is configured', () => {
    const view = appHomeView({ targets: [], viewerIsApprover: false, now: NOW });

    expect(JSON.stringify(view.blocks)).toContain('No targets are configured');
    expect(checkHomeView(view)).toBeNull();
  });
});
