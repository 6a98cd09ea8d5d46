// Adopting a `:latest` install on the real engine: the running image's digest, from the Docker deployer, matched
// against the version tags in the test registry by the OCI registry client; then the same through Slack
// (`/checkstack status`, the Pin button, the refused upgrade), every Docker call through the allowlisting proxy.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeEphemeral } from '../fakes/fake-slack.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';
import { fixtureRelease } from '../support/fixtures.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';
import { createRegistryClient } from '../../src/registry/oci-registry.js';
import { createDockerDeployer } from '../../src/targets/docker.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  freePort,
  pushImage,
  registryFromEnv,
  removeContainers,
  removeImages,
  uniqueSuffix,
} from '../support/docker-images.js';

const docker = dockerFromEnv();

describe.skipIf(!docker)('adopting a floating tag on the real engine', () => {
  const engine = docker!;
  const registry = registryFromEnv();
  const repository = `checkstack-adopt-${uniqueSuffix()}`;
  const containers: string[] = [];
  const images: string[] = [];
  const client = createRegistryClient({ baseUrl: `http://${registry}`, maxRequests: 40 });

  beforeAll(async () => {
    for (const version of ['0.139.0', '0.140.0']) {
      images.push(await buildFakeCheckstackImage(engine, { registry, repository, version, behaviour: 'ready' }));
    }
    await engine.getImage(`${registry}/${repository}:0.140.0`).tag({ repo: `${registry}/${repository}`, tag: 'latest' });
    images.push(`${registry}/${repository}:latest`);
    await pushImage(engine, `${registry}/${repository}:latest`);
    images.push(await buildFakeCheckstackImage(engine, { registry, repository, version: 'edge', behaviour: 'ready' }));
  });

  afterAll(async () => {
    await removeContainers(engine, containers);
    await removeImages(engine, images);
  });

  async function runFrom(tag: string) {
    const name = `ck-adopt-${uniqueSuffix()}`;
    containers.push(name);
    const container = await createCheckstackContainer(engine, { name, image: `${registry}/${repository}:${tag}`, port: await freePort() });
    const deployer = createDockerDeployer({ docker: engine, target: { container: name, stopTimeoutSeconds: 5 }, logger: pino({ level: 'silent' }) });
    return { container, deployer };
  }

  it('refuses to guess when the running digest is no version tag', async () => {
    const { deployer } = await runFrom('edge');
    const digests = await deployer.runningImageDigests!();
    expect(digests.length).toBeGreaterThan(0);
    const result = await client.findVersionForDigests(`${registry}/${repository}`, digests);
    expect(result).toMatchObject({ kind: 'no_match', checkedTags: 2 });
  });

  it('names the version `latest` runs, and finding it leaves the container alone', async () => {
    const { container, deployer } = await runFrom('latest');
    const before = await deployer.describe();
    expect(before.tag).toBe('latest');
    const result = await client.findVersionForDigests(`${registry}/${repository}`, await deployer.runningImageDigests!());
    expect(result).toMatchObject({ kind: 'matched', version: '0.140.0' });
    expect((await deployer.describe()).id).toBe(container.id);
  });
});

