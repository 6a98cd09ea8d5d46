// The adoption service between a target on `latest`, the registry and the pin record: the refusals that the Docker
// suite cannot provoke cheaply (a registry that does not answer, a button whose version no longer runs, a target
// without a pin record). The deployer is a fixed instance; the registry and the pin file are real.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { createPinRecorder } from '../../src/pin/pin-recorder.js';
import { createGithubPinRecord } from '../../src/pin/pin-record-github.js';
import type { GithubPinRecord } from '../../src/pin/pin-record-github.js';
import { createRegistryClient } from '../../src/registry/oci-registry.js';
import { pinOfferOf } from '../../src/slack/adoption-words.js';
import { createTargetRegistry } from '../../src/targets/registry.js';
import { createAdoption } from '../../src/upgrades/adoption.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeOciRegistry, type FakeOciRegistry } from '../fakes/fake-oci-registry.js';
import { freePort } from '../support/docker-images.js';
import { staticDeployer } from '../support/static-deployer.js';
import { testConfig } from '../support/test-bot.js';

const NAME = 'enyineer/checkstack';
const IMAGE = `ghcr.io/${NAME}`;
const APPROVER = 'U0APPROVER1';
const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
/** These targets pin a mounted file: any GitHub call is a bug. */
const noGithub: GithubPinRecord = {
  commitTag: () => Promise.reject(new Error('no GitHub in this test')),
  openPullRequest: () => Promise.reject(new Error('no GitHub in this test')),
  pullRequestState: () => Promise.reject(new Error('no GitHub in this test')),
  revertTag: () => Promise.reject(new Error('no GitHub in this test')),
  closePullRequest: () => Promise.reject(new Error('no GitHub in this test')),
  pinsTag: () => Promise.reject(new Error('no GitHub in this test')),
};
const compose = (tag: string) => `services:\n  checkstack:\n    image: ${IMAGE}:${tag}\n`;

