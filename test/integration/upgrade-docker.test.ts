// End to end on the real Docker engine: from signed Slack clicks to a recreated container, checked with
// `docker inspect`. CI starts dockerd and a local registry (.ci/run); without DOCKER_HOST these tests skip.
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  fakeEncryptionKey,
  freePort,
  registryFromEnv,
  removeContainers,
  removeVolumes,
  uniqueSuffix,
  type FakeBehaviour,
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow, waitUntilReady } from '../support/upgrade-flow.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';

const fixtures = loadFixtureReleases();

// The versions a test upgrades to, each with the behaviour of its fake image.
const VERSIONS: Record<string, FakeBehaviour> = {
  '0.30.0': 'slow-ready',
  '0.31.0': 'exit-on-start',
  '0.32.0': 'never-ready',
  '0.33.0': 'ready',
};

// What the never-ready version answers: an init error of 10,000 characters, more than a Slack section holds.
const NEVER_READY_ERROR = `database connection refused: ${'pool exhausted at db port 5432, retrying; '.repeat(300)}`.slice(0, 10_000);

describe.skipIf(!docker)('the upgrade job on a real Docker engine', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const repository = `${registry}/ck-e2e-${uniqueSuffix()}`;
  const suffix = uniqueSuffix();
  const containerName = `ck-e2e-${suffix}`;
  const port = { value: 0 };
  let github: FakeGithub;
  let t: TestBot;
  const masterKey = fakeEncryptionKey();

  const threadText = (ts: string) => t.slack.threadReplies(ts).map((m) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`).join('\n');
  const current = (m: FakeMessage) => t.slack.message(CHANNEL, m.ts)!;
  const inspect = () => engine.getContainer(containerName).inspect();
  const PIN_PATH = 'deploy/docker-compose.yml';
  // An operator's compose file: only the checkstack image line may ever change.
  const composeFile = (version: string) => `# Checkstack, pinned: never :latest
services:
  checkstack:
    image: ${repository}:${version}   # bumped by checkstack-chatops
    env_file: .env
    ports: ["8080:3000"]
  postgres:
    image: postgres:16.6-bookworm
`;
  const pinned = () => github.files.get('main', PIN_PATH)?.content;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const targetReady = () => waitUntilReady(`http://127.0.0.1:${port.value}`);

  async function approveAndStart(version: string, target = 'prod'): Promise<FakeMessage> {
    await targetReady();
    const message = await flow().request(t.driver, `upgrade ${version} ${target}`);
    await flow().confirmAndStart(t.driver, message);
    return message;
  }

  const finalStatus = (message: FakeMessage, timeoutMs?: number) => flow().finalState(message, timeoutMs);

  beforeAll(async () => {
    for (const [version, behaviour] of Object.entries({ '0.28.0': 'ready' as FakeBehaviour, ...VERSIONS })) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour, readyAfterSeconds: 3, readyError: NEVER_READY_ERROR });
    }
    github = await startFakeGithub({
      releases: [fixtureRelease('0.33.0', 8033), fixtureRelease('0.32.0', 8032), fixtureRelease('0.31.0', 8031), ...fixtures],
      files: { [PIN_PATH]: composeFile('0.28.0') },
    });
    port.value = await freePort();
    await createCheckstackContainer(engine, {
      name: containerName,
      image: `${repository}:0.28.0`,
      port: port.value,
      env: [`ENCRYPTION_MASTER_KEY=${masterKey}`, 'CUSTOM_SETTING=kept'],
      labels: { 'com.example.team': 'ops' },
      compose: { project: `ck-${suffix}`, service: 'checkstack' },
      restartPolicy: 'unless-stopped',
    });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:${port.value}
    image: ${repository}
    docker: { host: "${dockerProxy.host}", container: ${containerName}, stopTimeout: 5 }
    pin: { github: { repo: enyineer/checkstack, path: ${PIN_PATH}, branch: main, mode: commit } }
    postflight: { readyTimeout: 20, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }
`,
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await github?.close();
    const all = await engine.listContainers({ all: true, filters: { name: [containerName] } });
    await removeContainers(engine, all.map((c) => c.Names[0]!.replace(/^\//, '')));
    await removeVolumes(engine, [`${containerName}-data`]);
  });

  it('upgrades the container to the new tag, keeping its settings, and tells the story in the thread', async () => {
    const before = await inspect();

    const message = await approveAndStart('0.30.0');

    expect(await finalStatus(message)).toMatch(/succeeded/);
    const after = await inspect();
    expect(after.Config.Image).toBe(`${repository}:0.30.0`);
    expect(after.State.Running).toBe(true);
    expect(after.Config.Env).toEqual(expect.arrayContaining([`ENCRYPTION_MASTER_KEY=${masterKey}`, 'CUSTOM_SETTING=kept', 'CHECKSTACK_BUILD=0.30.0']));
    expect(after.Config.Labels).toMatchObject({ 'com.example.team': 'ops', 'com.docker.compose.service': 'checkstack' });
    expect(after.Config.Cmd).toEqual(['serve', '--release=0.30.0']);
    expect(after.Mounts.map((m) => m.Destination)).toEqual(before.Mounts.map((m) => m.Destination));
    const kept = await engine.getContainer(`${containerName}-pre-0.30.0`).inspect();
    expect(kept.Config.Image).toBe(`${repository}:0.28.0`);
    expect(kept.State.Running).toBe(false);
    const thread = threadText(message.ts);
    for (const step of ['Re-check', 'Pull', 'Recreate', 'Readiness', 'Post-flight checks']) expect(thread).toMatch(new RegExp(`✅ \\*${step}\\* finished in`));
    expect(thread).toMatch(/version/);
    expect(pinned()).toBe(composeFile('0.30.0'));
    expect(github.files.history('main')[0]!.message).toMatch(/to 0\.30\.0[\s\S]*U0APPROVER1[\s\S]*U0APPROVER2/);
  }, 180_000);

  it('restores the old container when the new one will not start, and says why', async () => {
    const message = await approveAndStart('0.31.0');

    expect(await finalStatus(message)).toBe('failed');
    const after = await inspect();
    expect(after.Config.Image).toBe(`${repository}:0.30.0`);
    expect(after.State.Running).toBe(true);
    expect(threadText(message.ts)).toMatch(/Recreate\* failed/);
    expect(threadText(message.ts)).toMatch(/0\.30\.0` is still running/);
    expect(threadText(message.ts)).toMatch(/Git record was reverted/);
    expect(pinned()).toBe(composeFile('0.30.0'));
  }, 180_000);

  it('fails an unknown tag at the pull, with the old container untouched', async () => {
    github.addRelease(fixtureRelease('0.34.0', 8034));

    const message = await approveAndStart('0.34.0');

    expect(await finalStatus(message)).toBe('failed');
    expect(threadText(message.ts)).toMatch(/Pull\* failed/);
    expect((await inspect()).Config.Image).toBe(`${repository}:0.30.0`);
    expect((await inspect()).State.Running).toBe(true);
  }, 180_000);

  it('fails a version that never gets ready with a 10,000-character error, shows the last readiness answer, offers Roll back and keeps the old container', async () => {
    const message = await approveAndStart('0.32.0');

    expect(await finalStatus(message)).toBe('failed');
    const thread = threadText(message.ts);
    expect(thread).toMatch(/Readiness\* failed/);
    expect(thread).toMatch(/database connection refused/);
    expect(t.slack.threadReplies(message.ts).filter((m) => /Upgrade failed\* at \*Readiness/.test(m.text ?? '') && JSON.stringify(m.blocks ?? []).includes('rollback_upgrade'))).toHaveLength(1);
    expect(JSON.stringify(current(message).blocks)).toContain('rollback_upgrade');
    expect((await inspect()).Config.Image).toBe(`${repository}:0.32.0`);
    expect((await engine.getContainer(`${containerName}-pre-0.32.0`).inspect()).Config.Image).toBe(`${repository}:0.30.0`);
    expect(pinned()).toBe(composeFile('0.32.0'));
  }, 180_000);

  it('rolls back by the fast path from the Roll back button, through the same approvals', async () => {
    const failed = t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts).at(-1)!;
    const withButton = t.slack.threadReplies(failed.ts).find((m) => JSON.stringify(m.blocks ?? []).includes('rollback_upgrade'))!;
    const before = t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts).length;

    await t.driver.click({ ...withButton, channel: CHANNEL }, 'rollback_upgrade', { user: REQUESTER });
    const rollback = await t.slack.waitFor(() => {
      const top = t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts);
      return top.length > before && top[top.length - 1];
    }, 20_000);
    expect(JSON.stringify(rollback.blocks)).toMatch(/not reversed/);
    await flow().confirmAndStart(t.driver, rollback);

    expect(await finalStatus(rollback)).toMatch(/succeeded/);
    const after = await inspect();
    expect(after.Config.Image).toBe(`${repository}:0.30.0`);
    expect(after.State.Running).toBe(true);
    expect(threadText(rollback.ts)).toMatch(/kept previous container runs again/);
    expect(pinned()).toBe(composeFile('0.30.0'));
    await t.slack.waitFor(() => /rolled back/i.test(current(failed).text ?? ''), 30_000);
  }, 180_000);

  it('removes the kept container when the retention ends, and then rolls back by recreating from the previous image', async () => {
    const message = await approveAndStart('0.33.0');
    expect(await finalStatus(message)).toMatch(/succeeded/);
    const [{ id }] = (await t.bot.deps.pool.query(`SELECT id FROM upgrades WHERE to_version = '0.33.0' AND kind = 'upgrade'`)).rows;
    await engine.getContainer(`${containerName}-pre-0.33.0`).inspect();

    // The retention job is queued with the retention delay (an hour here): promote it instead of waiting.
    const retention = await t.slack.waitFor(() => t.bot.deps.queues.housekeeping.raw.getJob(`retention-${id}`), 10_000);
    await retention.promote();
    await t.slack.waitFor(() => /retention period ended/.test(threadText(message.ts)), 20_000);
    await expect(engine.getContainer(`${containerName}-pre-0.33.0`).inspect()).rejects.toThrow(/no such container/i);

    await targetReady();
    const rollback = await flow().request(t.driver, 'rollback', /Rollback of `prod` to `0\.30\.0` planned/);
    expect(JSON.stringify(rollback.blocks)).toMatch(/Roll back prod: 0\.33\.0 → 0\.30\.0/);
    await flow().confirmAndStart(t.driver, rollback);

    expect(await finalStatus(rollback)).toMatch(/succeeded/);
    const after = await inspect();
    expect(after.Config.Image).toBe(`${repository}:0.30.0`);
    expect(after.State.Running).toBe(true);
    expect(after.Config.Env).toEqual(expect.arrayContaining([`ENCRYPTION_MASTER_KEY=${masterKey}`, 'CUSTOM_SETTING=kept']));
    expect(threadText(rollback.ts)).toMatch(/recreated from/);
    expect(pinned()).toBe(composeFile('0.30.0'));
    const running = await engine.listContainers({ filters: { name: [containerName] } });
    expect(running).toHaveLength(1);
  }, 240_000);
});
