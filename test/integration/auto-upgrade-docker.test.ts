// Automatic patch upgrades end to end on the real Docker engine: two targets (staging, prod with promotion from
// staging), short durations, fake GitHub releases and fake Slack. Nobody clicks anything: a patch goes to staging,
// soaks there, then to prod; a minor does not; a failure pauses the target until `/checkstack resume`; a bot restarted
// between the stages forgets nothing and applies nothing twice. Skips without DOCKER_HOST.
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createTestDatabase, randomQueuePrefix, type TestDatabase } from '../support/database.js';
import { buildFakeCheckstackImage, createCheckstackContainer, dockerFromEnv, freePort, registryFromEnv, removeContainers, removeVolumes, uniqueSuffix } from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { BOT_TOKEN, deleteQueueKeys, startTestBot, type TestBot } from '../support/test-bot.js';
import { waitUntilReady } from '../support/upgrade-flow.js';

const docker = dockerFromEnv();
const APPROVER = 'U0APPROVER1';
const CHANNEL = 'C0ANNOUNCE';
const BOT = 'checkstack-chatops';

function release(version: string, id: number) {
  return { ...fixtureRelease(version, id), published_at: new Date().toISOString() };
}

describe.skipIf(!docker)('automatic patch upgrades on a real Docker engine: staging, then prod, with no click', () => {
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const suffix = uniqueSuffix();
  const repository = `${registry}/ck-auto-${suffix}`;
  const containers = { staging: `ck-auto-staging-${suffix}`, prod: `ck-auto-prod-${suffix}` };
  const ports = { staging: 0, prod: 0 };
  const queuePrefix = randomQueuePrefix();
  let github: FakeGithub;
  let slack: FakeSlack;
  let database: TestDatabase;
  let t: TestBot | null = null;

  // Later tests restart the bot with staging's notice or release age changed, as an operator would edit the file.
  let stagingAuto = 'minimumReleaseAge: 0s, notice: 1s';
  const configYaml = () => `announce:
  channels: [${CHANNEL}]
approvers:
  users: [${APPROVER}]
targets:
  - name: staging
    baseUrl: http://127.0.0.1:${ports.staging}
    image: ${repository}
    docker: { host: "${process.env.DOCKER_HOST}", container: ${containers.staging}, stopTimeout: 5 }
    postflight: { readyTimeout: 30, logWatch: 2, healthcheckMaxWait: 2, retention: 3600 }
    autoUpgrade: { patches: true, ${stagingAuto} }
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:${ports.prod}
    image: ${repository}
    docker: { host: "${process.env.DOCKER_HOST}", container: ${containers.prod}, stopTimeout: 5 }
    postflight: { readyTimeout: 30, logWatch: 2, healthcheckMaxWait: 2, retention: 3600 }
    promotion: { from: staging, soak: 1s }
    autoUpgrade: { patches: true, minimumReleaseAge: 1s, notice: 1s }
`;

  async function startBot(): Promise<TestBot> {
    t = await startTestBot({ env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' }, configYaml: configYaml(), database, fakeSlack: slack, queuePrefix });
    return t;
  }

  const image = async (target: 'staging' | 'prod') => (await engine.getContainer(containers[target]).inspect()).Config.Image;

  async function poll(): Promise<void> {
    await t!.bot.deps.queues.releases.add('poll', { reason: 'manual' });
    await waitForQueueIdle(t!.bot.deps.queues.releases);
  }

  async function upgrades(target: string) {
    const { rows } = await t!.bot.deps.pool.query(
      `SELECT id, to_version, requester, started_by, status, outcome, ready_at, started_at, message_ts FROM upgrades WHERE target = $1 ORDER BY created_at`,
      [target],
    );
    return rows as Array<{ id: string; to_version: string; requester: string; started_by: string; status: string; outcome: string | null; ready_at: Date | null; started_at: Date | null; message_ts: string | null }>;
  }

  /** Waits until the target's upgrade to `version` has ended, and returns it. */
  async function ended(target: string, version: string, timeoutMs = 120_000) {
    return slack.waitFor(async () => (await upgrades(target)).find((u) => u.to_version === version && ['succeeded', 'failed'].includes(u.status)), timeoutMs);
  }

  const notices = (target: string, version: string) =>
    slack.messages(CHANNEL).filter((m) => new RegExp(`Automatic patch upgrade of \`${target}\` from \`[0-9.]+\` to \`${version.replace(/\./g, '\\.')}\``).test(m.versions[0]?.text ?? ''));

  beforeAll(async () => {
    for (const version of ['0.30.0', '0.30.1', '0.30.3', '0.31.0']) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour: 'ready' });
    }
    // 0.30.2 is published on GitHub but has no image: its automatic upgrade fails at the pull.
    for (const target of ['staging', 'prod'] as const) {
      ports[target] = await freePort();
      await createCheckstackContainer(engine, { name: containers[target], image: `${repository}:0.30.0`, port: ports[target], restartPolicy: 'unless-stopped' });
    }
    github = await startFakeGithub({ releases: [fixtureRelease('0.30.0', 7030), ...loadFixtureReleases()] });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    await startBot();
    await waitForQueueIdle(t!.bot.deps.queues.releases);
    await waitUntilReady(`http://127.0.0.1:${ports.staging}`);
    await waitUntilReady(`http://127.0.0.1:${ports.prod}`);
  }, 240_000);

  afterAll(async () => {
    await t?.bot.stop();
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

  it('does not apply a minor release to either target', async () => {
    github.addRelease(release('0.31.0', 7031));
    await poll();
    await waitForQueueIdle(t!.bot.deps.queues.autoUpgrades);
    expect(await upgrades('staging')).toEqual([]);
    expect(await upgrades('prod')).toEqual([]);
    expect(await image('staging')).toBe(`${repository}:0.30.0`);
    expect(slack.messages(CHANNEL).filter((m) => /Automatic patch upgrade/.test(m.versions[0]?.text ?? ''))).toEqual([]);
  }, 60_000);

  it('a patch flows to staging and then, after the soak, to prod; a restart in between keeps every decision', async () => {
    github.addRelease(release('0.30.1', 7032));
    await poll();

    const staging = await ended('staging', '0.30.1');
    expect(staging).toMatchObject({ status: 'succeeded', requester: BOT, started_by: BOT });
    expect(await image('staging')).toBe(`${repository}:0.30.1`);
    expect(notices('staging', '0.30.1')).toHaveLength(1);
    expect(slack.threadReplies(staging.message_ts!).map((m) => m.text ?? '').join('\n')).toMatch(/Post-flight checks\* finished/);

    // The bot restarts while prod waits for its soak, notice or start.
    await t!.bot.stop();
    await startBot();

    const prod = await ended('prod', '0.30.1');
    expect(prod).toMatchObject({ status: 'succeeded', requester: BOT, started_by: BOT });
    expect(await image('prod')).toBe(`${repository}:0.30.1`);
    // Prod started only once staging had run 0.30.1 for the soak.
    expect(prod.started_at!.getTime()).toBeGreaterThanOrEqual(staging.ready_at!.getTime() + 1_000);
    // Nothing twice: one upgrade and one notice per target.
    expect((await upgrades('staging')).filter((u) => u.to_version === '0.30.1')).toHaveLength(1);
    expect((await upgrades('prod')).filter((u) => u.to_version === '0.30.1')).toHaveLength(1);
    expect(notices('prod', '0.30.1')).toHaveLength(1);
    const audit = await t!.bot.deps.audit.recent(100);
    expect(audit.filter((a) => a.action === 'auto_upgrade' && a.userId === BOT)).toHaveLength(2);
  }, 240_000);

  it('a failing automatic upgrade pauses staging; a newer patch waits; resume lifts the pause and the newest goes in', async () => {
    github.addRelease(release('0.30.2', 7033));
    await poll();
    const failed = await ended('staging', '0.30.2');
    expect(failed.status).toBe('failed');
    expect(await image('staging')).toBe(`${repository}:0.30.1`);
    const paused = await slack.waitFor(() => slack.threadReplies(failed.message_ts!).find((m) => /paused/.test(m.text ?? '')));
    expect(paused.text).toMatch(/\/checkstack resume staging/);
    // Prod never gets the failed version.
    expect((await upgrades('prod')).filter((u) => u.to_version === '0.30.2')).toEqual([]);

    github.addRelease(release('0.30.3', 7034));
    await poll();
    await waitForQueueIdle(t!.bot.deps.queues.autoUpgrades);
    expect((await upgrades('staging')).filter((u) => u.to_version === '0.30.3')).toEqual([]);

    const response = await t!.driver.slashCommand('/checkstack', 'resume staging', { user: APPROVER, channel: CHANNEL });
    await slack.waitFor(() => slack.responses().find((r) => r.url === response.responseUrl && /resumed/.test(r.payload.text ?? '')));
    const resumed = await ended('staging', '0.30.3');
    expect(resumed.status).toBe('succeeded');
    expect(await image('staging')).toBe(`${repository}:0.30.3`);
    const audit = await t!.bot.deps.audit.recent(100);
    expect(audit).toContainEqual(expect.objectContaining({ userId: APPROVER, action: 'resume', outcome: 'ok' }));
    expect(audit).toContainEqual(expect.objectContaining({ userId: BOT, action: 'auto_upgrade_paused' }));
  }, 240_000);

  async function restartWith(auto: string): Promise<void> {
    stagingAuto = auto;
    await t!.bot.stop();
    await startBot();
  }

  it('does not apply a patch younger than minimumReleaseAge: one delayed re-decision waits for its age', async () => {
    await restartWith('minimumReleaseAge: 1h, notice: 1s');
    github.addRelease(release('0.30.4', 7035));
    await poll();
    await waitForQueueIdle(t!.bot.deps.queues.autoUpgrades);
    expect((await upgrades('staging')).filter((u) => u.to_version === '0.30.4')).toEqual([]);
    expect(notices('staging', '0.30.4')).toEqual([]);
    const rechecks = (await t!.bot.deps.queues.autoUpgrades.raw.getDelayed()).filter((job) => job.name === 'decide' && job.data.target === 'staging');
    expect(rechecks).toHaveLength(1);
    expect(await image('staging')).toBe(`${repository}:0.30.3`);
  }, 60_000);

  it('Cancel on the notice stops the upgrade, and the version is not tried again after a restart', async () => {
    await restartWith('minimumReleaseAge: 0s, notice: 1h');
    await poll();
    const notice = await slack.waitFor(() => notices('staging', '0.30.4')[0], 30_000);
    await t!.driver.click(notice, 'auto_upgrade_cancel', { user: APPROVER });
    await slack.waitFor(() => /cancelled/.test(slack.message(CHANNEL, notice.ts)?.text ?? ''));

    await restartWith('minimumReleaseAge: 0s, notice: 1s');
    await poll();
    await waitForQueueIdle(t!.bot.deps.queues.autoUpgrades);
    expect((await upgrades('staging')).filter((u) => u.to_version === '0.30.4')).toEqual([]);
    expect(notices('staging', '0.30.4')).toHaveLength(1);
    expect(await image('staging')).toBe(`${repository}:0.30.3`);
  }, 60_000);
});
