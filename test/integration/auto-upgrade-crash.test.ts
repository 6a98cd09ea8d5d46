// Automatic patch upgrades survive a SIGKILLed bot: killed after staging's notice went out (before its start), and
// again after prod's plan was made, the restarted bot applies each upgrade exactly once, with one notice each, and
// forgets none. A bot in its own process on the real Docker engine; skips without DOCKER_HOST.
import type Dockerode from 'dockerode';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueues, type Queues } from '../../src/queue.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { botProcessEnv, QUICK_STALL_DETECTION, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import { buildFakeCheckstackImage, createCheckstackContainer, dockerFromEnv, freePort, registryFromEnv, removeContainers, removeVolumes, uniqueSuffix } from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { BOT_TOKEN, deleteQueueKeys } from '../support/test-bot.js';
import { waitUntilReady } from '../support/upgrade-flow.js';

const docker = dockerFromEnv();
const CHANNEL = 'C0ANNOUNCE';
const BOT = 'checkstack-chatops';

describe.skipIf(!docker)('automatic patch upgrades across a SIGKILLed bot', () => {
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const suffix = uniqueSuffix();
  const repository = `${registry}/ck-autocrash-${suffix}`;
  const containers = { staging: `ck-autocrash-staging-${suffix}`, prod: `ck-autocrash-prod-${suffix}` };
  const ports = { staging: 0, prod: 0 };
  const queuePrefix = randomQueuePrefix();
  let github: FakeGithub;
  let slack: FakeSlack;
  let database: TestDatabase;
  let pool: pg.Pool;
  let redis: Redis;
  let queues: Queues;
  let bot: BotProcess | undefined;

  const target = (name: 'staging' | 'prod', extra = '') => `  - name: ${name}
    baseUrl: http://127.0.0.1:${ports[name]}
    image: ${repository}
    docker: { host: "${process.env.DOCKER_HOST}", container: ${containers[name]}, stopTimeout: 5 }
    postflight: { readyTimeout: 30, logWatch: 2, healthcheckMaxWait: 2, retention: 3600 }
    autoUpgrade: { patches: true, minimumReleaseAge: 0s, notice: 3s }
${extra}`;
  const configYaml = () => `announce:
  channels: [${CHANNEL}]
targets:
${target('staging')}${target('prod', '    promotion: { from: staging, soak: 1s }\n')}`;

  const startBot = async () => {
    bot = await startBotProcess({ env: { ...botProcessEnv({ slackApiUrl: slack.apiUrl, githubUrl: github.url, databaseUrl: database.url, redisUrl: REDIS_URL, queuePrefix }), ...QUICK_STALL_DETECTION }, configYaml: configYaml() });
  };
  const image = async (name: 'staging' | 'prod') => (await engine.getContainer(containers[name]).inspect()).Config.Image;
  const upgradesOf = async (name: string) =>
    (await pool.query<{ to_version: string; requester: string; status: string }>(`SELECT to_version, requester, status FROM upgrades WHERE target = $1`, [name])).rows;
  const notices = (name: string) => slack.messages(CHANNEL).filter((m) => new RegExp(`Automatic patch upgrade of \`${name}\``).test(m.versions[0]?.text ?? ''));
  const logged = (message: string, name: string) => new RegExp(`"target":"${name}".*"msg":"${message}"|"msg":"${message}".*"target":"${name}"`);

  beforeAll(async () => {
    for (const version of ['0.30.0', '0.30.1']) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour: 'ready' });
    }
    for (const name of ['staging', 'prod'] as const) {
      ports[name] = await freePort();
      await createCheckstackContainer(engine, { name: containers[name], image: `${repository}:0.30.0`, port: ports[name], restartPolicy: 'unless-stopped' });
    }
    github = await startFakeGithub({ releases: [fixtureRelease('0.30.0', 6030), ...loadFixtureReleases()] });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queues = createQueues(redis, queuePrefix);
    await startBot();
    await waitUntilReady(`http://127.0.0.1:${ports.staging}`);
    await waitUntilReady(`http://127.0.0.1:${ports.prod}`);
  }, 240_000);

  afterAll(async () => {
    await bot?.kill('SIGKILL');
    await queues?.close();
    redis?.disconnect();
    await pool?.end();
    await slack?.close();
    await github?.close();
    await database?.drop();
    await deleteQueueKeys(queuePrefix);
    for (const name of Object.values(containers)) {
      const all = await engine.listContainers({ all: true, filters: { name: [name] } });
      await removeContainers(engine, all.map((c) => c.Names[0]!.replace(/^\//, '')));
      await removeVolumes(engine, [`${name}-data`]);
    }
  });

  it('applies the patch to staging, then prod, exactly once each, with a SIGKILL after each plan', async () => {
    // The first poll records the releases known at the start (not announced, nothing to apply).
    await slack.waitFor(async () => (await pool.query(`SELECT 1 FROM bot_state WHERE key = 'releases_initialized'`)).rowCount === 1, 30_000);
    github.addRelease({ ...fixtureRelease('0.30.1', 6031), published_at: new Date().toISOString() });
    await queues.releases.add('poll', { reason: 'manual' });

    // Killed after staging's notice went out, before its start.
    await bot!.waitForLog(logged('automatic upgrade notice posted', 'staging'), 60_000);
    await bot!.kill('SIGKILL');
    await startBot();

    await slack.waitFor(async () => (await upgradesOf('staging')).find((u) => u.to_version === '0.30.1' && u.status === 'succeeded'), 120_000);
    // Killed once prod's plan exists (its soak is over, its notice comes 3 s later).
    await bot!.waitForLog(logged('automatic upgrade scheduled', 'prod'), 60_000);
    await bot!.kill('SIGKILL');
    await startBot();

    await slack.waitFor(async () => (await upgradesOf('prod')).find((u) => u.to_version === '0.30.1' && u.status === 'succeeded'), 120_000);
    expect(await image('staging')).toBe(`${repository}:0.30.1`);
    expect(await image('prod')).toBe(`${repository}:0.30.1`);
    expect(await upgradesOf('staging')).toEqual([{ to_version: '0.30.1', requester: BOT, status: 'succeeded' }]);
    expect(await upgradesOf('prod')).toEqual([{ to_version: '0.30.1', requester: BOT, status: 'succeeded' }]);
    expect(notices('staging')).toHaveLength(1);
    expect(notices('prod')).toHaveLength(1);
  }, 360_000);
});