describe.skipIf(!docker)('adopting `:latest` through Slack on the real engine', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker!;
  const registry = registryFromEnv();
  const repository = `checkstack-adopt-slack-${uniqueSuffix()}`;
  const image = `${registry}/${repository}`;
  const APPROVER = 'U0APPROVER1';
  const SECOND_APPROVER = 'U0APPROVER2';
  const VIEWER = 'U0VIEWER1';
  const CHANNEL = 'C0OPS';
  const latestName = `ck-adopt-latest-${uniqueSuffix()}`;
  const edgeName = `ck-adopt-edge-${uniqueSuffix()}`;
  const images: string[] = [];
  let dir: string;
  let github: FakeGithub;
  let t: TestBot;

  // An operator's compose file as Checkstack ships it: `:latest`.
  const composeFile = (tag: string) => `services:\n  checkstack:\n    image: ${image}:${tag}   # Checkstack's own compose file\n    ports: ["8080:3000"]\n`;
  const pinFile = (target: string) => join(dir, `${target}-compose.yml`);

  /** Types `/checkstack <text>` as `user` and returns the ephemeral answer (clickable). */
  async function command(text: string, user = APPROVER): Promise<FakeEphemeral> {
    const before = t.slack.ephemerals(user).length;
    await t.driver.slashCommand('/checkstack', text, { user, channel: CHANNEL });
    return t.slack.waitFor(() => t.slack.ephemerals(user).length > before && t.slack.ephemerals(user).at(-1), 60_000);
  }

  /** Clicks the Pin button of `message` as `user` and returns the ephemeral answer. */
  async function clickPin(message: FakeEphemeral, user: string): Promise<FakeEphemeral> {
    const before = t.slack.ephemerals(user).length;
    await t.driver.click(message, 'pin_version', { user, stale: true });
    return t.slack.waitFor(() => t.slack.ephemerals(user).length > before && t.slack.ephemerals(user).at(-1), 60_000);
  }

  const buttons = (message: FakeEphemeral) => JSON.stringify(message.blocks ?? []);

  /** The audit row of a user's Pin click (written just after the answer). */
  const pinAudit = (user: string) =>
    t.slack.waitFor(async () => {
      const { rows } = await t.bot.deps.pool.query<{ outcome: string; error_code: string | null; detail: Record<string, unknown> }>(
        `SELECT outcome, error_code, detail FROM audit_log WHERE user_id = $1 AND kind = 'action' AND action = 'pin_version' ORDER BY id DESC LIMIT 1`,
        [user],
      );
      return rows[0];
    }, 20_000);

  beforeAll(async () => {
    for (const version of ['0.139.0', '0.140.0']) {
      images.push(await buildFakeCheckstackImage(engine, { registry, repository, version, behaviour: 'ready' }));
    }
    await engine.getImage(`${image}:0.140.0`).tag({ repo: image, tag: 'latest' });
    images.push(`${image}:latest`);
    await pushImage(engine, `${image}:latest`);
    images.push(await buildFakeCheckstackImage(engine, { registry, repository, version: 'edge', behaviour: 'ready' }));
    // Built after `latest` was pushed: the registry's `latest` stays 0.140.0, as on a host that pulled it before 0.141.0.
    images.push(await buildFakeCheckstackImage(engine, { registry, repository, version: '0.141.0', behaviour: 'ready' }));

    dir = await mkdtemp(join(tmpdir(), 'ck-adopt-'));
    for (const target of ['prod', 'edgy', 'about']) await writeFile(pinFile(target), composeFile('latest'));
    github = await startFakeGithub({ releases: [fixtureRelease('0.141.0', 141), fixtureRelease('0.140.0', 140), fixtureRelease('0.139.0', 139)] });

    const latestPort = await freePort();
    await createCheckstackContainer(engine, { name: latestName, image: `${image}:latest`, port: latestPort });
    await createCheckstackContainer(engine, { name: edgeName, image: `${image}:edge`, port: await freePort() });
    // Nothing listens there: /api/about cannot answer, so the version must come from the digest.
    const silent = await freePort();
    const docker = (container: string) => `docker: { host: "${dockerProxy.host}", container: ${container}, stopTimeout: 5 }`;
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', CHECKSTACK_REGISTRY_URL: `http://${registry}` },
      configYaml: `approvers:
  users: [${APPROVER}, ${SECOND_APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:${silent}
    image: ${image}
    ${docker(latestName)}
    pin: { file: "${pinFile('prod')}" }
  - name: edgy
    baseUrl: http://127.0.0.1:${silent}
    image: ${image}
    ${docker(edgeName)}
    pin: { file: "${pinFile('edgy')}" }
  - name: about
    baseUrl: http://127.0.0.1:${latestPort}
    image: ${image}
    ${docker(latestName)}
    pin: { file: "${pinFile('about')}" }
    postflight: { readyTimeout: 30, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }
`,
    });
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await github?.close();
    await removeContainers(engine, [latestName, `${latestName}-pre-0.141.0`, edgeName]);
    await removeImages(engine, images);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses to guess when the running digest matches no version tag, in status and in an upgrade', async () => {
    const status = await command('status edgy');
    expect(status.text).toMatch(/runs `edge`, whose image digest matches none of the 3 version tag\(s\)/);
    expect(status.text).toMatch(/will not guess/);
    expect(buttons(status)).not.toContain('pin_version');

    const upgrade = await command('upgrade 0.141.0 edgy');
    expect(upgrade.text).toMatch(/`edgy` runs `edge`, whose image digest matches none[\s\S]*Nothing was planned or pinned/);
    expect(buttons(upgrade)).not.toContain('pin_version');
    expect(t.slack.messages(CHANNEL)).toEqual([]);
    expect(await readFile(pinFile('edgy'), 'utf8')).toBe(composeFile('latest'));
  });

  it("refuses a non-approver's Pin click and writes nothing", async () => {
    const status = await command('status prod', VIEWER);
    expect(buttons(status)).toContain('pin_version');

    const answer = await clickPin(status, VIEWER);

    expect(answer.text).toMatch(/Only approvers can pin/);
    expect(await readFile(pinFile('prod'), 'utf8')).toBe(composeFile('latest'));
    expect(await pinAudit(VIEWER)).toMatchObject({ outcome: 'refused', error_code: 'not_authorized' });
  });

  it('refuses to upgrade the unpinned `:latest`, explains why, and offers the Pin button', async () => {
    const answer = await command('upgrade 0.141.0 prod');

    expect(answer.text).toMatch(/`prod` runs `latest` = `0\.140\.0` \(digest matched\)[\s\S]*Pin it first: a rollback needs an exact tag/);
    expect(JSON.parse(buttons(answer))).toContainEqual(
      expect.objectContaining({ type: 'actions', elements: [expect.objectContaining({ action_id: 'pin_version', value: 'prod 0.140.0', text: expect.objectContaining({ text: 'Pin to 0.140.0' }) })] }),
    );
    expect(t.slack.messages(CHANNEL)).toEqual([]);
  });

  it('names the version behind `latest` by digest, and Pin writes the pin file without recreating the container', async () => {
    const before = await engine.getContainer(latestName).inspect();
    const status = await command('status prod');
    expect(status.text).toMatch(/\*prod\* runs `latest` = `0\.140\.0` \(digest matched\)/);

    const answer = await clickPin(status, APPROVER);

    expect(answer.text).toMatch(/Pinned `prod` to `0\.140\.0` \(was `latest`\) in `.*prod-compose\.yml`/);
    expect(await readFile(pinFile('prod'), 'utf8')).toBe(composeFile('0.140.0'));
    const after = await engine.getContainer(latestName).inspect();
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.Config.Image).toBe(`${image}:latest`);
    expect(await pinAudit(APPROVER)).toMatchObject({ outcome: 'ok', error_code: null, detail: expect.objectContaining({ target: 'prod', tag: 'latest', version: '0.140.0', record: { kind: 'file', path: pinFile('prod') } }) });
  });

  it('plans the upgrade of a pinned `:latest` from the pinned version', async () => {
    const answer = await command('upgrade 0.141.0 prod');

    expect(answer.text).toMatch(/Upgrade of `prod` from `0\.140\.0` to `0\.141\.0` planned/);
    await command('cancel prod');
  });

  it('takes the version from /api/about where the release answers it', async () => {
    const status = await command('status about');
    expect(status.text).toMatch(/\*about\* runs `latest` = `0\.140\.0` \(from \/api\/about\)/);
    expect(buttons(status)).toContain('about 0.140.0');
  });

  it('upgrades a pinned `:latest` as usual, keeping the exact tag to roll back to', async () => {
    const status = await command('status about');
    expect((await clickPin(status, APPROVER)).text).toMatch(/Pinned `about` to `0\.140\.0`/);
    const flow = upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: APPROVER, approver: SECOND_APPROVER });

    const message = await flow.request(t.driver, 'upgrade 0.141.0 about', /from `0\.140\.0` to `0\.141\.0` planned/);
    await flow.confirmAndStart(t.driver, message);

    expect(await flow.finalState(message)).toMatch(/succeeded/);
    expect((await engine.getContainer(latestName).inspect()).Config.Image).toBe(`${image}:0.141.0`);
    expect(await readFile(pinFile('about'), 'utf8')).toBe(composeFile('0.141.0'));
    const upgrade = await t.bot.deps.db.upgrades.lastFinishedUpgrade('about');
    expect(upgrade).toMatchObject({ fromVersion: '0.140.0', toVersion: '0.141.0', previousImage: `${image}:0.140.0` });
  });
});
