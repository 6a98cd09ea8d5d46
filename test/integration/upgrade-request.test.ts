import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GithubRelease } from '../../src/domain/release-types.js';
import { PLAN_UPGRADE_ACTION } from '../../src/releases/announcer.js';
import { announcementMessage } from '../../src/slack/announcement-message.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';

const fixtures = loadFixtureReleases();

function configYaml(checkstackUrl: string, extra = '') {
  return `approvers:
  users: [${REQUESTER}, ${APPROVER}]
  requireSecondPerson: true
${extra}targets:
  - name: prod
    default: true
    baseUrl: ${checkstackUrl}
    docker: { container: checkstack }
  - name: staging
    baseUrl: ${checkstackUrl}
    docker: { container: checkstack-staging }
`;
}

describe('/checkstack upgrade: plan, checklist and approvals', () => {
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let t: TestBot;
  const PLATFORM_WARNING = 'The Deployment uses RollingUpdate with 2 replicas and the range has migrations.';
  const deployer = staticDeployer({ tag: '0.25.0' }, [PLATFORM_WARNING]);

  beforeAll(async () => {
    github = await startFakeGithub({ releases: fixtures });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: configYaml(checkstack.url),
      deployers: { docker: () => deployer },
      // This file tests the request flow up to "queued": no worker takes the jobs.
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  });
  afterAll(async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
  });
  afterEach(async () => {
    // Each test starts without an active request.
    await t.bot.deps.pool.query(`UPDATE upgrades SET status = 'cancelled' WHERE status IN ('confirming', 'queued', 'running')`);
  });

  async function ephemeralReply(responseUrl: string | undefined) {
    const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === responseUrl), 10_000);
    return reply.payload.text ?? '';
  }

  async function requestUpgrade(text: string, user = REQUESTER): Promise<FakeMessage> {
    const before = t.slack.messages(CHANNEL).length;
    const response = await t.driver.slashCommand('/checkstack', text, { user, channel: CHANNEL });
    const reply = await ephemeralReply(response.responseUrl);
    expect(reply).toMatch(/planned/);
    return t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
  }

  async function jobCount(): Promise<number> {
    const counts = await t.bot.deps.queues.upgrades.raw.getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async function rows(sql: string, params: unknown[] = []) {
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  const blocksText = (m: FakeMessage | undefined) => JSON.stringify(m?.blocks ?? []);
  const current = (m: FakeMessage) => t.slack.message(CHANNEL, m.ts)!;

  it('plans across several releases, listing each distinct breaking change once, and shows both current readings', async () => {
    const message = await requestUpgrade('upgrade 0.30.0');

    const text = blocksText(message);
    expect(text).toContain('0.25.0');
    expect(text).toContain('0.30.0');
    for (const version of ['0.27.0', '0.28.0', '0.30.0']) expect(text).toContain(`releases/tag/v${version}`);
    expect(text.match(/3dd1914/g)?.length ?? text.match(/VersionedAggregated/g)?.length).toBe(1);
    expect(text).toMatch(/each minor may break/i);
    expect(text).toContain('confirm:backup');
    expect(text).not.toContain('start_upgrade');
    expect(text).toContain(PLATFORM_WARNING);
    expect(text).toContain('confirm:automatic_checks_ack');
  });

  it('plans against a release without the platform endpoints from its image tag, with readiness unknown as a warning', async () => {
    checkstack.state.era = '0.31';
    try {
      const message = await requestUpgrade('upgrade 0.30.0');

      const text = blocksText(message);
      expect(text).toContain('Release notes read for every version from 0.25.0 to 0.30.0');
      expect(text).toContain('readiness unknown: this release has no /.checkstack/ready');
      expect(text).not.toContain('confirm:unreachable_ack');
      expect(text).not.toContain('confirm:version_mismatch_ack');
      expect(text).not.toMatch(/not JSON|answered 500/);
    } finally {
      checkstack.state.era = 'current';
    }
  });

  it('goes from the checklist to "queued" with exactly one BullMQ job named after the upgrade', async () => {
    const message = await requestUpgrade('upgrade 0.30.0');
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);

    await t.driver.clickAll(message, 'confirm', { user: APPROVER });
    await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade'));
    await t.driver.click(current(message), 'start_upgrade', { user: APPROVER });

    await t.slack.waitFor(() => /queued/i.test(blocksText(current(message))));
    const job = await t.bot.deps.queues.upgrades.raw.getJob(id);
    expect(job?.data).toMatchObject({ upgradeId: id, kind: 'upgrade' });
    const [row] = await rows(`SELECT status, started_by FROM upgrades WHERE id = $1`, [id]);
    expect(row).toEqual({ status: 'queued', started_by: APPROVER });
  });

  it.each([
    ['latest', 'upgrade latest', /pin an exact/i],
    ['a range', 'upgrade ^0.30', /range|exact version/i],
    ['a partial version', 'upgrade 0.30', /partial|exact version|full version/i],
    ['a version that is not a published release', 'upgrade 0.29.0', /not a published|no published|not released|release/i],
    ['the version already running', 'upgrade 0.25.0', /already runs/i],
    ['a downgrade', 'upgrade 0.22.0', /rollback/],
    ['an unknown target', 'upgrade 0.30.0 moon', /prod.*staging|staging.*prod/],
    ['a time without an offset after --at', 'upgrade 0.30.0 --at 2027-01-01T02:00', /has no offset/],
    ['`--at window` for a target without a maintenance window', 'upgrade 0.30.0 --at window', /`prod` has no maintenance window/],
    ['resume of a target without automatic upgrades', 'resume prod', /has no automatic patch upgrades/],
  ])('refuses %s with an ephemeral reason, enqueues nothing and audits the refusal', async (_name, text, reason) => {
    const jobsBefore = await jobCount();
    const messagesBefore = t.slack.messages(CHANNEL).length;

    const response = await t.driver.slashCommand('/checkstack', text, { user: REQUESTER, channel: CHANNEL });

    expect(await ephemeralReply(response.responseUrl)).toMatch(reason);
    expect(await jobCount()).toBe(jobsBefore);
    expect(t.slack.messages(CHANNEL).length).toBe(messagesBefore);
    await expect
      .poll(() => rows(`SELECT outcome FROM audit_log WHERE detail->>'text' = $1 ORDER BY id DESC LIMIT 1`, [text]))
      .toEqual([{ outcome: 'refused' }]);
  });

  it('refuses a prerelease unless the command says --prerelease', async () => {
    const rc: GithubRelease = { ...fixtures[0]!, id: 7001, tag_name: 'v0.31.0-rc.1', name: 'Checkstack v0.31.0-rc.1', prerelease: true, html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.31.0-rc.1' };
    github.addRelease(rc);

    const refused = await t.driver.slashCommand('/checkstack', 'upgrade 0.31.0-rc.1', { user: REQUESTER, channel: CHANNEL });
    expect(await ephemeralReply(refused.responseUrl)).toMatch(/--prerelease/);

    const message = await requestUpgrade('upgrade 0.31.0-rc.1 --prerelease');
    expect(blocksText(message)).toContain('0.31.0-rc.1');
  });

  it('refuses a second request for a target that already has one, with a link to its thread', async () => {
    const first = await requestUpgrade('upgrade 0.30.0');

    const response = await t.driver.slashCommand('/checkstack', 'upgrade 0.28.0', { user: APPROVER, channel: CHANNEL });

    const reply = await ephemeralReply(response.responseUrl);
    expect(reply).toMatch(/already has an upgrade/);
    expect(reply).toContain(`/archives/${CHANNEL}/p${first.ts.replace('.', '')}`);
  });

  it("refuses a non-approver's confirmation ephemerally and records it in the audit log", async () => {
    const message = await requestUpgrade('upgrade 0.30.0');

    const response = await t.driver.click(message, 'confirm:backup', { user: MEMBER });

    expect(await ephemeralReply(response.responseUrl)).toMatch(/only approvers/i);
    expect(blocksText(current(message))).not.toContain(MEMBER);
    await expect
      .poll(() => rows(`SELECT outcome, error_code FROM audit_log WHERE user_id = $1 AND action = 'confirm' ORDER BY id DESC LIMIT 1`, [MEMBER]))
      .toEqual([{ outcome: 'refused', error_code: 'not_authorized' }]);
  });

  it('never lets the requester complete the checklist alone when a second person is required', async () => {
    const message = await requestUpgrade('upgrade 0.30.0');
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);

    const responses = await t.driver.clickAll(message, 'confirm', { user: REQUESTER });

    const [{ n: items }] = await rows(`SELECT jsonb_array_length(items) AS n FROM upgrades WHERE id = $1`, [id]);
    expect(responses).toHaveLength(items);
    // The clicks are processed concurrently after their acks: whichever comes last is the one refused.
    const urls = new Set(responses.map((r) => r.responseUrl));
    await t.slack.waitFor(() => t.slack.responses().some((r) => urls.has(r.url) && /another approver|colleague/i.test(r.payload.text ?? '')), 10_000);
    await expect.poll(async () => (await rows(`SELECT count(*)::int AS n FROM confirmations WHERE upgrade_id = $1`, [id]))[0].n).toBe(items - 1);
    expect(blocksText(current(message))).not.toContain('start_upgrade');
    const start = await t.driver.click({ ...current(message), blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'start_upgrade', value: id, text: { type: 'plain_text', text: 'Start' } }] }] }, 'start_upgrade', { user: REQUESTER, stale: true });
    expect(await ephemeralReply(start.responseUrl)).toMatch(/must be confirmed/i);
    expect(await t.bot.deps.queues.upgrades.raw.getJob(id)).toBeUndefined();
  });

  it('records one confirmation for a double click', async () => {
    const message = await requestUpgrade('upgrade 0.30.0');
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);

    await Promise.all([
      t.driver.click(message, 'confirm:downtime', { user: APPROVER, stale: true }),
      t.driver.click(message, 'confirm:downtime', { user: APPROVER, stale: true, retryNum: 1 }),
    ]);

    await expect.poll(() => rows(`SELECT user_id FROM confirmations WHERE upgrade_id = $1 AND item_id = 'downtime'`, [id])).toEqual([{ user_id: APPROVER }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await rows(`SELECT user_id FROM confirmations WHERE upgrade_id = $1`, [id])).toHaveLength(1);
  });

  it('takes a click that outruns the record of its checklist: it waits for the ts instead of calling the button foreign', async () => {
    // Slack shows the checklist at once but answers chat.postMessage 600 ms later, so the bot learns its ts late.
    t.slack.failNext('chat.postMessage', 1, { lateAnswerMs: 600 });
    const before = t.slack.messages(CHANNEL).length;
    const command = t.driver.slashCommand('/checkstack', 'upgrade 0.30.0', { user: REQUESTER, channel: CHANNEL });
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
    const [{ id, message_ts: recordedTs }] = await rows(`SELECT id, message_ts FROM upgrades WHERE status = 'confirming'`);
    expect(recordedTs).toBeNull();

    const click = await t.driver.click(message, 'confirm:downtime', { user: APPROVER });

    await expect.poll(() => rows(`SELECT user_id FROM confirmations WHERE upgrade_id = $1`, [id]), { timeout: 10_000 }).toEqual([{ user_id: APPROVER }]);
    await t.slack.waitFor(() => /downtime/.test(blocksText(current(message))) && /<@U0APPROVER2>/.test(blocksText(current(message))));
    expect(t.slack.responses().filter((r) => r.url === click.responseUrl)).toEqual([]);
    expect(await ephemeralReply((await command).responseUrl)).toMatch(/planned/);
  });

  it('says so and changes nothing when the checklist is still not recorded after the wait, then takes the next click', async () => {
    t.slack.failNext('chat.postMessage', 1, { lateAnswerMs: 6_000 });
    const before = t.slack.messages(CHANNEL).length;
    const command = t.driver.slashCommand('/checkstack', 'upgrade 0.30.0', { user: REQUESTER, channel: CHANNEL });
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);

    const early = await t.driver.click(message, 'confirm:downtime', { user: APPROVER });

    expect(await ephemeralReply(early.responseUrl)).toMatch(/has not recorded this checklist message yet; nothing changed/);
    expect(await rows(`SELECT * FROM confirmations WHERE upgrade_id = $1`, [id])).toHaveLength(0);
    expect(await ephemeralReply((await command).responseUrl)).toMatch(/planned/);
    const again = await t.driver.click(message, 'confirm:downtime', { user: APPROVER });
    await expect.poll(() => rows(`SELECT user_id FROM confirmations WHERE upgrade_id = $1`, [id])).toEqual([{ user_id: APPROVER }]);
    expect(t.slack.responses().filter((r) => r.url === again.responseUrl)).toEqual([]);
  }, 20_000);

  it('gives exactly one job for 50 concurrent clicks on Start upgrade', async () => {
    const message = await requestUpgrade('upgrade 0.30.0');
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);
    await t.driver.clickAll(message, 'confirm', { user: APPROVER });
    const ready = await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade') && current(message));
    const jobsBefore = await jobCount();

    await Promise.all(Array.from({ length: 50 }, () => t.driver.click(ready, 'start_upgrade', { user: APPROVER, stale: true })));

    await t.slack.waitFor(() => /queued/i.test(blocksText(current(message))));
    await new Promise((r) => setTimeout(r, 500));
    expect(await jobCount()).toBe(jobsBefore + 1);
    expect(await t.bot.deps.queues.upgrades.raw.getJob(id)).toBeDefined();
    const auditStarts = await rows(`SELECT outcome FROM audit_log WHERE action = 'start' AND upgrade_id = $1`, [id]);
    expect(auditStarts.filter((r) => r.outcome === 'ok')).toHaveLength(1);
  });

  it('changes nothing and says so for a click on a cancelled or an expired request', async () => {
    const message = await requestUpgrade('upgrade 0.30.0');
    const [{ id }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);
    const cancel = await t.driver.click(message, 'cancel_upgrade', { user: REQUESTER });
    await t.slack.waitFor(() => /cancelled/i.test(blocksText(current(message))));
    expect(cancel.status).toBe(200);

    const late = await t.driver.click(message, 'confirm:backup', { user: APPROVER, stale: true });
    expect(await ephemeralReply(late.responseUrl)).toMatch(/cancelled.*nothing changed|nothing changed/i);
    expect(await rows(`SELECT * FROM confirmations WHERE upgrade_id = $1`, [id])).toHaveLength(0);

    const second = await requestUpgrade('upgrade 0.30.0');
    const [{ id: id2 }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);
    await t.bot.deps.pool.query(`UPDATE upgrades SET expires_at = now() - interval '1 minute' WHERE id = $1`, [id2]);
    const expired = await t.driver.click(second, 'confirm:backup', { user: APPROVER });
    expect(await ephemeralReply(expired.responseUrl)).toMatch(/expired/i);
    await t.slack.waitFor(() => /expired/i.test(blocksText(current(second))));
    expect(await rows(`SELECT * FROM confirmations WHERE upgrade_id = $1`, [id2])).toHaveLength(0);
  });

  it('refuses a button whose value names another upgrade than the message it came from', async () => {
    const first = await requestUpgrade('upgrade 0.30.0', REQUESTER);
    const [{ id: firstId }] = await rows(`SELECT id FROM upgrades WHERE status = 'confirming'`);
    await t.driver.click(first, 'cancel_upgrade', { user: REQUESTER });
    const second = await requestUpgrade('upgrade 0.30.0 staging', REQUESTER);

    const forged = await t.driver.click(second, 'confirm:backup', { user: APPROVER, value: `${firstId}:backup` });

    expect(await ephemeralReply(forged.responseUrl)).toMatch(/does not belong|not valid|nothing changed/i);
    expect(await rows(`SELECT * FROM confirmations WHERE upgrade_id = $1`, [firstId])).toHaveLength(0);
  });

  it('answers status, history and cancel for a target', async () => {
    await requestUpgrade('upgrade 0.30.0');

    const status = await t.driver.slashCommand('/checkstack', 'status', { user: MEMBER, channel: CHANNEL });
    const statusText = await ephemeralReply(status.responseUrl);
    expect(statusText).toContain('0.25.0');
    expect(statusText).toMatch(/behind by \d+ minor/i);
    expect(statusText).toMatch(/confirming/);
    // The active request links to its thread.
    expect(statusText).toMatch(new RegExp(`<https://[^|>]*/archives/${CHANNEL}/p\\d+\\|upgrade to \`0\\.30\\.0\`, confirming>`));

    const cancel = await t.driver.slashCommand('/checkstack', 'cancel prod', { user: MEMBER, channel: CHANNEL });
    expect(await ephemeralReply(cancel.responseUrl)).toMatch(/only the requester or an approver/i);
    const cancelled = await t.driver.slashCommand('/checkstack', 'cancel prod', { user: APPROVER, channel: CHANNEL });
    expect(await ephemeralReply(cancelled.responseUrl)).toMatch(/cancelled/i);

    const history = await t.driver.slashCommand('/checkstack', 'history prod', { user: MEMBER, channel: CHANNEL });
    const historyText = await ephemeralReply(history.responseUrl);
    expect(historyText).toContain(`<@${REQUESTER}>`);
    expect(historyText).toMatch(/cancelled/);
  });

  it("acks a click on an announcement's Release notes link, and does nothing else", async () => {
    const stored = await t.bot.deps.db.releases.byTag('v0.30.0');
    const announcement = announcementMessage(stored!.summary, { publishedAt: null, prerelease: false }, { state: 'published', planUpgradeButton: { actionId: PLAN_UPGRADE_ACTION, value: '0.30.0' } });
    const posted = await t.bot.deps.slack.chat.postMessage({ channel: CHANNEL, text: announcement.text, blocks: announcement.blocks as never });
    const message = t.slack.message(CHANNEL, posted.ts!)!;
    const before = { messages: t.slack.messages().length, upgrades: (await rows(`SELECT id FROM upgrades`)).length, audit: (await rows(`SELECT id FROM audit_log`)).length };

    const click = await t.driver.click(message, 'open_release_notes', { user: MEMBER });

    expect(click.status).toBe(200);
    expect(click.text).toBe('');
    // A command answered after the click: had the click replied, its reply would be in by now.
    const help = await t.driver.slashCommand('/checkstack', 'help', { user: MEMBER, channel: CHANNEL });
    await ephemeralReply(help.responseUrl);
    expect(t.slack.responses().filter((r) => r.url === click.responseUrl)).toEqual([]);
    expect(t.slack.messages().length).toBe(before.messages);
    expect((await rows(`SELECT id FROM upgrades`)).length).toBe(before.upgrades);
    expect((await rows(`SELECT action FROM audit_log ORDER BY id`)).slice(before.audit).filter((r) => r.action !== 'help')).toEqual([]);
    expect(t.logs.text()).not.toMatch(/not acknowledged/);
  });

  it("plans the upgrade from an announcement's Plan upgrade button, for the default target, as its clicker", async () => {
    const stored = await t.bot.deps.db.releases.byTag('v0.30.0');
    const announcement = announcementMessage(stored!.summary, { publishedAt: null, prerelease: false }, { state: 'published', planUpgradeButton: { actionId: PLAN_UPGRADE_ACTION, value: '0.30.0' } });
    const posted = await t.bot.deps.slack.chat.postMessage({ channel: CHANNEL, text: announcement.text, blocks: announcement.blocks as never });
    const message = t.slack.message(CHANNEL, posted.ts!)!;

    const click = await t.driver.click(message, PLAN_UPGRADE_ACTION, { user: MEMBER });

    expect(await ephemeralReply(click.responseUrl)).toMatch(/Upgrade to `0\.30\.0` planned for `prod`/);
    const [row] = await rows(`SELECT target, requester, to_version, status FROM upgrades WHERE status = 'confirming'`);
    expect(row).toEqual({ target: 'prod', requester: MEMBER, to_version: '0.30.0', status: 'confirming' });
    expect(blocksText(t.slack.lastMessage(CHANNEL))).toContain('confirm:backup');
  });
});
