// Scheduled upgrades (`/checkstack upgrade V --at <time>`) through Slack's signed interaction path: confirmed now,
// started at its time and not before, reminded in the thread with a Cancel button, checked again at the start.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCheckstack } from '../fakes/fake-checkstack.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { staticDeployer } from '../support/static-deployer.js';
import type { TestBot } from '../support/test-bot.js';
import { blocksText, startTwoTargetBot, type TwoTargetBot } from '../support/two-target-bot.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';

/** An ISO time `ms` from now, as a user would type it (with `Z`). */
const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('scheduled upgrades: --at', () => {
  let setup: TwoTargetBot | undefined;
  let t: TestBot;
  let checkstack: FakeCheckstack;
  const deployer = staticDeployer({ tag: '0.25.0' });

  beforeAll(async () => {
    // The scheduled-upgrades worker runs; the upgrade job itself stays in its queue ("queued" is the start).
    setup = await startTwoTargetBot({
      requester: REQUESTER,
      approver: APPROVER,
      channel: CHANNEL,
      stagingExtra: `    autoUpgrade:
      patches: false
      window: { from: "00:00", to: "23:59", timeZone: UTC }
`,
      docker: () => deployer,
    });
    ({ t, checkstack } = setup);
  });
  afterAll(() => setup?.close());
  afterEach(async () => {
    await t.bot.deps.pool.query(`UPDATE upgrades SET status = 'cancelled' WHERE status IN ('confirming', 'scheduled', 'queued', 'running')`);
    checkstack.state.releaseVersion = '0.25.0';
    deployer.instance.tag = '0.25.0';
  });

  const rows = (sql: string, params: unknown[] = []) => setup!.rows(sql, params);
  const ephemeralReply = (responseUrl: string | undefined) => setup!.ephemeralReply(responseUrl);
  const current = (m: FakeMessage) => setup!.current(m);
  const thread = (m: FakeMessage) => t.slack.threadReplies(m.ts);
  const statusOf = async (id: string) => (await rows(`SELECT status FROM upgrades WHERE id = $1`, [id]))[0]?.status as string;

  /** Types the command, confirms every item as the approver and presses *Schedule upgrade*. */
  async function schedule(text: string): Promise<{ message: FakeMessage; id: string; planned: string }> {
    const before = t.slack.messages(CHANNEL).length;
    const response = await t.driver.slashCommand('/checkstack', text, { user: REQUESTER, channel: CHANNEL });
    const planned = await ephemeralReply(response.responseUrl);
    expect(planned).toMatch(/planned, to start at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);
    await t.driver.clickAll(message, 'confirm', { user: APPROVER });
    const ready = await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade') && current(message));
    expect(blocksText(ready)).toContain('Schedule upgrade');
    await t.driver.click(ready, 'start_upgrade', { user: APPROVER });
    await t.slack.waitFor(() => /Scheduled\*: starts at/.test(blocksText(current(message))));
    return { message, id, planned };
  }

  it('starts at its time and not before: scheduled, reminded at once (less than 15 min remain), then queued', async () => {
    const { message, id } = await schedule(`upgrade 0.30.0 --at ${isoIn(5_000)}`);

    expect(await statusOf(id)).toBe('scheduled');
    expect(await t.bot.deps.queues.upgrades.raw.getJob(id)).toBeUndefined();
    expect(await t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-start-${id}`)).toBeDefined();
    const reminder = await t.slack.waitFor(() => thread(message).find((r) => /Reminder: the upgrade of `prod` to `0\.30\.0` starts at/.test(r.text ?? '')));
    expect(blocksText(reminder)).toContain('cancel_scheduled_upgrade');

    await expect.poll(() => statusOf(id), { timeout: 20_000, interval: 200 }).toBe('queued');
    const [row] = await rows(`SELECT scheduled_at, queued_at, started_by FROM upgrades WHERE id = $1`, [id]);
    expect(row.queued_at.getTime()).toBeGreaterThanOrEqual(row.scheduled_at.getTime());
    expect(row.started_by).toBe(APPROVER);
    expect((await t.bot.deps.queues.upgrades.raw.getJob(id))?.data).toMatchObject({ upgradeId: id, kind: 'upgrade' });
    await t.slack.waitFor(() => thread(message).some((r) => /scheduled upgrade to `0\.30\.0` starts now/.test(r.text ?? '')));
    // The reminder keeps its words but its Cancel button goes.
    await t.slack.waitFor(() => !blocksText(t.slack.message(CHANNEL, reminder.ts)).includes('cancel_scheduled_upgrade'));
  });

  it('reminds 15 minutes before the start, not earlier, when more than that remains', async () => {
    const { message, id } = await schedule(`upgrade 0.30.0 --at ${isoIn(40 * 60_000)}`);
    const reminderJob = await t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-reminder-${id}`);
    const [{ scheduled_at: at }] = await rows(`SELECT scheduled_at FROM upgrades WHERE id = $1`, [id]);

    expect(await reminderJob!.getState()).toBe('delayed');
    // Due 15 minutes before the start (the delay was computed a moment after the request: allow that moment).
    expect(Math.abs(reminderJob!.timestamp + (reminderJob!.opts.delay ?? 0) - (at.getTime() - 15 * 60_000))).toBeLessThan(5_000);
    expect(thread(message).some((r) => /Reminder/.test(r.text ?? ''))).toBe(false);

    // Its time, as far as BullMQ is concerned: the reminder is posted once, and the upgrade still waits.
    await reminderJob!.promote();
    await t.slack.waitFor(() => thread(message).some((r) => /Reminder: the upgrade of `prod` to `0\.30\.0` starts at .* \(in (39|40) min\)/.test(r.text ?? '')));
    expect(await statusOf(id)).toBe('scheduled');
  });

  it("is stopped by Cancel on the reminder: a non-approver's click is refused, the requester's cancels it and its jobs", async () => {
    const { message, id } = await schedule(`upgrade 0.30.0 --at ${isoIn(60_000)}`);
    const reminder = await t.slack.waitFor(() => thread(message).find((r) => blocksText(r).includes('cancel_scheduled_upgrade')));

    const refused = await t.driver.click({ ...reminder, channel: CHANNEL }, 'cancel_scheduled_upgrade', { user: MEMBER });
    expect(await ephemeralReply(refused.responseUrl)).toMatch(/only the requester or an approver/i);
    expect(await statusOf(id)).toBe('scheduled');

    const cancel = await t.driver.click({ ...reminder, channel: CHANNEL }, 'cancel_scheduled_upgrade', { user: REQUESTER });

    expect(await ephemeralReply(cancel.responseUrl)).toMatch(/Cancelled the scheduled upgrade of `prod`/);
    expect(await statusOf(id)).toBe('cancelled');
    expect(await t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-start-${id}`)).toBeUndefined();
    expect(await t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-reminder-${id}`)).toBeUndefined();
    await t.slack.waitFor(() => /Cancelled/.test(blocksText(current(message))));
    await t.slack.waitFor(() => thread(message).some((r) => /Scheduled upgrade cancelled by <@U0APPROVER1>/.test(r.text ?? '')));
    const audit = await rows(`SELECT user_id, outcome FROM audit_log WHERE action = 'cancel' ORDER BY id DESC LIMIT 2`);
    expect(audit).toEqual([{ user_id: REQUESTER, outcome: 'ok' }, { user_id: MEMBER, outcome: 'refused' }]);
  });

  it('does not start when the target changed version meanwhile, and says why in the thread', async () => {
    const { message, id } = await schedule(`upgrade 0.30.0 --at ${isoIn(4_000)}`);
    checkstack.state.releaseVersion = '0.27.0';
    deployer.instance.tag = '0.27.0';

    await expect.poll(() => statusOf(id), { timeout: 20_000, interval: 200 }).toBe('expired');

    await t.slack.waitFor(() => thread(message).some((r) => /did not start: the target's version changed underneath it \(now `0\.27\.0`\)/.test(r.text ?? '')));
    expect(await t.bot.deps.queues.upgrades.raw.getJob(id)).toBeUndefined();
    expect(blocksText(current(message))).toMatch(/Expired/);
  });

  it('refuses Schedule when its time passed while the checklist waited, and keeps the request as it was', async () => {
    const before = t.slack.messages(CHANNEL).length;
    await t.driver.slashCommand('/checkstack', `upgrade 0.30.0 --at ${isoIn(3_600_000)}`, { user: REQUESTER, channel: CHANNEL });
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);
    await t.driver.clickAll(message, 'confirm', { user: APPROVER });
    const ready = await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade') && current(message));
    await rows(`UPDATE upgrades SET scheduled_at = now() - interval '5 minutes' WHERE id = $1`, [id]);

    const late = await t.driver.click(ready, 'start_upgrade', { user: APPROVER });

    expect(await ephemeralReply(late.responseUrl)).toMatch(/was to start at .* UTC, which has passed: nothing changed/);
    expect(await statusOf(id)).toBe('confirming');
    expect(await t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-start-${id}`)).toBeUndefined();
  });

  it('gets its delayed jobs back from the sweep when Redis lost them, and still starts once at its time', async () => {
    const { message, id } = await schedule(`upgrade 0.30.0 --at ${isoIn(6_000)}`);
    await t.slack.waitFor(() => thread(message).some((r) => /Reminder/.test(r.text ?? '')));
    // The reminder shows in Slack a moment before its job ends; an active job cannot be removed.
    const reminderJob = () => t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-reminder-${id}`);
    await expect.poll(async () => (await reminderJob())?.getState() ?? 'gone', { timeout: 10_000, interval: 50 }).toMatch(/^(completed|gone)$/);
    for (const jobId of [`scheduled-start-${id}`, `scheduled-reminder-${id}`]) await (await t.bot.deps.queues.scheduledUpgrades.raw.getJob(jobId))?.remove();
    expect(await t.bot.deps.queues.scheduledUpgrades.raw.getJob(`scheduled-start-${id}`)).toBeUndefined();

    await t.bot.deps.queues.housekeeping.add('sweep', {});

    await expect.poll(() => statusOf(id), { timeout: 20_000, interval: 200 }).toBe('queued');
    await t.slack.waitFor(() => thread(message).some((r) => /starts now/.test(r.text ?? '')));
    // The reminder was already posted before the loss: the re-added reminder job does not post it again.
    expect(thread(message).filter((r) => r.versions.some((v) => /Reminder/.test(v.text ?? '')))).toHaveLength(1);
  });

  it('shows what is scheduled in status and history, in UTC and relative', async () => {
    await schedule(`upgrade 0.30.0 --at ${isoIn(3 * 3600_000 + 30_000)}`);

    const status = await ephemeralReply((await t.driver.slashCommand('/checkstack', 'status', { user: MEMBER, channel: CHANNEL })).responseUrl);
    expect(status).toMatch(/scheduled: upgrade to `0\.30\.0` at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 3 h\)/);
    const history = await ephemeralReply((await t.driver.slashCommand('/checkstack', 'history', { user: MEMBER, channel: CHANNEL })).responseUrl);
    expect(history).toMatch(/\*scheduled\* · starts \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 3 h\)/);
  });

  it('schedules `--at window` at the first moment inside the target window, and refuses it for a target without one', async () => {
    const refused = await t.driver.slashCommand('/checkstack', 'upgrade 0.30.0 --at window', { user: REQUESTER, channel: CHANNEL });
    expect(await ephemeralReply(refused.responseUrl)).toMatch(/`prod` has no maintenance window/);
    expect(await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`)).toEqual([]);

    const response = await t.driver.slashCommand('/checkstack', 'upgrade 0.30.0 staging --at window', { user: REQUESTER, channel: CHANNEL });
    expect(await ephemeralReply(response.responseUrl)).toMatch(/planned, to start at/);
    const [row] = await rows(`SELECT scheduled_at, created_at FROM upgrades WHERE status = 'confirming' AND target = 'staging'`);
    expect(row.scheduled_at).not.toBeNull();
  });
});
