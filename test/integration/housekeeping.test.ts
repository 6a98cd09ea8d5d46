// The housekeeping queue: the request sweep runs there on its own job scheduler, and the scheduler an older bot left
// on the releases queue is gone after a start, so the sweep never runs twice.
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUSEKEEPING_SWEEP_SCHEDULER_ID, LEGACY_RELEASES_SWEEP_SCHEDULER_ID } from '../../jobs/housekeeping-jobs.js';
import { QUEUE, type QueueName, type TypedQueue } from '../../src/queue.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { randomQueuePrefix, REDIS_URL } from '../support/database.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { staticDeployer } from '../support/static-deployer.js';
import { deleteQueueKeys, startTestBot, type TestBot } from '../support/test-bot.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0OPS';

describe('housekeeping queue', () => {
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let t: TestBot;
  const prefix = randomQueuePrefix();
  let legacySchedulersBeforeStart: string[] = [];

  beforeAll(async () => {
    // As a bot from before the housekeeping queue left it: the sweep's scheduler on the releases queue.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const releases = new Queue(QUEUE.releases, { connection: redis, prefix });
    await releases.upsertJobScheduler(LEGACY_RELEASES_SWEEP_SCHEDULER_ID, { every: 60_000 }, { name: 'sweep', data: {}, opts: { attempts: 1 } });
    legacySchedulersBeforeStart = (await releases.getJobSchedulers()).map((s) => s.key);
    await releases.close();
    await redis.quit();

    github = await startFakeGithub({ releases: loadFixtureReleases() });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
  requireSecondPerson: true
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
`,
      deployers: { docker: () => staticDeployer({ tag: '0.25.0' }) },
      queuePrefix: prefix,
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  });
  afterAll(async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
    await deleteQueueKeys(prefix);
  });

  async function finished(queue: TypedQueue<QueueName>, job: { id?: string }): Promise<unknown> {
    await expect.poll(async () => (await queue.raw.getJob(job.id!))?.getState(), { timeout: 20_000, interval: 100 }).toBe('completed');
    return ((await queue.raw.getJob(job.id!)) as Job).returnvalue;
  }

  async function statusOf(id: string): Promise<string> {
    const { rows } = await t.bot.deps.pool.query<{ status: string }>(`SELECT status FROM upgrades WHERE id = $1`, [id]);
    return rows[0]!.status;
  }

  it('removes the sweep scheduler an older bot left on the releases queue at startup; the housekeeping queue has its own', async () => {
    expect(legacySchedulersBeforeStart).toContain(LEGACY_RELEASES_SWEEP_SCHEDULER_ID);

    const releases = t.bot.deps.queues.releases.raw;
    expect((await releases.getJobSchedulers()).map((s) => s.key)).not.toContain(LEGACY_RELEASES_SWEEP_SCHEDULER_ID);
    // The scheduler's next job went with it.
    expect((await releases.getDelayed()).map((j) => j.name)).not.toContain('sweep');
    const housekeeping = await t.bot.deps.queues.housekeeping.raw.getJobSchedulers();
    expect(housekeeping).toEqual([expect.objectContaining({ key: HOUSEKEEPING_SWEEP_SCHEDULER_ID, name: 'sweep', every: 60_000 })]);
  });

  it('expires a request past its deadline on the housekeeping sweep, and a sweep left on the releases queue does nothing', async () => {
    const before = t.slack.messages(CHANNEL).length;
    await t.driver.slashCommand('/checkstack', 'upgrade 0.30.0', { user: REQUESTER, channel: CHANNEL });
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL), 10_000);
    // Slack shows the checklist a moment before the bot records its ts.
    const id = await t.slack.waitFor(async () => (await t.bot.deps.pool.query<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [message.ts])).rows[0]?.id, 10_000);
    await t.bot.deps.pool.query(`UPDATE upgrades SET expires_at = now() - interval '1 minute' WHERE id = $1`, [id]);

    // A sweep job an older bot had queued on the releases queue: that queue no longer sweeps.
    const legacy = await t.bot.deps.queues.releases.raw.add('sweep', {});
    expect(await finished(t.bot.deps.queues.releases, legacy)).toEqual({ skipped: 'the sweep runs on the housekeeping queue' });
    expect(await statusOf(id)).toBe('confirming');

    const sweep = await t.bot.deps.queues.housekeeping.add('sweep', {});
    expect(await finished(t.bot.deps.queues.housekeeping, sweep)).toMatchObject({ expired: [id] });
    expect(await statusOf(id)).toBe('expired');
    await t.slack.waitFor(() => /expired/i.test(JSON.stringify(t.slack.messages(CHANNEL).find((m) => m.ts === message.ts)?.blocks ?? [])), 10_000);
  });
});
