// The Docker daemon restarted during the Pull of a running upgrade, on an engine of the test's own (the shared one
// at DOCKER_HOST stays up for the other suites). The pull is held mid-transfer by a gate in front of the registry.
// After a restart the upgrade completes; after an outage longer than the retry budget it fails at Pull with the
// engine named. Either way: one running Checkstack, every thread message once, every step and the job run once.
import Dockerode from 'dockerode';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerDeployer } from '../../src/targets/docker.js';
import { dockerDeployerFactory, dockerOptionsFromHost, type DeployerFactory } from '../../src/targets/registry.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { REDIS_URL } from '../support/database.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  freePort,
  pollUntil,
  registryFromEnv,
  removeImages,
  uniqueSuffix,
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { startGatedProxy, type GatedProxy } from '../support/gated-proxy.js';
import { startPrivateDockerd, type PrivateDockerd } from '../support/private-dockerd.js';
import { queueEvents } from '../support/queues.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { countMatching, upgradeFlow, waitUntilReady } from '../support/upgrade-flow.js';
import { escapeRegExp } from '../../src/domain/regexp.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const FROM = '0.28.0';
const TO = '0.30.0';
const STEPS = { recheck: 'Re-check', git_record: 'Git record', pull: 'Pull', recreate: 'Recreate', readiness: 'Readiness', postflight: 'Post-flight checks' } as const;
/** The retry budget of the target whose engine stays down: short, so the test need not wait the default minute. */
const SHORT_BUDGET_MS = 8_000;

/** One upgrade on the private engine: its own image repository, container and port. */
interface Scenario {
  target: 'restarted' | 'down';
  container: string;
  port: number;
  repository: string;
  /** What the target pulls from: the registry behind the gate. */
  targetImage: string;
  /** The digest of the new image's layer: the gate holds from the engine's request for it. */
  layerDigest: string;
  message?: FakeMessage;
}

const fixtures = loadFixtureReleases();

/** The registry's manifest of `repository:tag` names the layer blob a pull downloads. */
async function layerDigestOf(registry: string, repository: string, tag: string): Promise<string> {
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  const manifest = (await response.json()) as { layers?: Array<{ digest: string }> };
  const digest = manifest.layers?.at(-1)?.digest;
  if (!digest) throw new Error(`no layer in the manifest of ${repository}:${tag}`);
  return digest;
}

async function pullInto(engine: Dockerode, ref: string): Promise<void> {
  const stream = (await engine.createImage({}, { fromImage: ref })) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => engine.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  await engine.getImage(ref).inspect();
}

