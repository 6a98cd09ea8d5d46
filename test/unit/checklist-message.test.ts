import { describe, expect, it } from 'vitest';
import type { AutomaticCheck, UpgradeStatus } from '../../src/domain/checklist.js';
import { checklistItems, confirmItem, newChecklistState } from '../../src/domain/checklist.js';
import type { PlannedBreakingChange, UpgradePlan } from '../../src/domain/upgrade-plan.js';
import {
  BLOCK_KIT_LIMITS,
  checklistMessage,
  messageSize,
  type ButtonElement,
  type ChecklistMessageView,
  type MessageBlock,
  type SlackMessage,
  withConfirmations,
} from '../../src/slack/checklist-message.js';

const UPGRADE_ID = '0b7d3c1e-7f0a-4c1e-9a55-3f1f2a9e6c01';
const FINGERPRINT = '3f2a9c4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081';
const AT = new Date('2026-01-23T10:15:00Z');

function plan(overrides: Partial<UpgradePlan> = {}): UpgradePlan {
  return {
    from: '0.28.0',
    to: '0.30.0',
    current: { apiVersion: '0.28.0', imageTag: '0.28.0', reachable: true },
    releasesInRange: [
      { version: '0.30.0', url: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0', bump: 'minor', breakingCount: 1 },
    ],
    breaking: [
      {
        id: '3dd1914',
        title: 'Migrate health check strategies to VersionedAggregated with _type discriminator',
        packages: ['@checkstack/backend-api', '@checkstack/healthcheck-backend'],
        audience: 'plugin-author',
        versions: ['0.30.0'],
      },
      {
        id: '8e43507',
        title: 'BREAKING: `getSystems` now returns `{ systems: [...] }` instead of plain array',
        packages: ['@checkstack/catalog-common'],
        audience: 'operator',
        versions: ['0.30.0'],
      },
    ],
    minorsCrossed: 1,
    flags: { migrations: true, encryption: false, destructive: false, truncated: false },
    versionMismatch: false,
    unreachable: false,
    ...overrides,
  };
}

const AUTOMATIC: AutomaticCheck[] = [
  { id: 'target_ready', title: 'Target reachable and ready', result: 'ok' },
  { id: 'deployment_found', title: 'Container `checkstack` found running 0.28.0', result: 'ok' },
  { id: 'master_key_present', title: '`ENCRYPTION_MASTER_KEY` present', result: 'ok', fingerprint: FINGERPRINT },
];

function view(overrides: Partial<ChecklistMessageView> = {}): ChecklistMessageView {
  const p = overrides.plan ?? plan();
  return {
    upgradeId: UPGRADE_ID,
    target: 'prod',
    requester: 'U0REQUESTER',
    plan: p,
    items: checklistItems(p, AUTOMATIC),
    automatic: AUTOMATIC,
    status: 'confirming',
    canStart: false,
    ...overrides,
  };
}

function buttons(message: SlackMessage): ButtonElement[] {
  return message.blocks.flatMap((block) => {
    if (block.type === 'actions') return block.elements;
    if (block.type === 'section' && block.accessory) return [block.accessory];
    return [];
  });
}

function allText(message: SlackMessage): string {
  return JSON.stringify(message);
}

function expectWithinLimits(message: SlackMessage): void {
  expect(message.blocks.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocks);
  expect(messageSize(message)).toBeLessThan(BLOCK_KIT_LIMITS.message);
  const ids = message.blocks.map((block) => block.block_id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const block of message.blocks) {
    if (block.type === 'section') expect(block.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.sectionText);
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.headerText);
    if (block.type === 'context') for (const element of block.elements) expect(element.text.length).toBeLessThanOrEqual(3000);
  }
  for (const button of buttons(message)) {
    expect(button.action_id.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.actionId);
    expect(button.value.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.buttonValue);
    expect(button.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.buttonText);
  }
}

function sectionText(message: SlackMessage, blockId: string): string {
  const block = message.blocks.find((b): b is Extract<MessageBlock, { type: 'section' }> => b.block_id === blockId && b.type === 'section');
  return block?.text.text ?? '';
}

