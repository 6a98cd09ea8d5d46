// Faults under a running upgrade on the real Docker engine: Redis and Postgres taken away for a few seconds (a
// loopback proxy cut, never the shared servers), and two bot replicas sharing one database and one queue prefix.
// After each: the upgrade ends once, one Checkstack runs, and every thread message is there exactly once.
import type Dockerode from 'dockerode';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/fake-slack.js';
import { botProcessEnv, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeVolumes,
  uniqueSuffix,
  type FakeBehaviour,
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { queueEvents } from '../support/queues.js';
import { createSlackDriver } from '../support/slack-driver.js';
import { upgradeFlow, waitUntilReady } from '../support/upgrade-flow.js';
import { escapeRegExp } from '../../src/domain/regexp.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { BOT_TOKEN, deleteQueueKeys, SIGNING_SECRET } from '../support/test-bot.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const STEPS = ['Re-check', 'Git record', 'Pull', 'Recreate', 'Readiness', 'Post-flight checks'];

// The versions the tests upgrade to, in order, each with the behaviour of its fake image.
const VERSIONS: Record<string, FakeBehaviour> = { '0.28.0': 'ready', '0.30.0': 'slow-ready', '0.31.0': 'slow-ready', '0.32.0': 'ready', '0.33.0': 'ready' };

const fixtures = loadFixtureReleases();

describe.skipIf(!docker)('faults in the middle of a running upgrade', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const repository = `${registry}/ck-fault-${uniqueSuffix()}`;
  const containerName = `ck-fault-${uniqueSuffix()}`;
  const queuePrefix = randomQueuePrefix();
  let port: number;
  let github: FakeGithub;
  let slack: FakeSlack;
  let database: TestDatabase;
  let redisProxy: TcpProxy;
  let postgresProxy: TcpProxy;
  let pool: pg.Pool;
  let redis: Redis;
  let bot: BotProcess;
  const replicas: BotProcess[] = [];

  const viaProxy = (url: string, proxy: TcpProxy) => {
    const parsed = new URL(url);
    parsed.host = `127.0.0.1:${proxy.port}`;
    return parsed.toString();
  };
  const botEnv = () =>
    botProcessEnv({
      slackApiUrl: slack.apiUrl,
      githubUrl: github.url,
      databaseUrl: viaProxy(database.url, postgresProxy),
      redisUrl: viaProxy(REDIS_URL, redisProxy),
      queuePrefix,
    });
  const configYaml = () => `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:${port}
    image: ${repository}
    docker: { host: "${dockerProxy.host}", container: ${containerName}, stopTimeout: 5 }
    postflight: { readyTimeout: 60, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }
`;

  const thread = (m: FakeMessage) => slack.threadReplies(m.ts).map((r) => r.text ?? '');

  const flow = () => upgradeFlow({ slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });

  /** The upgrade's request: the slash command to one replica, the clicks to another (or the same). */
  async function approveAndStart(version: string, commandTo: BotProcess, clicksTo = commandTo): Promise<FakeMessage> {
    await waitUntilReady(`http://127.0.0.1:${port}`);
    const command = createSlackDriver({ botUrl: commandTo.url, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    const clicks = createSlackDriver({ botUrl: clicksTo.url, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    const message = await flow().request(command, `upgrade ${version}`);
    await flow().confirmAndStart(clicks, message);
    return message;
  }

  // Every version of each reply: a step's "started" text can be replaced by its first progress within milliseconds.
  const waitForReply = (message: FakeMessage, pattern: RegExp, timeoutMs = 60_000) =>
    slack.waitFor(() => slack.threadReplies(message.ts).some((r) => r.versions.some((v) => pattern.test(v.text ?? ''))), timeoutMs);

  const finalStatus = (message: FakeMessage, timeoutMs = 90_000) => flow().finalState(message, timeoutMs);

  async function upgradeId(message: FakeMessage): Promise<string> {
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [message.ts]);
    return rows[0]!.id;
  }

  async function jobEvents(jobId: string): Promise<string[]> {
    return (await queueEvents(redis, queuePrefix, 'upgrades')).filter((e) => e.jobId === jobId).map((e) => e.event!);
  }

  /** The invariant after any fault: one running Checkstack on `version`, the old one kept stopped, nothing else. */
  async function expectOneCheckstack(version: string): Promise<void> {
    const containers = await engine.listContainers({ all: true, filters: { name: [containerName] } });
    const running = containers.filter((c) => c.State === 'running');
    expect(running.map((c) => c.Names[0])).toEqual([`/${containerName}`]);
    expect(running[0]!.Image).toBe(`${repository}:${version}`);
    for (const other of containers.filter((c) => c.State !== 'running')) expect(other.Names[0]).toMatch(new RegExp(`^/${containerName}-pre-`));
  }

  /** Each step finished once, one outcome, and no reply posted twice (every chat.postMessage into the thread is distinct). */
  function expectTruthfulThread(message: FakeMessage): void {
    const texts = thread(message);
    for (const step of STEPS) expect(texts.filter((t) => new RegExp(`^✅ \\*${escapeRegExp(step)}\\* finished in`).test(t)), step).toHaveLength(1);
    expect(texts.filter((t) => /Upgrade succeeded/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /^❌|Upgrade failed|\* failed after/.test(t))).toHaveLength(0);
    const posted = slack.calls('chat.postMessage').filter((c) => c.args.thread_ts === message.ts).map((c) => String(c.args.text));
    expect(posted.filter((text, i) => posted.indexOf(text) !== i)).toEqual([]);
    expect(new Set(texts).size).toBe(texts.length);
  }

  async function expectStepsRanOnce(message: FakeMessage): Promise<void> {
    const { rows } = await pool.query<{ attempt: number; outcome: string }>(
      `SELECT attempt, outcome FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`,
      [await upgradeId(message)],
    );
    expect(rows).toEqual(STEPS.map(() => ({ attempt: 1, outcome: 'ok' })));
  }

  async function expectJobCompletedOnce(message: FakeMessage): Promise<void> {
    const id = await upgradeId(message);
    // The job completes after its last thread message (the follow-ups are queued first).
    const events = await pollUntil(async () => {
      const all = await jobEvents(id);
      return all.includes('completed') ? all : undefined;
    }, 30_000);
    expect(events.filter((e) => e === 'active')).toHaveLength(1);
    expect(events.filter((e) => e === 'completed')).toHaveLength(1);
    expect(events.filter((e) => e === 'failed' || e === 'stalled' || e === 'retries-exhausted')).toEqual([]);
    expect(JSON.parse((await redis.hget(`${queuePrefix}:upgrades:${id}`, 'returnvalue')) ?? 'null')).toEqual({ outcome: 'ended' });
  }

  beforeAll(async () => {
    for (const [version, behaviour] of Object.entries(VERSIONS)) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour, readyAfterSeconds: 8 });
    }
    port = await freePort();
    await createCheckstackContainer(engine, { name: containerName, image: `${repository}:0.28.0`, port, restartPolicy: 'unless-stopped' });
    github = await startFakeGithub({ releases: [fixtureRelease('0.33.0', 9033), fixtureRelease('0.32.0', 9032), fixtureRelease('0.31.0', 9031), fixtureRelease('0.30.0', 9030), ...fixtures] });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    redisProxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    postgresProxy = await startTcpProxy(Number(new URL(database.url).port || 5432), new URL(database.url).hostname);
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    bot = await startBotProcess({ env: botEnv(), configYaml: configYaml() });
  }, 120_000);

  afterAll(async () => {
    for (const replica of [bot, ...replicas]) await replica?.kill('SIGKILL');
    await redisProxy?.close();
    await postgresProxy?.close();
    await pool?.end();
    redis?.disconnect();
    await slack?.close();
    await github?.close();
    await database?.drop();
    await deleteQueueKeys(queuePrefix);
    const all = await engine.listContainers({ all: true, filters: { name: [containerName] } });
    await removeContainers(engine, all.map((c) => c.Names[0]!.replace(/^\//, '')));
    await removeVolumes(engine, [`${containerName}-data`]);
  }, 60_000);

  it('finishes an upgrade once when Redis goes away for 6 s during Recreate', async () => {
    const message = await approveAndStart('0.30.0', bot);
    await waitForReply(message, /^▶️ \*Recreate\* started/);

    await redisProxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await redisProxy.restore();

    expect(await finalStatus(message)).toBe('succeeded');
    expect(bot.logs.some((line) => /redis connection error/.test(line))).toBe(true);
    await expectOneCheckstack('0.30.0');
    expectTruthfulThread(message);
    await expectStepsRanOnce(message);
    await expectJobCompletedOnce(message);
  }, 150_000);

  it('finishes an upgrade once, and the bot lives on, when Postgres goes away for 5 s during Readiness', async () => {
    const message = await approveAndStart('0.31.0', bot);
    await waitForReply(message, /^▶️ \*Readiness\* started|^⏳ \*Readiness\*/);

    await postgresProxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await postgresProxy.restore();

    expect(await finalStatus(message)).toBe('succeeded');
    expect(bot.running()).toBe(true);
    await expectOneCheckstack('0.31.0');
    expectTruthfulThread(message);
    await expectStepsRanOnce(message);
    await expectJobCompletedOnce(message);
  }, 150_000);

  it('retries the step whose end could not be recorded when Postgres goes away during Recreate, and finishes once', async () => {
    const message = await approveAndStart('0.32.0', bot);
    await waitForReply(message, /^▶️ \*Recreate\* started/);

    await postgresProxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await postgresProxy.restore();

    expect(await finalStatus(message)).toBe('succeeded');
    expect(bot.running()).toBe(true);
    await expectOneCheckstack('0.32.0');
    const texts = thread(message);
    for (const step of STEPS) expect(texts.filter((t) => new RegExp(`^✅ \\*${escapeRegExp(step)}\\* finished in`).test(t)), step).toHaveLength(1);
    expect(texts.filter((t) => /Upgrade succeeded/.test(t))).toHaveLength(1);
    expect(new Set(texts).size).toBe(texts.length);
    const id = await upgradeId(message);
    const { rows } = await pool.query<{ step: string; attempt: number }>(`SELECT step, attempt FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`, [id]);
    // Where the cut lands depends on the machine's speed. When it hid the end of a step (usually Recreate), the job
    // retried that one step (each is idempotent) and said so once; otherwise every step ran once.
    expect(rows.map((r) => r.step)).toEqual(['recheck', 'git_record', 'pull', 'recreate', 'readiness', 'postflight']);
    const again = rows.filter((r) => r.attempt > 1);
    const retried = again.length > 0;
    expect(again.map((r) => r.attempt)).toEqual(retried ? [2] : []);
    expect(texts.filter((t) => /^↩️ Resuming after \*[^*]+\* \(attempt 2 of 3, after the error above\)\.$/.test(t))).toHaveLength(retried ? 1 : 0);
    const events = await pollUntil(async () => {
      const all = await jobEvents(id);
      return all.includes('completed') ? all : undefined;
    }, 30_000);
    expect(events.filter((e) => e === 'completed')).toHaveLength(1);
    expect(events.filter((e) => e === 'active')).toHaveLength(retried ? 2 : 1);
    expect(events.filter((e) => e === 'stalled' || e === 'failed')).toEqual([]);
  }, 150_000);

  it('runs a whole upgrade once with two replicas on one database and one queue prefix', async () => {
    const second = await startBotProcess({ env: botEnv(), configYaml: configYaml() });
    replicas.push(second);

    const message = await approveAndStart('0.33.0', bot, second);

    expect(await finalStatus(message)).toBe('succeeded');
    await waitForReply(message, /Log watch ended/, 30_000);
    await expectOneCheckstack('0.33.0');
    expectTruthfulThread(message);
    await expectStepsRanOnce(message);
    await expectJobCompletedOnce(message);
    const parentUpdates = slack.calls('chat.update').filter((c) => c.args.ts === message.ts && /: succeeded$/.test(String(c.args.text)));
    expect(parentUpdates.length).toBeGreaterThanOrEqual(1);
  }, 150_000);
});
