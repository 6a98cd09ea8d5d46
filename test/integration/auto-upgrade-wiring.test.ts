// Automatic patch upgrades from a release to a queued upgrade job, on the real Postgres and Redis with fake GitHub and
// Slack: no upgrade worker runs, so each test sees what the bot decided and queued, not a container being replaced.
// (The Docker suite, auto-upgrade-docker.test.ts, runs the whole flow.)
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { AUTO_UPGRADE_CANCEL_ACTION } from '../../src/slack/auto-upgrade-words.js';

const APPROVER = 'U0APPROVER1';
const MEMBER = 'U0MEMBER1';
const ANNOUNCE = 'C0ANNOUNCE';
const BOT = 'checkstack-chatops';

interface Stage {
  minimumReleaseAge?: string;
  notice?: string;
}

function configYaml(staging: string, prod: string, options: { staging?: Stage; prod?: Stage } = {}) {
  const auto = (s: Stage = {}) => `    autoUpgrade: { patches: true, minimumReleaseAge: ${s.minimumReleaseAge ?? '0s'}, notice: ${s.notice ?? '1s'} }\n`;
  return `announce:
  channels: [${ANNOUNCE}]
approvers:
  users: [${APPROVER}]
targets:
  - name: staging
    baseUrl: ${staging}
    docker: { container: checkstack-staging }
${auto(options.staging)}  - name: prod
    default: true
    baseUrl: ${prod}
    docker: { container: checkstack }
    promotion: { from: staging, soak: 1s }
${auto(options.prod)}`;
}

function release(version: string, id: number, publishedAt = new Date()) {
  return { ...fixtureRelease(version, id), published_at: publishedAt.toISOString() };
}

