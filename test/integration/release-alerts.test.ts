import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GithubRelease } from '../../src/domain/release-types.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createTestDatabase, randomQueuePrefix, type TestDatabase } from '../support/database.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { rowVersions } from '../support/db-writes.js';
import { waitForQueueIdle } from '../support/queues.js';
import { BOT_TOKEN, deleteQueueKeys, startTestBot, type TestBot } from '../support/test-bot.js';

const ANNOUNCE_CHANNEL = 'C0ANNOUNCE';
const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const CONFIG = `announce:\n  channels: [${ANNOUNCE_CHANNEL}]\n`;

const fixtures = loadFixtureReleases();
const [newest, ...older] = fixtures as [GithubRelease, ...GithubRelease[]];

function topLevelMessages(slack: FakeSlack, channel: string) {
  return slack.messages(channel).filter((m) => !m.thread_ts || m.thread_ts === m.ts);
}

function signedWebhook(url: string, action: string, release: GithubRelease, delivery: string, secret = WEBHOOK_SECRET) {
  const body = JSON.stringify({ action, release, repository: { full_name: 'enyineer/checkstack' } });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return fetch(`${url}/github/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'release', 'x-github-delivery': delivery, 'x-hub-signature-256': signature },
    body,
  });
}

describe('release alerts', () => {
  let github: FakeGithub;
  let slack: FakeSlack;
  let database: TestDatabase;
  let queuePrefix: string;
  let t: TestBot;

  const env = () => ({ GITHUB_API_URL: github.url, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, RELEASE_POLL_INTERVAL: '3600' });

  async function poll(bot: TestBot = t) {
    await bot.bot.deps.queues.releases.add('poll', { reason: 'manual' });
    await waitForQueueIdle(bot.bot.deps.queues.releases);
  }

  beforeAll(async () => {
    github = await startFakeGithub({ releases: older, perPage: 3 });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    queuePrefix = randomQueuePrefix();
    t = await startTestBot({ fakeSlack: slack, database, queuePrefix, env: env(), configYaml: CONFIG });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  });
  afterAll(async () => {
    await t?.close();
    await slack?.close();
    await github?.close();
    await database?.drop();
    await deleteQueueKeys(queuePrefix);
  });

  it('records the existing releases on the first start without announcing any of them', async () => {
    await expect.poll(() => t.bot.deps.db.releases.count()).toBe(older.length);
    expect(topLevelMessages(slack, ANNOUNCE_CHANNEL)).toHaveLength(0);
  });

  it('announces a new release once, with its breaking change and the minor-bump policy', async () => {
    github.addRelease(newest);

    await poll();

    const messages = topLevelMessages(slack, ANNOUNCE_CHANNEL);
    expect(messages).toHaveLength(1);
    const text = JSON.stringify(messages[0]!.blocks);
    expect(text).toContain('0.30.0');
    expect(text).toContain('VersionedAggregated');
    expect(text).toMatch(/may contain breaking changes/);
  });

  it('makes one request and no database write when nothing changed (ETag, 304)', async () => {
    const requestsBefore = github.requests.length;
    const rowsBefore = await rowVersions(t.bot.deps.pool);
    const logLinesBefore = t.logs.lines.length;

    await poll();

    const newRequests = github.requests.slice(requestsBefore);
    expect(newRequests).toHaveLength(1);
    expect(newRequests[0]!.headers['if-none-match']).toBeTruthy();
    expect(await rowVersions(t.bot.deps.pool)).toBe(rowsBefore);
    expect(topLevelMessages(slack, ANNOUNCE_CHANNEL)).toHaveLength(1);
    // Nothing new is the normal answer: no warning or error for the operator to chase.
    const newLines = t.logs.lines.slice(logLinesBefore).map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(newLines.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('updates the existing message in place when the release is edited', async () => {
    const [message] = topLevelMessages(slack, ANNOUNCE_CHANNEL);
    github.editRelease(newest.tag_name, { body: `${newest.body}\n\n## Docker Image\n\nRe-tagged after a fix.` });

    await poll();

    expect(topLevelMessages(slack, ANNOUNCE_CHANNEL)).toHaveLength(1);
    const updated = slack.message(ANNOUNCE_CHANNEL, message!.ts)!;
    expect(updated.versions.length).toBe(2);
    expect(JSON.stringify(updated.blocks)).toMatch(/updated/i);
  });

  it('marks the message when the release is deleted on GitHub', async () => {
    const [message] = topLevelMessages(slack, ANNOUNCE_CHANNEL);
    github.deleteRelease(newest.tag_name);

    await poll();

    expect(JSON.stringify(slack.message(ANNOUNCE_CHANNEL, message!.ts)!.blocks)).toMatch(/deleted on GitHub/i);
    expect(topLevelMessages(slack, ANNOUNCE_CHANNEL)).toHaveLength(1);
  });

  it('never announces drafts, nor prereleases unless announce.prereleases is on', async () => {
    const draft = { ...newest, id: 9001, tag_name: 'v0.31.0', html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.31.0', draft: true };
    const prerelease = { ...newest, id: 9002, tag_name: 'v0.32.0-rc.1', html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.32.0-rc.1', prerelease: true };
    github.addRelease(draft);
    github.addRelease(prerelease);

    await poll();

    expect(topLevelMessages(slack, ANNOUNCE_CHANNEL)).toHaveLength(1);
  });

  it('takes signed release webhooks into the same ingest, exactly once per delivery, and refuses bad signatures', async () => {
    const release = { ...newest, id: 9003, tag_name: 'v0.33.0', name: 'Checkstack v0.33.0', html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.33.0' };

    const forged = await signedWebhook(t.bot.url, 'published', release, 'delivery-x', 'not-the-secret');
    expect(forged.status).toBe(401);

    const first = await signedWebhook(t.bot.url, 'published', release, 'delivery-1');
    const redelivered = await signedWebhook(t.bot.url, 'published', release, 'delivery-1');
    expect(first.status).toBe(202);
    expect(redelivered.status).toBe(202);
    await waitForQueueIdle(t.bot.deps.queues.releases);

    const announced = topLevelMessages(slack, ANNOUNCE_CHANNEL).filter((m) => JSON.stringify(m.blocks).includes('0.33.0'));
    expect(announced).toHaveLength(1);
  });

  it('posts each new release once per channel with two bot replicas on one Postgres and Redis', async () => {
    const second = await startTestBot({ fakeSlack: slack, database, queuePrefix, env: env(), configYaml: CONFIG });
    try {
      const release = { ...newest, id: 9004, tag_name: 'v0.34.0', name: 'Checkstack v0.34.0', html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.34.0' };
      github.addRelease(release);

      await Promise.all([
        t.bot.deps.queues.releases.add('poll', { reason: 'manual' }),
        second.bot.deps.queues.releases.add('poll', { reason: 'manual' }),
        signedWebhook(t.bot.url, 'published', release, 'delivery-2'),
        signedWebhook(second.bot.url, 'published', release, 'delivery-3'),
      ]);
      await waitForQueueIdle(t.bot.deps.queues.releases);

      const announced = topLevelMessages(slack, ANNOUNCE_CHANNEL).filter((m) => JSON.stringify(m.blocks).includes('0.34.0'));
      expect(announced).toHaveLength(1);
    } finally {
      await second.bot.stop();
    }
  });

  it('lets a channel subscribe and unsubscribe, and lists recent releases', async () => {
    await t.driver.slashCommand('/checkstack', 'subscribe', { user: 'U0MEMBER1', channel: 'C0SECOND' });
    const release = { ...newest, id: 9005, tag_name: 'v0.35.0', name: 'Checkstack v0.35.0', html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.35.0' };
    github.addRelease(release);
    await poll();
    expect(topLevelMessages(slack, 'C0SECOND')).toHaveLength(1);

    await t.driver.slashCommand('/checkstack', 'unsubscribe', { user: 'U0MEMBER1', channel: 'C0SECOND' });
    github.addRelease({ ...release, id: 9006, tag_name: 'v0.36.0', html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.36.0' });
    await poll();
    expect(topLevelMessages(slack, 'C0SECOND')).toHaveLength(1);
    expect(topLevelMessages(slack, ANNOUNCE_CHANNEL).filter((m) => JSON.stringify(m.blocks).includes('0.36.0'))).toHaveLength(1);

    const listing = await t.driver.slashCommand('/checkstack', 'releases 3', { user: 'U0MEMBER1', channel: 'C0SECOND' });
    const reply = await slack.waitFor(() => slack.responses().find((r) => r.url === listing.responseUrl));
    expect(reply.payload.text).toContain('v0.36.0');
    expect(reply.payload.text).toContain('v0.35.0');
    expect(reply.payload.text).toContain('minor');
  });
});
