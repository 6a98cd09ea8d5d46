// The promotion gate through Slack's signed interaction path: the checklist's promotion item the bot checks, Start
// refused while the version is not proven on `promotion.from`, allowed once a green run there has soaked, and the
// override that two different approvers confirm.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { staticDeployer } from '../support/static-deployer.js';
import type { TestBot } from '../support/test-bot.js';
import { blocksText, startTwoTargetBot, type TwoTargetBot } from '../support/two-target-bot.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';

describe('promotion gate: a version must succeed on staging and soak there before prod', () => {
  let setup: TwoTargetBot | undefined;
  let t: TestBot;

  beforeAll(async () => {
    setup = await startTwoTargetBot({
      requester: REQUESTER,
      approver: APPROVER,
      channel: CHANNEL,
      prodExtra: '    promotion: { from: staging, soak: 1h }\n',
      docker: () => staticDeployer({ tag: '0.25.0' }),
    });
    ({ t } = setup);
  });
  afterAll(() => setup?.close());
  afterEach(async () => {
    await t.bot.deps.pool.query(`UPDATE upgrades SET status = 'cancelled' WHERE status IN ('confirming', 'scheduled', 'queued', 'running')`);
    await t.bot.deps.pool.query(`DELETE FROM upgrades WHERE target = 'staging'`);
  });

  const rows = (sql: string, params: unknown[] = []) => setup!.rows(sql, params);

  /** A run of `version` on staging as the upgrade job leaves it: ready `readyAgo` ago, finished with `outcome`. */
  async function stagingRun(version: string, readyAgo: string, status = 'succeeded', outcome: string | null = 'succeeded', step: string | null = null) {
    await rows(
      `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, channel_id, status, plan, items, automatic, expires_at, ready_at, finished_at, outcome, step)
       VALUES ($1, 'upgrade', 'staging', '0.25.0', $2, $3, $4, $5, '{}', '[]', '[]', now(), now() - $6::interval, now() - $6::interval, $7, $8)`,
      [randomUUID(), version, REQUESTER, CHANNEL, status, readyAgo, outcome, step],
    );
  }

  const ephemeralReply = (responseUrl: string | undefined) => setup!.ephemeralReply(responseUrl);
  const current = (m: FakeMessage) => setup!.current(m);

  async function requestConfirmed(text = 'upgrade 0.30.0'): Promise<{ message: FakeMessage; id: string }> {
    const before = t.slack.messages(CHANNEL).length;
    const response = await t.driver.slashCommand('/checkstack', text, { user: REQUESTER, channel: CHANNEL });
    expect(await ephemeralReply(response.responseUrl)).toMatch(/planned/);
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming' AND target = 'prod'`);
    await t.driver.clickAll(message, 'confirm', { user: APPROVER });
    const [{ n }] = await rows(`SELECT jsonb_array_length(items) AS n FROM upgrades WHERE id = $1`, [id]);
    await expect.poll(async () => (await rows(`SELECT count(*)::int AS n FROM confirmations WHERE upgrade_id = $1`, [id]))[0].n).toBe(n);
    return { message, id };
  }

  /** Start as a user who kept an older copy of the message with the button would press it. */
  async function pressStart(message: FakeMessage, id: string, user = APPROVER) {
    const withStart = { ...current(message), blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'start_upgrade', value: id, text: { type: 'plain_text', text: 'Start' } }] }] };
    return t.driver.click(withStart as never, 'start_upgrade', { user, stale: true });
  }

  it('refuses Start while the version never ran on staging, then while it soaks, and starts once it has soaked', async () => {
    const { message, id } = await requestConfirmed();
    await t.slack.waitFor(() => /never upgraded it there/.test(blocksText(current(message))));
    expect(blocksText(current(message))).toContain('succeeded on `staging` (post-flight green, not rolled back) and has run there for 1h');
    expect(blocksText(current(message))).not.toContain('start_upgrade');

    const never = await pressStart(message, id);
    expect(await ephemeralReply(never.responseUrl)).toMatch(/Start refused: `0\.30\.0` is not proven on `staging`: the bot never upgraded it there\. It will not hold by itself/);
    expect(await t.bot.deps.queues.upgrades.raw.getJob(id)).toBeUndefined();

    await stagingRun('0.30.0', '10 minutes');
    const soaking = await pressStart(message, id);
    const soakingText = await ephemeralReply(soaking.responseUrl);
    expect(soakingText).toMatch(/not yet for the soak time\. It will hold at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (49|50) min\)/);
    expect((await rows(`SELECT status FROM upgrades WHERE id = $1`, [id]))[0].status).toBe('confirming');

    // An hour later, as far as the gate can tell: the run on staging became ready 2 h ago.
    await rows(`UPDATE upgrades SET ready_at = now() - interval '2 hours' WHERE target = 'staging'`);
    const started = await pressStart(message, id);
    expect(started.status).toBe(200);
    await t.slack.waitFor(() => /queued/i.test(blocksText(current(message))));
    expect((await rows(`SELECT status FROM upgrades WHERE id = $1`, [id]))[0].status).toBe('queued');
    expect(await t.bot.deps.queues.upgrades.raw.getJob(id)).toBeDefined();
  });

  it('shows the gate as holding on the checklist when a green run has soaked, and offers Start', async () => {
    await stagingRun('0.30.0', '3 hours');
    const { message } = await requestConfirmed();

    await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade'));
    expect(blocksText(current(message))).toMatch(/ready there since .* UTC, ran 3 h/);
    expect(blocksText(current(message))).not.toContain('promotion_override');
  });

  it('lets the latest failed or rolled-back run on staging decide, whatever an earlier green run did', async () => {
    await stagingRun('0.30.0', '5 hours');
    await stagingRun('0.30.0', '1 hour', 'rolled_back', 'failed');
    const { message, id } = await requestConfirmed();

    const refused = await pressStart(message, id);

    expect(await ephemeralReply(refused.responseUrl)).toMatch(/it was rolled back there\. It will not hold by itself/);
    expect((await rows(`SELECT status FROM upgrades WHERE id = $1`, [id]))[0].status).toBe('confirming');
  });

  it('says the post-flight failed on staging when the job ended there in its post-flight step', async () => {
    await stagingRun('0.30.0', '3 hours', 'failed', 'failed', 'postflight');
    const { message, id } = await requestConfirmed();

    const refused = await pressStart(message, id);

    expect(await ephemeralReply(refused.responseUrl)).toMatch(/its post-flight checks failed there\. It will not hold by itself/);
  });

  it('starts without a green staging run once two different approvers confirm the override; a non-approver or a repeated click does not count', async () => {
    const { message, id } = await requestConfirmed();
    await t.slack.waitFor(() => blocksText(current(message)).includes('promotion_override'));

    const member = await t.driver.click(current(message), 'promotion_override', { user: MEMBER });
    expect(await ephemeralReply(member.responseUrl)).toMatch(/Only approvers can confirm the promotion override/);
    const first = await t.driver.click(current(message), 'promotion_override', { user: APPROVER });
    await t.slack.waitFor(() => /1 more needed/.test(blocksText(current(message))));
    expect(t.slack.responses().filter((r) => r.url === first.responseUrl)).toEqual([]);
    const repeat = await t.driver.click(current(message), 'promotion_override', { user: APPROVER });
    expect(await ephemeralReply(repeat.responseUrl)).toMatch(/already confirmed the override: a second, different approver/);
    expect(await rows(`SELECT user_id FROM promotion_overrides WHERE upgrade_id = $1`, [id])).toEqual([{ user_id: APPROVER }]);

    const early = await pressStart(message, id);
    expect(await ephemeralReply(early.responseUrl)).toMatch(/one more approver confirms the override/);

    await t.driver.click(current(message), 'promotion_override', { user: REQUESTER });
    await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade'));
    expect(blocksText(current(message))).not.toMatch(/"action_id":"promotion_override"/);
    await t.driver.click(current(message), 'start_upgrade', { user: APPROVER });
    await t.slack.waitFor(() => /queued/i.test(blocksText(current(message))));

    // Refused clicks are audited too (without an upgrade id: they were refused before one was trusted).
    const audit = await rows(`SELECT user_id, outcome, error_code FROM audit_log WHERE action = 'promotion_override' ORDER BY id`);
    expect(audit.filter((r) => r.outcome === 'ok').map((r) => r.user_id).sort()).toEqual([APPROVER, REQUESTER].sort());
    expect(audit.filter((r) => r.outcome !== 'ok').map((r) => r.user_id).sort()).toEqual([APPROVER, MEMBER].sort());
    expect(await rows(`SELECT user_id FROM promotion_overrides WHERE upgrade_id = $1 ORDER BY at`, [id])).toEqual([{ user_id: APPROVER }, { user_id: REQUESTER }]);
  });

  it('records one override confirmation for concurrent and retried clicks of the same approver', async () => {
    const { message, id } = await requestConfirmed();
    const withButton = await t.slack.waitFor(() => blocksText(current(message)).includes('promotion_override') && current(message));

    await Promise.all([
      t.driver.click(withButton, 'promotion_override', { user: APPROVER, stale: true }),
      t.driver.click(withButton, 'promotion_override', { user: APPROVER, stale: true }),
      t.driver.click(withButton, 'promotion_override', { user: APPROVER, stale: true, retryNum: 1 }),
    ]);

    await expect.poll(() => rows(`SELECT user_id FROM promotion_overrides WHERE upgrade_id = $1`, [id])).toEqual([{ user_id: APPROVER }]);
    await t.slack.waitFor(() => /1 more needed/.test(blocksText(current(message))));
    expect(blocksText(current(message))).not.toContain('start_upgrade');
  });

  it('schedules an upgrade for after the soak (checked again at its start), but not one that starts before it', async () => {
    await stagingRun('0.30.0', '10 minutes');
    const tooSoon = await requestConfirmed(`upgrade 0.30.0 --at ${new Date(Date.now() + 20 * 60_000).toISOString()}`);
    const refused = await pressStart(tooSoon.message, tooSoon.id);
    expect(await ephemeralReply(refused.responseUrl)).toMatch(/not yet for the soak time\. It will hold at/);
    await t.driver.click(current(tooSoon.message), 'cancel_upgrade', { user: REQUESTER });
    await t.slack.waitFor(() => /Cancelled/.test(blocksText(current(tooSoon.message))));

    const later = await requestConfirmed(`upgrade 0.30.0 --at ${new Date(Date.now() + 2 * 3600_000).toISOString()}`);

    await t.slack.waitFor(() => blocksText(current(later.message)).includes('Schedule upgrade') && blocksText(current(later.message)).includes('start_upgrade'));
    await t.driver.click(current(later.message), 'start_upgrade', { user: APPROVER });
    await expect.poll(async () => (await rows(`SELECT status FROM upgrades WHERE id = $1`, [later.id]))[0].status).toBe('scheduled');
  });

  it('shows in /checkstack status, per version, where it has been proven', async () => {
    await stagingRun('0.30.0', '3 hours');
    await stagingRun('0.28.0', '6 hours', 'failed', 'failed');

    const status = await t.driver.slashCommand('/checkstack', 'status prod', { user: MEMBER, channel: CHANNEL });
    const text = await ephemeralReply(status.responseUrl);

    expect(text).toContain('Where versions have been proven');
    expect(text).toMatch(/`0\.30\.0`: `staging` runs 3 h ✅/);
    expect(text).toMatch(/`0\.28\.0`: `staging` failed/);
  });
});