describe('adopting a floating tag', () => {
  let dir: string;
  let registry: FakeOciRegistry | null = null;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ck-adoption-'));
  });
  afterEach(async () => {
    await registry?.close();
    registry = null;
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(options: { registryUrl: string; tag?: string; digests?: string[]; pinFile?: boolean; github?: { fake: FakeGithub; mode: 'commit' | 'pull-request' } }) {
    const file = join(dir, 'compose.yml');
    await writeFile(file, compose('latest'));
    const silent = await freePort();
    const config = testConfig(
      { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret' },
      `approvers:\n  users: [${APPROVER}]\ntargets:\n  - name: prod\n    baseUrl: http://127.0.0.1:${silent}\n    image: ${IMAGE}\n    docker: { container: checkstack }\n${options.github ? `    pin: { github: { repo: enyineer/checkstack, path: deploy/compose.yml, branch: main, mode: ${options.github.mode} } }\n` : options.pinFile === false ? '' : `    pin: { file: "${file}" }\n`}`,
    );
    const pinned: string[] = [];
    const deployer = { ...staticDeployer({ tag: options.tag ?? 'latest' }), runningImageDigests: async () => options.digests ?? [d(2)] };
    const logger = pino({ level: 'silent' });
    const targets = createTargetRegistry(config.targets, { docker: () => deployer }, logger);
    const adoption = createAdoption({
      targets,
      registry: createRegistryClient({ baseUrl: options.registryUrl, maxRequests: 40 }),
      pins: createPinRecorder({
        github: options.github ? createGithubPinRecord({ octokit: new Octokit({ baseUrl: options.github.fake.url }), logger }) : noGithub,
        now: () => new Date(),
        sleep: async () => {},
      }),
      approvers: { approvers: async () => new Set([APPROVER]) },
      upgrades: { activeForTarget: async () => null },
      onPinned: (target) => pinned.push(target),
      logger,
      now: () => new Date(),
    });
    return { adoption, file, runtime: targets.resolve('prod'), pinned };
  }

  const refusal = (promise: Promise<unknown>) => promise.then(() => null, (err: unknown) => (isAppError(err) ? err : Promise.reject(err)));

  it('says the registry could not be asked, and refuses to plan or pin, when the registry does not answer', async () => {
    const { adoption, runtime, file } = await setup({ registryUrl: `http://127.0.0.1:${await freePort()}` });
    const current = { apiVersion: null, imageTag: 'latest', reachable: false };

    expect(await adoption.identifyRunning(runtime, current)).toMatchObject({ kind: 'registry_unavailable', tag: 'latest', detail: expect.stringMatching(/could not be reached/) });
    const upgrade = await refusal(adoption.currentForUpgrade(runtime, current));
    expect(upgrade?.code).toBe('registry_unavailable');
    expect(upgrade?.message).toMatch(/`prod` runs `latest`; the registry could not tell which version that is .*Nothing was planned or pinned/);
    const pin = await refusal(adoption.pin({ targetName: 'prod', version: '0.140.0', userId: APPROVER }));
    expect(pin?.code).toBe('registry_unavailable');
    expect(await readFile(file, 'utf8')).toBe(compose('latest'));
  });

  it('refuses a Pin click whose version no longer runs, and writes nothing', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: { '0.139.0': d(1), '0.140.0': d(2), latest: d(2) } });
    const { adoption, file, pinned } = await setup({ registryUrl: registry.url });

    const err = await refusal(adoption.pin({ targetName: 'prod', version: '0.139.0', userId: APPROVER }));

    expect(pinned).toEqual([]);
    expect(err?.code).toBe('stale_action');
    expect(err?.message).toMatch(/`prod` no longer runs `0\.139\.0`: it runs `latest` = `0\.140\.0` \(digest matched\)\. Nothing was pinned/);
    expect(await readFile(file, 'utf8')).toBe(compose('latest'));
  });

  it('refuses to pin a target without a pin record, naming what to add', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: { '0.140.0': d(2), latest: d(2) } });
    const { adoption } = await setup({ registryUrl: registry.url, pinFile: false });

    const err = await refusal(adoption.pin({ targetName: 'prod', version: '0.140.0', userId: APPROVER }));

    expect(err?.code).toBe('target_not_pinned');
    expect(err?.message).toMatch(/has no pin record \(`pin.file` or `pin.github`/);
  });

  it('refuses an upgrade until the pin record names the version, then plans from it', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: { '0.140.0': d(2), latest: d(2) } });
    const { adoption, runtime, pinned } = await setup({ registryUrl: registry.url });
    const current = { apiVersion: null, imageTag: 'latest', reachable: false };

    const before = await refusal(adoption.currentForUpgrade(runtime, current));
    expect(before?.code).toBe('target_not_pinned');
    expect(pinOfferOf(before)).toEqual({ target: 'prod', version: '0.140.0' });

    await adoption.pin({ targetName: 'prod', version: '0.140.0', userId: APPROVER });
    // The Home tab is told (src/main.ts refreshes it for recent viewers).
    expect(pinned).toEqual(['prod']);
    expect(await adoption.currentForUpgrade(runtime, current)).toEqual({ apiVersion: '0.140.0', imageTag: 'latest', reachable: false });
  });

  it('asks the registry once for a status typed again and again', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: { '0.139.0': d(1), '0.140.0': d(2), latest: d(2) } });
    const { adoption, runtime } = await setup({ registryUrl: registry.url });
    const current = { apiVersion: null, imageTag: 'latest', reachable: false };

    const first = await adoption.identifyRunning(runtime, current);
    const asked = registry.requests.length;
    const again = await adoption.identifyRunning(runtime, current);

    expect(again).toEqual(first);
    expect(first).toMatchObject({ kind: 'identified', version: '0.140.0', source: 'digest' });
    expect(asked).toBeGreaterThan(0);
    expect(registry.requests.length).toBe(asked);
  });

  it('leaves a target on an exact tag alone', async () => {
    const { adoption, runtime } = await setup({ registryUrl: 'http://127.0.0.1:9', tag: '0.140.0' });
    const current = { apiVersion: null, imageTag: '0.140.0', reachable: false };
    expect(await adoption.identifyRunning(runtime, current)).toBeNull();
    expect(await adoption.currentForUpgrade(runtime, current)).toBe(current);
  });

  describe('with the pin record in Git', () => {
    let github: FakeGithub | null = null;
    afterEach(async () => {
      await github?.close();
      github = null;
    });

    it('commits the exact tag in commit mode, and the upgrade then plans from it', async () => {
      registry = await startFakeOciRegistry({ name: NAME, tags: { '0.140.0': d(2), latest: d(2) } });
      github = await startFakeGithub({ files: { 'deploy/compose.yml': compose('latest') } });
      const { adoption, runtime } = await setup({ registryUrl: registry.url, github: { fake: github, mode: 'commit' } });

      const outcome = await adoption.pin({ targetName: 'prod', version: '0.140.0', userId: APPROVER });

      expect(outcome.record).toMatchObject({ kind: 'commit', repo: 'enyineer/checkstack', branch: 'main', commitSha: expect.stringMatching(/^[0-9a-f]{40}$/) });
      expect(github.files.get('main', 'deploy/compose.yml')?.content).toBe(compose('0.140.0'));
      expect(github.files.history('main')[0]!.message).toMatch(/^Pin Checkstack prod to 0\.140\.0\n\nprod runs ghcr\.io\/enyineer\/checkstack:latest, which is 0\.140\.0[\s\S]*U0APPROVER1/);
      expect(await adoption.currentForUpgrade(runtime, { apiVersion: null, imageTag: 'latest', reachable: true })).toMatchObject({ apiVersion: '0.140.0' });
    });

    it('opens a pull request in pull-request mode without waiting, and the pin holds once it is merged', async () => {
      registry = await startFakeOciRegistry({ name: NAME, tags: { '0.140.0': d(2), latest: d(2) } });
      github = await startFakeGithub({ files: { 'deploy/compose.yml': compose('latest') } });
      const { adoption, runtime } = await setup({ registryUrl: registry.url, github: { fake: github, mode: 'pull-request' } });
      const current = { apiVersion: null, imageTag: 'latest', reachable: true };

      const outcome = await adoption.pin({ targetName: 'prod', version: '0.140.0', userId: APPROVER });

      expect(outcome.record).toMatchObject({ kind: 'pull_request', number: 1 });
      expect((await refusal(adoption.currentForUpgrade(runtime, current)))?.code).toBe('target_not_pinned');
      github.mergePull(1);
      expect(await adoption.currentForUpgrade(runtime, current)).toMatchObject({ apiVersion: '0.140.0' });
    });
  });
});