describe('checklistMessage while confirming', () => {
  it('heads the message with the target and the versions', () => {
    const message = checklistMessage(view());

    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { text: 'Upgrade prod: 0.28.0 → 0.30.0' } });
    expect(message.text).toContain('prod');
    expect(message.text).toContain('0.30.0');
  });

  it('offers a Confirm button per open item, and Cancel, but no Start yet', () => {
    const message = checklistMessage(view());

    const actionIds = buttons(message).map((button) => button.action_id);
    expect(actionIds).toEqual(['confirm:notes_read', 'confirm:backup', 'confirm:master_key', 'confirm:downtime', 'cancel_upgrade']);
    expect(buttons(message)[1]?.value).toBe(`${UPGRADE_ID}:backup`);
    expectWithinLimits(message);
  });

  it('shows who confirmed an item and when, instead of its button', () => {
    const v = view();
    const items = v.items.map((item) => (item.id === 'backup' ? { ...item, confirmation: { userId: 'U0APPROVER1', at: AT } } : item));

    const message = checklistMessage({ ...v, items });

    expect(buttons(message).map((button) => button.action_id)).not.toContain('confirm:backup');
    expect(sectionText(message, 'item:backup')).toMatch(/✅ confirmed by <@U0APPROVER1> at <!date\^1769163300\^[^|]+\|2026-01-23 10:15 UTC>/);
    expect(sectionText(message, 'status')).toContain('1 of 4 items confirmed');
  });

  it('renders the confirmations recorded in a checklist state', () => {
    const v = view();
    const state = confirmItem(newChecklistState(v.items), 'downtime', 'U0APPROVER2', AT);

    const message = checklistMessage({ ...v, items: withConfirmations(v.items, state) });

    expect(sectionText(message, 'item:downtime')).toContain('confirmed by <@U0APPROVER2>');
    expect(buttons(message).map((button) => button.action_id)).not.toContain('confirm:downtime');
  });

  it('offers Start upgrade once the checklist can start', () => {
    const v = view();
    const items = v.items.map((item) => ({ ...item, confirmation: { userId: 'U0APPROVER1', at: AT } }));

    const message = checklistMessage({ ...v, items, canStart: true });

    expect(buttons(message).map((button) => button.action_id)).toEqual(['start_upgrade', 'cancel_upgrade']);
    expect(buttons(message)[0]?.value).toBe(UPGRADE_ID);
  });

  it('shows the plan: release links, minors crossed, flags, breaking changes operator-first (whatever order it gets)', () => {
    const message = checklistMessage(view());

    expect(sectionText(message, 'plan')).toContain('<https://github.com/enyineer/checkstack/releases/tag/v0.30.0|v0.30.0>');
    expect(sectionText(message, 'plan')).toContain('`/api/about` says `0.28.0`, the image tag is `0.28.0`');
    expect(sectionText(message, 'minors')).toContain('each minor may break: read every one');
    expect(sectionText(message, 'flags')).toContain('Database migrations');
    const breaking = sectionText(message, 'breaking');
    expect(breaking.indexOf('getSystems')).toBeLessThan(breaking.indexOf('VersionedAggregated'));
  });

  it('warns when the versions disagree or the target is unreachable', () => {
    const p = plan({ current: { apiVersion: '0.28.0', imageTag: 'latest', reachable: false }, versionMismatch: true, unreachable: true });

    const message = checklistMessage(view({ plan: p }));

    const warning = sectionText(message, 'version_warning');
    expect(warning).toContain('Versions disagree');
    expect(warning).toContain('`latest`');
    expect(warning).toContain('Target unreachable');
    expect(buttons(message).map((button) => button.action_id)).toContain('confirm:version_mismatch_ack');
  });

  it('shows the automatic checks with their results and only a short fingerprint', () => {
    const checks: AutomaticCheck[] = [
      ...AUTOMATIC.slice(0, 2),
      { id: 'master_key_present', title: '`ENCRYPTION_MASTER_KEY` present', result: 'ok', fingerprint: FINGERPRINT, detail: `fingerprint ${FINGERPRINT}` },
      { id: 'target_ready', title: 'Ready probe', result: 'failed', detail: 'connect ECONNREFUSED' },
    ];

    const message = checklistMessage(view({ automatic: checks }));

    const text = sectionText(message, 'automatic');
    expect(text).toContain('✅ Target reachable and ready');
    expect(text).toContain('❌ Ready probe: connect ECONNREFUSED');
    expect(text).toContain(`\`${FINGERPRINT.slice(0, 12)}…\``);
    expect(allText(message)).not.toContain(FINGERPRINT);
    expect(allText(message)).not.toContain(FINGERPRINT.slice(0, 20));
  });

  it('escapes text from release notes so it cannot mention or link', () => {
    const hostile: PlannedBreakingChange = {
      id: 'bad0001',
      title: 'Ping <!channel> & <@U999> <https://evil.example|click>',
      packages: ['@checkstack/<script>'],
      audience: 'operator',
      versions: ['0.30.0'],
    };

    const message = checklistMessage(view({ plan: plan({ breaking: [hostile] }), statusDetail: '<!here>' }));

    const text = allText(message);
    expect(text).not.toMatch(/<!channel>|<!here>|<@U999>|<https:\/\/evil/);
    expect(sectionText(message, 'breaking')).toContain('Ping &lt;!channel&gt; &amp; &lt;@U999&gt;');
  });
});