describe.skipIf(!docker)('the Docker daemon restarts during the Pull of a running upgrade', () => {
  const shared = docker as Dockerode;
  const registry = registryFromEnv();
  const registryPort = Number(registry.split(':')[1] ?? 5000);
  const suffix = uniqueSuffix();
  const scenarios: Scenario[] = [];
  const builtImages: string[] = [];
  const measured: Record<string, number | string> = {};
  let dockerd: PrivateDockerd;
  let gate: GatedProxy;
  let github: FakeGithub;
  let bot: TestBot;
  let pool: pg.Pool;
  let redis: Redis;

  const scenario = (target: Scenario['target']) => scenarios.find((s) => s.target === target)!;
  const flow = () => upgradeFlow({ slack: bot.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const thread = (m: FakeMessage) => bot.slack.threadReplies(m.ts).map((r) => r.text ?? '');
  /** The Pull step's own reply, with every state it went through. */
  const pullReply = (m: FakeMessage) => bot.slack.threadReplies(m.ts).find((r) => r.versions[0]?.text === `▶️ *${STEPS.pull}* started`);
  const pullStates = (m: FakeMessage) => pullReply(m)?.versions.map((v) => v.text ?? '') ?? [];

  const configYaml = () => `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
${scenarios
  .map(
    (s, i) => `  - name: ${s.target}
    default: ${i === 0}
    baseUrl: http://127.0.0.1:${s.port}
    image: ${s.targetImage}
    docker: { host: "${dockerd.host}", container: ${s.container}, stopTimeout: 5 }
    postflight: { readyTimeout: 120, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }`,
  )
  .join('\n')}
`;

  /** The production factory, except that the `down` target gives up on the engine after SHORT_BUDGET_MS. */
  const deployers = (): DeployerFactory => {
    const production = dockerDeployerFactory();
    return (target, logger) =>
      target.name === 'down'
        ? createDockerDeployer({
            docker: new Dockerode(dockerOptionsFromHost(target.docker!.host)),
            target: { container: target.docker!.container!, stopTimeoutSeconds: target.docker!.stopTimeout },
            logger,
            engineRetryBudgetMs: SHORT_BUDGET_MS,
          })
        : production(target, logger);
  };

  async function upgradeId(message: FakeMessage): Promise<string> {
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [message.ts]);
    return rows[0]!.id;
  }

  async function stepRows(message: FakeMessage): Promise<Array<{ step: string; attempt: number; outcome: string }>> {
    const { rows } = await pool.query<{ step: string; attempt: number; outcome: string }>(
      `SELECT step, attempt, outcome FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`,
      [await upgradeId(message)],
    );
    return rows;
  }

  /** The job's events once it has completed (it completes after its last thread message). */
  async function jobEvents(message: FakeMessage): Promise<string[]> {
    const id = await upgradeId(message);
    return pollUntil(async () => {
      const events = (await queueEvents(redis, bot.queuePrefix, 'upgrades')).filter((e) => e.jobId === id).map((e) => e.event!);
      return events.includes('completed') ? events : undefined;
    }, 30_000);
  }

  async function containersOf(s: Scenario) {
    return dockerd.docker.listContainers({ all: true, filters: { name: [s.container] } });
  }

  /** Requests and approves the upgrade, then waits until the engine is downloading the new layer (held at the gate). */
  async function startAndHoldInPull(s: Scenario): Promise<FakeMessage> {
    gate.holdFrom(s.layerDigest);
    await waitUntilReady(`http://127.0.0.1:${s.port}`, 60_000);
    const message = await flow().request(bot.driver, `upgrade ${TO} ${s.target}`);
    await flow().confirmAndStart(bot.driver, message);
    await bot.slack.waitFor(() => pullReply(message), 60_000);
    // The engine has fetched the manifest and asked for the layer: the pull is under way, not just requested.
    await pollUntil(async () => (gate.holding() ? true : undefined), 60_000, 50);
    await bot.slack.waitFor(() => pullStates(message).some((t) => /^⏳ \*Pull\* .*: 0\/1 layers/.test(t)), 30_000);
    return message;
  }

  beforeAll(async () => {
    dockerd = await startPrivateDockerd();
    gate = await startGatedProxy(registryPort);
    for (const target of ['restarted', 'down'] as const) {
      const repository = `ck-restart-${suffix}-${target}`;
      builtImages.push(await buildFakeCheckstackImage(shared, { registry, repository, version: FROM, behaviour: 'ready' }));
      builtImages.push(await buildFakeCheckstackImage(shared, { registry, repository, version: TO, behaviour: 'ready' }));
      const s: Scenario = {
        target,
        container: `ck-restart-${suffix}-${target}`,
        port: await freePort(),
        repository,
        targetImage: `127.0.0.1:${gate.port}/${repository}`,
        layerDigest: await layerDigestOf(registry, repository, TO),
      };
      await pullInto(dockerd.docker, `${registry}/${repository}:${FROM}`);
      await createCheckstackContainer(dockerd.docker, { name: s.container, image: `${registry}/${repository}:${FROM}`, port: s.port, restartPolicy: 'unless-stopped' });
      scenarios.push(s);
    }
    github = await startFakeGithub({ releases: [fixtureRelease(TO, 9030), ...fixtures] });
    bot = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: configYaml(),
      deployers: { docker: deployers() },
    });
    pool = new pg.Pool({ connectionString: bot.database.url, max: 2 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  }, 240_000);

  afterAll(async () => {
    // Our pool first: dropping the bot's database ends every connection to it.
    await pool?.end();
    redis?.disconnect();
    await bot?.close();
    gate?.release();
    await gate?.close();
    await github?.close();
    await dockerd?.close();
    await removeImages(shared, builtImages);
    if (Object.keys(measured).length) process.stderr.write(`docker-restart measurements: ${JSON.stringify(measured)}\n`);
  }, 120_000);

  describe('when dockerd restarts while the new image is being pulled', () => {
    beforeAll(async () => {
      const s = scenario('restarted');
      s.message = await startAndHoldInPull(s);

      const stoppedAt = Date.now();
      await dockerd.stop();
      measured.stopMs = Date.now() - stoppedAt;
      await dockerd.start();
      measured.restartMs = Date.now() - stoppedAt;
      await bot.slack.waitFor(() => pullStates(s.message!).some((t) => t.includes('Docker engine unreachable')), 60_000);
      gate.release();

      measured.restartedFinal = await flow().finalState(s.message, 180_000);
      measured.restartedEndedMsAfterStop = Date.now() - stoppedAt;
    }, 360_000);

    it('completes the upgrade, with one running Checkstack on the new image', async () => {
      const s = scenario('restarted');

      const status = await flow().finalState(s.message!, 1_000);
      const containers = await containersOf(s);

      expect(status).toBe('succeeded');
      const running = containers.filter((c) => c.State === 'running');
      expect(running.map((c) => c.Names[0])).toEqual([`/${s.container}`]);
      expect(running[0]!.Image).toBe(`${s.targetImage}:${TO}`);
      for (const other of containers.filter((c) => c.State !== 'running')) expect(other.Names[0]).toBe(`/${s.container}-pre-${TO}`);
    });

    it('says in the Pull step that the engine was unreachable and retried, then finishes every step once', async () => {
      const s = scenario('restarted');

      const texts = thread(s.message!);
      const posted = bot.slack.calls('chat.postMessage').filter((c) => c.args.thread_ts === s.message!.ts).map((c) => String(c.args.text));

      expect(pullStates(s.message!)).toContainEqual(expect.stringMatching(/^⏳ \*Pull\* .*\(Docker engine unreachable: .+; retrying in [\d.]+ s\)$/));
      for (const title of Object.values(STEPS)) expect(countMatching(texts, new RegExp(`^✅ \\*${escapeRegExp(title)}\\* finished in`)), title).toBe(1);
      expect(countMatching(texts, /Upgrade succeeded/)).toBe(1);
      expect(countMatching(texts, /^❌|Upgrade failed|\* failed after|^↩️ Resuming|hit an unexpected error/)).toBe(0);
      expect(posted.filter((text, i) => posted.indexOf(text) !== i)).toEqual([]);
      expect(new Set(texts).size).toBe(texts.length);
    });

    it('runs each step once, and completes the job once with no failed attempt', async () => {
      const s = scenario('restarted');

      const rows = await stepRows(s.message!);
      const events = await jobEvents(s.message!);

      expect(rows).toEqual(Object.keys(STEPS).map((step) => ({ step, attempt: 1, outcome: 'ok' })));
      expect(events.filter((e) => e === 'active')).toHaveLength(1);
      expect(events.filter((e) => e === 'completed')).toHaveLength(1);
      expect(events.filter((e) => e === 'failed' || e === 'stalled' || e === 'retries-exhausted')).toEqual([]);
      expect(JSON.parse((await redis.hget(`${bot.queuePrefix}:upgrades:${await upgradeId(s.message!)}`, 'returnvalue')) ?? 'null')).toEqual({ outcome: 'ended' });
    });
  });

  describe('when dockerd stays down longer than the retry budget', () => {
    beforeAll(async () => {
      const s = scenario('down');
      s.message = await startAndHoldInPull(s);

      const stoppedAt = Date.now();
      await dockerd.stop();
      measured.downFinal = await flow().finalState(s.message, 180_000);
      measured.downEndedMsAfterStop = Date.now() - stoppedAt;
      await dockerd.start();
      gate.release();
    }, 360_000);

    it('fails the upgrade at Pull, naming the engine and the last reason', async () => {
      const s = scenario('down');

      const status = await flow().finalState(s.message!, 1_000);
      const texts = thread(s.message!);

      expect(status).toBe('failed');
      const reason = `Docker engine \`${escapeRegExp(dockerd.host)}\` did not answer for [\\d.]+ s while pulling \`${escapeRegExp(`${s.targetImage}:${TO}`)}\` \\(last error: connect (ENOENT|ECONNREFUSED) `;
      expect(countMatching(texts, new RegExp(`^❌ \\*Pull\\* failed after [\\d.]+ s: ${reason}`))).toBe(1);
      expect(countMatching(texts, new RegExp(`^❌ \\*Upgrade failed\\* at \\*Pull\\*: ${reason}.*\`${escapeRegExp(FROM)}\` is still running\\.`))).toBe(1);
      expect(pullStates(s.message!)).toContainEqual(expect.stringMatching(/\(Docker engine unreachable: .+; retrying in [\d.]+ s\)$/));
      for (const title of [STEPS.recheck, STEPS.git_record]) expect(countMatching(texts, new RegExp(`^✅ \\*${escapeRegExp(title)}\\* finished in`)), title).toBe(1);
      expect(countMatching(texts, /Recreate|Readiness|Upgrade succeeded|^↩️ Resuming|hit an unexpected error/)).toBe(0);
      expect(new Set(texts).size).toBe(texts.length);
    });

    it('leaves the old Checkstack running again, alone, once the engine is back', async () => {
      const s = scenario('down');

      // The restart policy brings it back after the engine starts.
      const running = await pollUntil(async () => {
        const list = (await containersOf(s)).filter((c) => c.State === 'running');
        return list.length > 0 ? list : undefined;
      }, 60_000);
      const all = await containersOf(s);

      expect(running.map((c) => c.Names[0])).toEqual([`/${s.container}`]);
      expect(running[0]!.Image).toBe(`${registry}/${s.repository}:${FROM}`);
      expect(all).toHaveLength(1);
    });

    it('runs Pull once and fails it, and completes the job once with no second attempt', async () => {
      const s = scenario('down');

      const rows = await stepRows(s.message!);
      const events = await jobEvents(s.message!);

      expect(rows).toEqual([
        { step: 'recheck', attempt: 1, outcome: 'ok' },
        { step: 'git_record', attempt: 1, outcome: 'ok' },
        { step: 'pull', attempt: 1, outcome: 'failed' },
      ]);
      expect(events.filter((e) => e === 'active')).toHaveLength(1);
      expect(events.filter((e) => e === 'completed')).toHaveLength(1);
      expect(events.filter((e) => e === 'failed' || e === 'stalled' || e === 'retries-exhausted')).toEqual([]);
    });
  });
});
