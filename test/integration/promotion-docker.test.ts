// The promotion gate and a scheduled upgrade end to end on the real Docker engine, with two targets: prod refuses
// 0.30.0 until staging ran it green, then a prod upgrade scheduled for after staging's soak starts at its time and
// not before, and recreates prod's container. Without DOCKER_HOST these tests skip (CI runs them).
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
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow, waitUntilReady } from '../support/upgrade-flow.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const SOAK_SECONDS = 10;

describe.skipIf(!docker)('promotion from staging to prod, and a scheduled prod upgrade, on a real Docker engine', () => {
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const suffix = uniqueSuffix();
  const repository = `${registry}/ck-promo-${suffix}`;
  const names = { staging: `ck-promo-staging-${suffix}`, prod: `ck-promo-prod-${suffix}` };
  const ports = { staging: 0, prod: 0 };
  let github: FakeGithub;
  let t: TestBot;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const current = (m: FakeMessage) => t.slack.message(CHANNEL, m.ts)!;
  const blocksText = (m: FakeMessage) => JSON.stringify(current(m).blocks ?? []);
  const image = async (name: string) => (await engine.getContainer(name).inspect()).Config.Image;
  const rows = async (sql: string, params: unknown[] = []) => (await t.bot.deps.pool.query(sql, params)).rows;

  beforeAll(async () => {
    for (const version of ['0.28.0', '0.30.0']) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour: 'ready' });
    }
    github = await startFakeGithub({ releases: [fixtureRelease('0.30.0', 9130), ...loadFixtureReleases()] });
    for (const target of ['staging', 'prod'] as const) {
      ports[target] = await freePort();
      await createCheckstackContainer(engine, { name: names[target], image: `${repository}:0.28.0`, port: ports[target], env: [`ENCRYPTION_MASTER_KEY=${fakeEncryptionKey()}`], restartPolicy: 'unless-stopped' });
    }
    const target = (name: 'staging' | 'prod', extra = '') => `  - name: ${name}
    default: ${name === 'prod'}
    baseUrl: http://127.0.0.1:${ports[name]}
    image: ${repository}
    docker: { host: "${process.env.DOCKER_HOST}", container: ${names[name]}, stopTimeout: 5 }
    postflight: { readyTimeout: 30, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }
${extra}`;
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
${target('prod', `    promotion: { from: staging, soak: ${SOAK_SECONDS}s }\n`)}${target('staging')}`,
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await github?.close();
    for (const name of Object.values(names)) {
      const all = await engine.listContainers({ all: true, filters: { name: [name] } });
      await removeContainers(engine, all.map((c) => c.Names[0]!.replace(/^\//, '')));
      await removeVolumes(engine, [`${name}-data`]);
    }
  });

  it('refuses prod before staging ran the version, then starts a prod upgrade scheduled after the soak at its time', async () => {
    await waitUntilReady(`http://127.0.0.1:${ports.prod}`);
    const early = await flow().request(t.driver, 'upgrade 0.30.0 prod');
    await t.driver.clickAll(early, 'confirm', { user: APPROVER });
    const [{ id: earlyId, n }] = await rows(`SELECT id, jsonb_array_length(items) AS n FROM upgrades WHERE target = 'prod' AND status = 'confirming'`);
    await expect.poll(async () => (await rows(`SELECT count(*)::int AS n FROM confirmations WHERE upgrade_id = $1`, [earlyId]))[0].n).toBe(n);
    expect(blocksText(early)).toMatch(/never upgraded it there/);
    const pressed = await t.driver.click({ ...current(early), blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'start_upgrade', value: earlyId, text: { type: 'plain_text', text: 'Start' } }] }] } as never, 'start_upgrade', { user: APPROVER, stale: true });
    const refusal = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === pressed.responseUrl), 10_000);
    expect(refusal.payload.text).toMatch(/Start refused: `0\.30\.0` is not proven on `staging`: the bot never upgraded it there/);
    await t.driver.click(current(early), 'cancel_upgrade', { user: REQUESTER });
    await t.slack.waitFor(() => /Cancelled/.test(blocksText(early)));

    await waitUntilReady(`http://127.0.0.1:${ports.staging}`);
    const staging = await flow().request(t.driver, 'upgrade 0.30.0 staging');
    await flow().confirmAndStart(t.driver, staging);
    expect(await flow().finalState(staging)).toMatch(/succeeded/);
    expect(await image(names.staging)).toBe(`${repository}:0.30.0`);
    const [{ ready_at: readyAt }] = await rows(`SELECT ready_at FROM upgrades WHERE target = 'staging' AND to_version = '0.30.0'`);

    // Scheduled for just after the soak: Schedule is accepted now, the gate is checked again at the start.
    const at = new Date(Math.max(readyAt.getTime() + SOAK_SECONDS * 1000, Date.now()) + 3_000);
    const prod = await flow().request(t.driver, `upgrade 0.30.0 prod --at ${at.toISOString()}`, /planned, to start at/);
    await flow().confirmAndStart(t.driver, prod);
    await t.slack.waitFor(() => /Scheduled\*: starts at/.test(blocksText(prod)));
    expect(await image(names.prod)).toBe(`${repository}:0.28.0`);

    expect(await flow().finalState(prod, 120_000)).toMatch(/succeeded/);
    expect(await image(names.prod)).toBe(`${repository}:0.30.0`);
    const [row] = await rows(`SELECT scheduled_at, queued_at FROM upgrades WHERE target = 'prod' AND status = 'succeeded'`);
    expect(row.queued_at.getTime()).toBeGreaterThanOrEqual(row.scheduled_at.getTime());
    expect(flow().threadTexts(prod).filter((text) => /starts now/.test(text))).toHaveLength(1);

    const status = await t.driver.slashCommand('/checkstack', 'status prod', { user: REQUESTER, channel: CHANNEL });
    const statusText = (await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === status.responseUrl), 10_000)).payload.text ?? '';
    expect(statusText).toMatch(/`0\.30\.0`: `prod` (runs|post-flight running) .*, `staging` runs .* ✅/);
  }, 300_000);
});