describe('automatic patch upgrades: from a release to the ordinary upgrade job', () => {
  let github: FakeGithub;
  let fakes: FakeCheckstack[] = [];
  let t: TestBot | null = null;
  const deployers = { staging: staticDeployer({ tag: '0.30.0', name: 'checkstack-staging', id: 'aaaaaaaaaaaa' }), prod: staticDeployer({ tag: '0.30.0', id: 'bbbbbbbbbbbb' }) };

  afterEach(async () => {
    await t?.close();
    t = null;
    await github?.close();
    for (const f of fakes) await f.close();
    fakes = [];
  });

  async function start(options: Parameters<typeof configYaml>[2] = {}) {
    for (const d of Object.values(deployers)) {
      d.instance.tag = '0.30.0';
      d.instance.image = `ghcr.io/enyineer/checkstack:0.30.0`;
    }
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    fakes = [await startFakeCheckstack({ state: { releaseVersion: '0.30.0' } }), await startFakeCheckstack({ state: { releaseVersion: '0.30.0' } })];
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: configYaml(fakes[0]!.url, fakes[1]!.url, options),
      deployers: { docker: (target) => (target.name === 'staging' ? deployers.staging : deployers.prod) },
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
    return t;
  }

  const metricsText = async (bot: TestBot) => (await fetch(`${bot.bot.url}/metrics`)).text();

  async function poll(bot: TestBot): Promise<void> {
    await bot.bot.deps.queues.releases.add('poll', { reason: 'manual' });
    await waitForQueueIdle(bot.bot.deps.queues.releases);
  }

  async function upgradesOf(bot: TestBot, target: string) {
    const { rows } = await bot.bot.deps.pool.query(`SELECT id, requester, started_by, status, to_version, message_ts FROM upgrades WHERE target = $1 ORDER BY created_at`, [target]);
    return rows as Array<{ id: string; requester: string; started_by: string | null; status: string; to_version: string; message_ts: string | null }>;
  }

  function notices(bot: TestBot): FakeMessage[] {
    return bot.slack.messages(ANNOUNCE).filter((m) => /Automatic patch upgrade of/.test(m.versions[0]?.text ?? ''));
  }

  async function settle(bot: TestBot): Promise<void> {
    await waitForQueueIdle(bot.bot.deps.queues.autoUpgrades);
  }

  it('does not apply a minor release, and says in the announcement that it needs a checklist', async () => {
    const bot = await start();
    github.addRelease(release('0.31.0', 9001));
    await poll(bot);
    await settle(bot);
    const announcement = await bot.slack.waitFor(() => bot.slack.messages(ANNOUNCE).find((m) => /0\.31\.0/.test(m.text ?? '')));
    expect(JSON.stringify(announcement.blocks)).toMatch(/staging\*: minor — needs a checklist/);
    expect(JSON.stringify(announcement.blocks)).toMatch(/prod\*: minor — needs a checklist/);
    expect(notices(bot)).toEqual([]);
    expect(await upgradesOf(bot, 'staging')).toEqual([]);
    const { rows } = await bot.bot.deps.pool.query(`SELECT count(*)::int AS n FROM auto_upgrade_schedules`);
    expect(rows[0].n).toBe(0);
  });

  it('does not apply a patch younger than minimumReleaseAge, and wakes itself when it is old enough', async () => {
    const bot = await start({ staging: { minimumReleaseAge: '1h' } });
    const published = new Date();
    github.addRelease(release('0.30.1', 9002, published));
    await poll(bot);
    await settle(bot);
    expect(notices(bot)).toEqual([]);
    expect(await upgradesOf(bot, 'staging')).toEqual([]);
    const delayed = await bot.bot.deps.queues.autoUpgrades.raw.getDelayed();
    const recheck = delayed.find((job) => job.name === 'decide' && job.data.target === 'staging');
    expect(recheck?.id).toBe(`decide@staging@${published.getTime() + 3_600_000}`);
    const announcement = bot.slack.messages(ANNOUNCE).find((m) => /0\.30\.1/.test(m.text ?? ''));
    expect(JSON.stringify(announcement?.blocks)).toMatch(/staging\*: automatic, at /);
    expect(JSON.stringify(announcement?.blocks)).toMatch(/prod\*: after 1s on staging, automatic at /);
  });

  it('a patch goes to staging with a notice and no click, then to prod once staging ran it for the soak', async () => {
    const bot = await start();
    github.addRelease(release('0.30.1', 9003));
    await poll(bot);

    // Staging: the notice, then the ordinary upgrade record, requested and started by the bot, and its job queued.
    const notice = await bot.slack.waitFor(() => notices(bot).find((m) => /staging/.test(m.versions[0]!.text ?? '')));
    expect(JSON.stringify(notice.versions[0]!.blocks)).toContain(AUTO_UPGRADE_CANCEL_ACTION);
    const [staging] = await bot.slack.waitFor(async () => {
      const list = await upgradesOf(bot, 'staging');
      return list.length === 1 && list[0]!.status === 'queued' && list;
    });
    expect(staging).toMatchObject({ requester: BOT, started_by: BOT, to_version: '0.30.1', message_ts: notice.ts });
    expect(await bot.bot.deps.queues.upgrades.raw.getJob(staging!.id)).toBeTruthy();
    const audit = await bot.bot.deps.audit.recent(50);
    expect(audit).toContainEqual(expect.objectContaining({ userId: BOT, kind: 'job', action: 'auto_upgrade', upgradeId: staging!.id }));
    // Prod waits for staging: nothing proven there yet.
    expect(await upgradesOf(bot, 'prod')).toEqual([]);
    // History says who asked: the bot, on its own policy.
    const history = await bot.driver.slashCommand('/checkstack', 'history staging', { user: MEMBER, channel: ANNOUNCE });
    const historyReply = await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === history.responseUrl));
    expect(historyReply.payload.text).toMatch(/requested by `checkstack-chatops` · approved by no one: automatic patch upgrade/);

    // Staging's upgrade succeeds (as the job would record it) and the job's end asks the later stage again.
    await bot.bot.deps.pool.query(
      `UPDATE upgrades SET status = 'succeeded', outcome = 'succeeded', ready_at = now(), finished_at = now() WHERE id = $1`,
      [staging!.id],
    );
    deployers.staging.instance.tag = '0.30.1';
    await bot.bot.deps.queues.autoUpgrades.add('decide', { target: 'prod', reason: 'upgrade succeeded on staging' });

    const [prod] = await bot.slack.waitFor(async () => {
      const list = await upgradesOf(bot, 'prod');
      return list.length === 1 && list[0]!.status === 'queued' && list;
    }, 20_000);
    expect(prod).toMatchObject({ requester: BOT, to_version: '0.30.1' });
    expect(notices(bot).filter((m) => /`prod`/.test(m.versions[0]!.text ?? ''))).toHaveLength(1);
    // Staging is done: a later poll decides nothing new for it.
    await poll(bot);
    await settle(bot);
    expect(await upgradesOf(bot, 'staging')).toHaveLength(1);
    // /metrics counts each plan and start once per target.
    const metrics = await metricsText(bot);
    expect(metrics).toMatch(/^checkstack_chatops_auto_upgrades_total\{target="staging",event="scheduled"\} 1$/m);
    expect(metrics).toMatch(/^checkstack_chatops_auto_upgrades_total\{target="staging",event="started"\} 1$/m);
    expect(metrics).toMatch(/^checkstack_chatops_auto_upgrades_total\{target="prod",event="started"\} 1$/m);
  });

  it('Cancel on the notice stops it for good: a non-approver is refused, an approver cancels, the version is not retried', async () => {
    const bot = await start({ staging: { notice: '1h' } });
    github.addRelease(release('0.30.1', 9004));
    await poll(bot);
    const notice = await bot.slack.waitFor(() => notices(bot)[0]);

    await bot.driver.click(notice, AUTO_UPGRADE_CANCEL_ACTION, { user: MEMBER });
    await bot.slack.waitFor(() => bot.slack.responses().some((r) => /Only approvers can cancel/.test(r.payload.text ?? '')));
    expect((await bot.bot.deps.pool.query(`SELECT count(*)::int AS n FROM auto_upgrade_schedules`)).rows[0].n).toBe(1);

    await bot.driver.click(notice, AUTO_UPGRADE_CANCEL_ACTION, { user: APPROVER });
    await bot.slack.waitFor(() => /cancelled\* by <@U0APPROVER1>/.test(bot.slack.message(ANNOUNCE, notice.ts)?.text ?? '') || /cancelled by/.test(bot.slack.message(ANNOUNCE, notice.ts)?.text ?? ''));
    const declined = await bot.bot.deps.pool.query(`SELECT target, version, declined_by FROM auto_upgrade_declines`);
    expect(declined.rows).toEqual([{ target: 'staging', version: '0.30.1', declined_by: APPROVER }]);

    // Asked again (a poll, a fired job): nothing is scheduled, nothing started.
    await bot.bot.deps.queues.autoUpgrades.add('decide', { target: null, reason: 'test' });
    await poll(bot);
    await settle(bot);
    expect((await bot.bot.deps.pool.query(`SELECT count(*)::int AS n FROM auto_upgrade_schedules`)).rows[0].n).toBe(0);
    expect(await upgradesOf(bot, 'staging')).toEqual([]);
    expect(notices(bot)).toHaveLength(1);
    const audit = await bot.bot.deps.audit.recent(50);
    expect(audit).toContainEqual(expect.objectContaining({ userId: APPROVER, action: 'auto_upgrade_cancel', outcome: 'ok' }));
    expect(audit).toContainEqual(expect.objectContaining({ userId: MEMBER, action: 'auto_upgrade_cancel', outcome: 'refused' }));
    const metrics = await metricsText(bot);
    expect(metrics).toMatch(/^checkstack_chatops_auto_upgrades_total\{target="staging",event="cancelled"\} 1$/m);
    expect(metrics).not.toMatch(/^checkstack_chatops_auto_upgrades_total\{target="staging",event="started"\}/m);
  });

  it('a failed automatic upgrade pauses the target; resume (approvers) lifts it and the patch goes in', async () => {
    const bot = await start();
    // An automatic upgrade of staging to 0.30.1 that failed.
    await bot.bot.deps.pool.query(
      `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, started_by, channel_id, status, outcome, plan, items, automatic, expires_at, finished_at)
       VALUES (gen_random_uuid(), 'upgrade', 'staging', '0.30.0', '0.30.1', $1, $1, $2, 'failed', 'failed', '{}', '[]', '[]', now(), now())`,
      [BOT, ANNOUNCE],
    );
    github.addRelease(release('0.30.2', 9005));
    await poll(bot);
    await settle(bot);
    expect(notices(bot)).toEqual([]);
    const announcement = bot.slack.messages(ANNOUNCE).find((m) => /0\.30\.2/.test(m.text ?? ''));
    expect(JSON.stringify(announcement?.blocks)).toMatch(/staging\*: automatic upgrades paused/);

    // Status says it is paused, and how to lift it.
    const status = await bot.driver.slashCommand('/checkstack', 'status staging', { user: MEMBER, channel: ANNOUNCE });
    const statusReply = await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === status.responseUrl));
    expect(statusReply.payload.text).toMatch(/Automatic patches: \*paused\* since the automatic upgrade to `0\.30\.1` failed .*`\/checkstack resume staging` lifts it/);

    const refused = await bot.driver.slashCommand('/checkstack', 'resume staging', { user: MEMBER, channel: ANNOUNCE });
    await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === refused.responseUrl && /Only approvers can resume/.test(r.payload.text ?? '')));

    const resumed = await bot.driver.slashCommand('/checkstack', 'resume staging', { user: APPROVER, channel: ANNOUNCE });
    await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === resumed.responseUrl && /resumed/.test(r.payload.text ?? '')));
    const [upgrade] = await bot.slack.waitFor(async () => {
      const list = (await upgradesOf(bot, 'staging')).filter((u) => u.status === 'queued');
      return list.length === 1 && list;
    });
    expect(upgrade).toMatchObject({ to_version: '0.30.2', requester: BOT });
    const audit = await bot.bot.deps.audit.recent(50);
    expect(audit).toContainEqual(expect.objectContaining({ userId: APPROVER, kind: 'command', action: 'resume', outcome: 'ok' }));
    // The member's refused resume is not counted.
    expect(await metricsText(bot)).toMatch(/^checkstack_chatops_auto_upgrades_total\{target="staging",event="resumed"\} 1$/m);
  });

  it('a manual upgrade request lifts the pause, as the README says, without resume', async () => {
    const bot = await start();
    await bot.bot.deps.pool.query(
      `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, started_by, channel_id, status, outcome, plan, items, automatic, expires_at, finished_at, created_at)
       VALUES (gen_random_uuid(), 'upgrade', 'staging', '0.30.0', '0.30.1', $1, $1, $2, 'failed', 'failed', '{}', '[]', '[]', now(), now(), now() - interval '1 minute')`,
      [BOT, ANNOUNCE],
    );
    github.addRelease(release('0.30.1', 9006));
    github.addRelease(release('0.30.2', 9007));
    await poll(bot);
    await settle(bot);
    expect(notices(bot)).toEqual([]);

    // Someone plans an upgrade of staging by hand, then cancels it: automatic upgrades go on by themselves.
    const planned = await bot.driver.slashCommand('/checkstack', 'upgrade 0.30.1 staging', { user: APPROVER, channel: ANNOUNCE });
    await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === planned.responseUrl && /planned/.test(r.payload.text ?? '')));
    const cancelled = await bot.driver.slashCommand('/checkstack', 'cancel staging', { user: APPROVER, channel: ANNOUNCE });
    await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === cancelled.responseUrl));
    await bot.bot.deps.queues.autoUpgrades.add('decide', { target: 'staging', reason: 'test' });

    const [upgrade] = await bot.slack.waitFor(async () => {
      const list = (await upgradesOf(bot, 'staging')).filter((u) => u.requester === BOT && u.status === 'queued');
      return list.length === 1 && list;
    });
    expect(upgrade).toMatchObject({ to_version: '0.30.2' });
  });
});