describe('checklistMessage after confirming', () => {
  const ALL_CONFIRMED = view().items.map((item) => ({ ...item, confirmation: { userId: 'U0APPROVER1', at: AT } }));

  it.each<[UpgradeStatus, RegExp]>([
    ['queued', /Queued/],
    ['running', /Running\* \(step `pull_image`\)/],
    ['succeeded', /Succeeded.*prod runs 0\.30\.0/],
    ['failed', /Failed\* \(step `pull_image`\): manifest unknown.*\/checkstack rollback prod/],
    ['cancelled', /Cancelled/],
    ['expired', /Expired.*\/checkstack upgrade 0\.30\.0 prod/],
    ['rolling_back', /Rolling back/],
    ['rolled_back', /Rolled back.* to 0\.28\.0/],
  ])('shows %s with no confirm or start buttons', (status, line) => {
    const message = checklistMessage(
      view({ status, items: ALL_CONFIRMED, canStart: true, step: 'pull_image', statusDetail: status === 'failed' ? 'manifest unknown' : undefined }),
    );

    expect(sectionText(message, 'status')).toMatch(line);
    const actionIds = buttons(message).map((button) => button.action_id);
    expect(actionIds.filter((id) => id.startsWith('confirm:') || id === 'start_upgrade')).toEqual([]);
    expect(actionIds).toEqual(status === 'queued' ? ['cancel_upgrade'] : []);
    expectWithinLimits(message);
  });

  it('marks items nobody confirmed on an expired request', () => {
    const message = checklistMessage(view({ status: 'expired' }));

    expect(sectionText(message, 'item:backup')).toContain('not confirmed');
  });
});

describe('checklistMessage limits', () => {
  function hugePlan(): UpgradePlan {
    const releasesInRange = Array.from({ length: 300 }, (_, i) => ({
      version: `0.${i + 29}.0`,
      url: `https://github.com/enyineer/checkstack/releases/tag/v0.${i + 29}.0`,
      bump: 'minor' as const,
      breakingCount: 3,
    }));
    const breaking: PlannedBreakingChange[] = Array.from({ length: 200 }, (_, i) => ({
      id: `c${String(i).padStart(6, '0')}`,
      title: `<!channel> & ${'very long breaking change text '.repeat(100)}`,
      packages: Array.from({ length: 40 }, (__, j) => `@checkstack/package-${j}`),
      audience: i % 2 === 0 ? 'operator' : 'plugin-author',
      versions: releasesInRange.slice(0, 50).map((release) => release.version),
    }));
    return plan({
      releasesInRange,
      breaking,
      minorsCrossed: 300,
      flags: { migrations: true, encryption: true, destructive: true, truncated: true },
      versionMismatch: true,
      unreachable: true,
    });
  }

  it('stays within Block Kit limits for a huge plan and says how much it left out', () => {
    const p = hugePlan();
    const failing: AutomaticCheck = { id: 'target_ready', title: 'Ready', result: 'failed', detail: 'x'.repeat(10_000) };

    const message = checklistMessage(view({ plan: p, automatic: [...AUTOMATIC, failing], items: checklistItems(p, [failing]), statusDetail: 'y'.repeat(10_000) }));

    expectWithinLimits(message);
    expect(sectionText(message, 'breaking')).toMatch(/\+\d+ more/);
    expect(sectionText(message, 'plan')).toMatch(/\+\d+ more/);
    expect(buttons(message).map((button) => button.action_id)).toContain('cancel_upgrade');
    expect(allText(message)).not.toContain('<!channel>');
  });

  it('keeps every block and action id unique even when items repeat', () => {
    const v = view();

    const message = checklistMessage({ ...v, items: [...v.items, ...v.items] });

    expectWithinLimits(message);
  });
});

describe('the checklist message: promotion override and scheduled upgrades', () => {
  const buttons = (message: SlackMessage): ButtonElement[] =>
    message.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : b.type === 'section' && b.accessory ? [b.accessory] : []));

  it('offers the override button while the override misses approvers, and only the record once two confirmed it', () => {
    const open = checklistMessage(view({ promotionOverride: { from: 'staging', version: '0.30.0', by: ['U0APPROVER1'], missing: 1 } }));
    expect(buttons(open).map((b) => b.action_id)).toContain('promotion_override');
    expect(JSON.stringify(open.blocks)).toMatch(/ship `0\.30\.0` without a green run on `staging`[\s\S]*<@U0APPROVER1> \(1 more needed\)/);

    const done = checklistMessage(view({ promotionOverride: { from: 'staging', version: '0.30.0', by: ['U0APPROVER1', 'U0APPROVER2'], missing: 0 } }));
    expect(buttons(done).map((b) => b.action_id)).not.toContain('promotion_override');
    expect(JSON.stringify(done.blocks)).toMatch(/<@U0APPROVER1>, <@U0APPROVER2>/);
  });

  it('names Start *Schedule upgrade* for a request with --at, and shows a scheduled upgrade with Cancel and its time', () => {
    const at = new Date('2027-02-06T01:00:00Z');
    const confirming = checklistMessage(view({ canStart: true, scheduledAt: at }));
    expect(buttons(confirming).find((b) => b.action_id === 'start_upgrade')?.text.text).toBe('Schedule upgrade');

    const scheduled = checklistMessage(view({ status: 'scheduled' as UpgradeStatus, canStart: false, scheduledAt: at }));
    expect(scheduled.text).toMatch(/: scheduled$/);
    expect(JSON.stringify(scheduled.blocks)).toMatch(/Scheduled\*: starts at <!date\^1801875600\^/);
    expect(buttons(scheduled).map((b) => b.action_id)).toEqual(['cancel_upgrade']);
  });
});
