// Crash safety on the real Docker engine: the bot process is SIGKILLed while three upgrades sit in Pull, Recreate
// and Readiness, then started again. Each upgrade must end once, with one running Checkstack and a truthful thread.
import type Dockerode from 'dockerode';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/fake-slack.js';
import { botProcessEnv, QUICK_STALL_DETECTION, startBotProcess, type BotProcess } from '../support/bot-process.js';
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
import { startGatedProxy } from '../support/gated-proxy.js';
import { queueEvents } from '../support/queues.js';
import { createSlackDriver } from '../support/slack-driver.js';
import { countMatching, upgradeFlow, waitUntilReady } from '../support/upgrade-flow.js';
import { escapeRegExp } from '../../src/domain/regexp.js';
import { BOT_TOKEN, deleteQueueKeys, SIGNING_SECRET } from '../support/test-bot.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const FROM = '0.28.0';
const TO = '0.30.0';

const STEP_TITLES = { recheck: 'Re-check', git_record: 'Git record', pull: 'Pull', recreate: 'Recreate', readiness: 'Readiness', postflight: 'Post-flight checks' } as const;
type Step = keyof typeof STEP_TITLES;
const STEPS = Object.keys(STEP_TITLES) as Step[];

/** A target whose upgrade is interrupted in `killedIn`. */
interface Scenario {
  killedIn: 'pull' | 'recreate' | 'readiness';
  target: string;
  container: string;
  port: number;
  /** Where the images are pushed (the registry itself). */
  pushRepository: string;
  /** What the target pulls from: for `pull`, the same registry behind a gate that can hold the transfer. */
  targetRepository: string;
  behaviour: FakeBehaviour;
  readyAfterSeconds: number;
  message?: FakeMessage;
}

const fixtures = loadFixtureReleases();

