// A scheduled upgrade survives the bot: SIGKILLed while the upgrade waits for its time and started again, the bot
// reminds once, starts it once at its time, and forgets nothing (the delayed jobs live in Redis, their ids come from
// the upgrade, and the state is in Postgres).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/fake-slack.js';
import { botProcessEnv, QUICK_STALL_DETECTION, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { createSlackDriver } from '../support/slack-driver.js';
import { countMatching, upgradeFlow } from '../support/upgrade-flow.js';
import { BOT_TOKEN, deleteQueueKeys, SIGNING_SECRET } from '../support/test-bot.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0OPS';

describe('scheduled upgrades across a SIGKILL and a restart of the bot', () => {
  const queuePrefix = randomQueuePrefix();
  let github: FakeGithub;
  let slack: FakeSlack;
  let checkstack: FakeCheckstack;
  let database: TestDatabase;
  let pool: pg.Pool;
  const bots: BotProcess[] = [];

  const env = () => ({
    ...botProcessEnv({ slackApiUrl: slack.apiUrl, githubUrl: github.url, databaseUrl: database.url, redisUrl: REDIS_URL, queuePrefix }),
    ...QUICK_STALL_DETECTION,
  });
  // The Docker engine named here does not answer: the checklist plans from /api/about alone. What this file tests
  // ends at "queued"; the upgrade job that follows is the other suites' business.
  const configYaml = () => `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    docker: { host: "tcp://127.0.0.1:9", container: checkstack }
`;

  beforeAll(async () => {
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
  }, 60_000);

  afterAll(async () => {
    for (const bot of bots) await bot.kill('SIGKILL');
    await pool?.end();
    await slack?.close();
    await github?.close();
    await checkstack?.close();
    await database?.drop();
    await deleteQueueKeys(queuePrefix);
  }, 60_000);

  it('reminds once and starts once, at its time, after the bot was killed while the upgrade waited', async () => {
    const first = await startBotProcess({ env: env(), configYaml: configYaml() });
    bots.push(first);
    const flow = upgradeFlow({ slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
    const driver = createSlackDriver({ botUrl: first.url, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    const at = new Date(Date.now() + 20_000);

    const message: FakeMessage = await flow.request(driver, `upgrade 0.30.0 --at ${at.toISOString()}`, /planned, to start at/);
    await flow.confirmAndStart(driver, message);
    const [{ id }] = (await pool.query(`SELECT id FROM upgrades`)).rows;
    await expect.poll(async () => (await pool.query(`SELECT status FROM upgrades WHERE id = $1`, [id])).rows[0].status, { timeout: 15_000 }).toBe('scheduled');
    await slack.waitFor(() => countMatching(flow.threadTexts(message), /Reminder: the upgrade/) === 1, 15_000);

    await first.kill('SIGKILL');
    expect((await pool.query(`SELECT status FROM upgrades WHERE id = $1`, [id])).rows[0].status).toBe('scheduled');
    const second = await startBotProcess({ env: env(), configYaml: configYaml() });
    bots.push(second);

    await expect
      .poll(async () => (await pool.query(`SELECT queued_at FROM upgrades WHERE id = $1`, [id])).rows[0].queued_at, { timeout: 60_000, interval: 250 })
      .not.toBeNull();
    const [row] = (await pool.query(`SELECT scheduled_at, queued_at FROM upgrades WHERE id = $1`, [id])).rows;
    expect(row.queued_at.getTime()).toBeGreaterThanOrEqual(row.scheduled_at.getTime());
    await slack.waitFor(() => countMatching(flow.threadTexts(message), /scheduled upgrade to `0\.30\.0` starts now/) === 1, 15_000);
    // Nothing twice: one reminder, one start, one queueing across both processes.
    // The reminder's text changes once the upgrade starts (its Cancel button goes): count every reply that ever said it.
    const everSaid = (pattern: RegExp) => slack.threadReplies(message.ts).filter((r) => r.versions.some((v) => pattern.test(v.text ?? ''))).length;
    expect(everSaid(/Reminder: the upgrade/)).toBe(1);
    expect(countMatching(flow.threadTexts(message), /starts now/)).toBe(1);
    const queuedLines = [...first.entries(), ...second.entries()].filter((e) => e.msg === 'scheduled upgrade queued');
    expect(queuedLines).toHaveLength(1);
  }, 180_000);
});