describe.skipIf(!docker)('crash safety: the bot SIGKILLed in the middle of upgrade steps, then started again', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const registryPort = Number(registry.split(':')[1] ?? 5000);
  const suffix = uniqueSuffix();
  const queuePrefix = randomQueuePrefix();
  let gate: Awaited<ReturnType<typeof startGatedProxy>>;
  let github: FakeGithub;
  let slack: FakeSlack;
  let database: TestDatabase;
  let pool: pg.Pool;
  let redis: Redis;
  let bot: BotProcess | undefined;
  const scenarios: Scenario[] = [];
  const measured: Record<string, number | string> = {};

  const botEnv = () => ({
    ...botProcessEnv({ slackApiUrl: slack.apiUrl, githubUrl: github.url, databaseUrl: database.url, redisUrl: REDIS_URL, queuePrefix }),
    ...QUICK_STALL_DETECTION,
  });
  const configYaml = () => `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
${scenarios
  .map(
    (s, i) => `  - name: ${s.target}
    default: ${i === 0}
    baseUrl: http://127.0.0.1:${s.port}
    image: ${s.targetRepository}
    docker: { host: "${dockerProxy.host}", container: ${s.container}, stopTimeout: 5 }
    postflight: { readyTimeout: 120, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }`,
  )
  .join('\n')}
`;

  const thread = (m: FakeMessage) => slack.threadReplies(m.ts).map((r) => r.text ?? '');

  const flow = () => upgradeFlow({ slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });

  async function approveAndStart(s: Scenario, running: BotProcess): Promise<FakeMessage> {
    const driver = createSlackDriver({ botUrl: running.url, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    await waitUntilReady(`http://127.0.0.1:${s.port}`);
    const message = await flow().request(driver, `upgrade ${TO} ${s.target}`);
    await flow().confirmAndStart(driver, message);
    return message;
  }

  const stepStarted = (s: Scenario) => new RegExp(`▶️ \\*${STEP_TITLES[s.killedIn]}\\* started`);
  // A step's reply says "started" only until its first progress update, which can follow within milliseconds:
  // look through every version of the replies, not just their current text.
  const entered = (s: Scenario) => slack.threadReplies(s.message!.ts).some((r) => r.versions.some((v) => stepStarted(s).test(v.text ?? '')));

  const finalStatus = (message: FakeMessage, timeoutMs: number) => flow().finalState(message, timeoutMs);

  beforeAll(async () => {
    gate = await startGatedProxy(registryPort);
    const behaviours: Record<Scenario['killedIn'], [FakeBehaviour, number]> = {
      // Readiness is held by a slow start: the kill lands while the new version still answers 503.
      readiness: ['slow-ready', 60],
      pull: ['ready', 0],
      recreate: ['ready', 0],
    };
    for (const killedIn of ['readiness', 'pull', 'recreate'] as const) {
      const pushRepository = `ck-crash-${suffix}-${killedIn}`;
      scenarios.push({
        killedIn,
        target: `crash-${killedIn}`,
        container: `ck-crash-${suffix}-${killedIn}`,
        port: await freePort(),
        pushRepository,
        targetRepository: killedIn === 'pull' ? `127.0.0.1:${gate.port}/${pushRepository}` : `${registry}/${pushRepository}`,
        behaviour: behaviours[killedIn][0],
        readyAfterSeconds: behaviours[killedIn][1],
      });
    }
    for (const s of scenarios) {
      await buildFakeCheckstackImage(engine, { registry, repository: s.pushRepository, version: FROM, behaviour: 'ready' });
      await buildFakeCheckstackImage(engine, { registry, repository: s.pushRepository, version: TO, behaviour: s.behaviour, readyAfterSeconds: s.readyAfterSeconds });
      await createCheckstackContainer(engine, { name: s.container, image: `${registry}/${s.pushRepository}:${FROM}`, port: s.port, restartPolicy: 'unless-stopped' });
    }
    github = await startFakeGithub({ releases: [fixtureRelease(TO, 9030), ...fixtures] });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    bot = await startBotProcess({ env: botEnv(), configYaml: configYaml() });
  }, 120_000);

  afterAll(async () => {
    await bot?.kill('SIGKILL');
    gate?.release();
    await gate?.close();
    await pool?.end();
    redis?.disconnect();
    await slack?.close();
    await github?.close();
    await database?.drop();
    await deleteQueueKeys(queuePrefix);
    for (const s of scenarios) {
      await removeContainers(engine, [s.container, `${s.container}-pre-${TO}`]);
      await removeVolumes(engine, [`${s.container}-data`]);
    }
    if (Object.keys(measured).length) process.stderr.write(`crash-safety measurements: ${JSON.stringify(measured)}\n`);
  }, 60_000);

  describe('after a SIGKILL during Readiness, Pull and Recreate and a restart', () => {
    beforeAll(async () => {
      const [readiness, pull, recreate] = scenarios as [Scenario, Scenario, Scenario];
      // Readiness first (it stays there ~60 s), then Pull (held at the registry), then Recreate: the kill comes
      // in the middle of Recreate (the old container renamed aside), while the other two are still inside their steps.
      readiness.message = await approveAndStart(readiness, bot!);
      await slack.waitFor(() => entered(readiness), 90_000);
      gate.hold();
      pull.message = await approveAndStart(pull, bot!);
      await slack.waitFor(() => entered(pull), 90_000);
      recreate.message = await approveAndStart(recreate, bot!);
      await slack.waitFor(() => entered(recreate), 90_000);
      // The worst moment inside Recreate: the old container stopped and renamed aside, the new one not yet up.
      await pollUntil(async () => ((await engine.listContainers({ all: true, filters: { name: [`${recreate.container}-pre-${TO}`] } })).length > 0 ? true : undefined), 15_000, 20);

      const killedAt = Date.now();
      const exit = await bot!.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      for (const s of scenarios) expect(thread(s.message!).join('\n')).not.toMatch(/Upgrade succeeded|Upgrade failed/);
      // What the operator has while no worker runs: for Recreate, possibly no Checkstack at all.
      const atKill = await engine.listContainers({ all: true, filters: { name: [recreate.container] } });
      measured.recreateContainersAtKill = atKill.map((c) => `${c.Names[0]}:${c.State}`).join(' ');
      gate.release();

      bot = await startBotProcess({ env: botEnv(), configYaml: configYaml() });
      measured.restartMs = Date.now() - killedAt;
      await Promise.all(
        scenarios.map(async (s) => {
          await slack.waitFor(() => thread(s.message!).some((t) => t.startsWith('↩️ Resuming')), 120_000);
          measured[`resumed_${s.killedIn}_ms_after_kill`] = Date.now() - killedAt;
        }),
      );
      // The upgrade killed in Readiness is held there until 60 s after its container started, whenever the kill came:
      // on a loaded machine the rest of its run does not fit in a minute after the resume. Its readyTimeout is 120 s.
      await Promise.all(scenarios.map((s) => finalStatus(s.message!, 120_000)));
      measured.allEndedMsAfterKill = Date.now() - killedAt;
    }, 300_000);

    for (const killedIn of ['pull', 'recreate', 'readiness'] as const) {
      it(`the upgrade killed in ${STEP_TITLES[killedIn]} resumes there and succeeds, with one running Checkstack`, async () => {
        const s = scenarios.find((x) => x.killedIn === killedIn)!;

        const status = await finalStatus(s.message!, 1_000);
        const containers = await engine.listContainers({ all: true, filters: { name: [s.container] } });

        expect(status).toBe('succeeded');
        const running = containers.filter((c) => c.State === 'running');
        expect(running.map((c) => c.Names[0])).toEqual([`/${s.container}`]);
        expect(running[0]!.Image).toBe(`${s.targetRepository}:${TO}`);
        for (const other of containers.filter((c) => c.State !== 'running')) expect(other.Names[0]).toBe(`/${s.container}-pre-${TO}`);
      });

      it(`the thread of the upgrade killed in ${STEP_TITLES[killedIn]} says once that it resumed, and finishes every step once`, async () => {
        const s = scenarios.find((x) => x.killedIn === killedIn)!;
        const previous = STEPS[STEPS.indexOf(killedIn) - 1]!;

        const texts = thread(s.message!);

        expect(countMatching(texts, new RegExp(`^↩️ Resuming after \\*${escapeRegExp(STEP_TITLES[previous])}\\*`))).toBe(1);
        for (const step of STEPS) expect(countMatching(texts, new RegExp(`^✅ \\*${escapeRegExp(STEP_TITLES[step])}\\* finished in`)), step).toBe(1);
        expect(countMatching(texts, /Upgrade succeeded/)).toBe(1);
        expect(countMatching(texts, /^❌|Upgrade failed|\* failed after/)).toBe(0);
        // Apart from the step message the killed process left behind, no reply is there twice.
        const started = texts.filter((t) => stepStarted(s).test(t) || t.startsWith(`⏳ *${STEP_TITLES[killedIn]}*`));
        expect(started.length).toBeLessThanOrEqual(1);
        expect(new Set(texts).size).toBe(texts.length);
      });

      it(`the steps of the upgrade killed in ${STEP_TITLES[killedIn]} ran once each, the killed one twice`, async () => {
        const s = scenarios.find((x) => x.killedIn === killedIn)!;
        const { rows: [upgrade] } = await pool.query<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [s.message!.ts]);

        const { rows } = await pool.query<{ step: string; attempt: number; outcome: string }>(
          `SELECT step, attempt, outcome FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`,
          [upgrade!.id],
        );

        expect(rows).toEqual(STEPS.map((step) => ({ step, attempt: step === killedIn ? 2 : 1, outcome: 'ok' })));
      });
    }

    it('completes each BullMQ job once, after one stall and no failed attempt', async () => {
      const events = await queueEvents(redis, queuePrefix, 'upgrades');

      for (const s of scenarios) {
        const { rows: [upgrade] } = await pool.query<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [s.message!.ts]);
        const id = upgrade!.id;
        const hash = await redis.hgetall(`${queuePrefix}:upgrades:${id}`);
        expect(await redis.zscore(`${queuePrefix}:upgrades:completed`, id), s.killedIn).not.toBeNull();
        expect(JSON.parse(hash.returnvalue ?? 'null'), s.killedIn).toEqual({ outcome: 'ended' });
        expect(Number(hash.stc ?? 0), s.killedIn).toBe(1);
        expect(events.filter((e) => e.jobId === id && e.event === 'completed'), s.killedIn).toHaveLength(1);
        expect(events.filter((e) => e.jobId === id && e.event === 'failed'), s.killedIn).toHaveLength(0);
        expect(events.filter((e) => e.jobId === id && e.event === 'stalled'), s.killedIn).toHaveLength(1);
      }
    });
  });
});
