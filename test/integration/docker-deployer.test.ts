// The Docker deployer against the real engine and registry, with fake Checkstack images.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../../src/domain/fingerprint.js';
import { AppError } from '../../src/errors.js';
import type { LogLine, PullProgress } from '../../src/targets/deployer.js';
import { createDockerDeployer, type DockerTarget } from '../../src/targets/docker.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  fakeEncryptionKey,
  fakeImageDefaults,
  fetchWhenListening,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeImages,
  removeVolumes,
  uniqueSuffix,
} from '../support/docker-images.js';
import { dockerOptionsFromHost } from '../../src/targets/registry.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const docker = dockerFromEnv();
const OLD = '0.140.0';
const NEW = '0.141.0';
const BROKEN = '0.142.0';

describe.skipIf(!docker)('Docker deployer on the real engine', () => {
  // The deployer's Docker calls go through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker!;
  const registry = registryFromEnv();
  const repository = `checkstack-deployer-${uniqueSuffix()}`;
  const logger = pino({ level: 'silent' });
  const containers: string[] = [];
  const volumes: string[] = [];
  const images: string[] = [];
  const hostDir = mkdtempSync(join(tmpdir(), 'ck-deployer-'));
  const ref = (version: string) => `${registry}/${repository}:${version}`;

  beforeAll(async () => {
    for (const [version, behaviour] of [[OLD, 'ready'], [NEW, 'ready'], [BROKEN, 'exit-on-start']] as const) {
      images.push(await buildFakeCheckstackImage(engine, { registry, repository, version, behaviour }));
    }
    writeFileSync(join(hostDir, 'config.yml'), 'operator: file\n');
  });

  afterAll(async () => {
    const names = containers.flatMap((name) => [name, `${name}-pre-${NEW}`, `${name}-rolledback-${NEW}`, `${name}-pre-${OLD}`]);
    await removeContainers(engine, names);
    await removeVolumes(engine, volumes);
    await removeImages(engine, images);
    rmSync(hostDir, { recursive: true, force: true });
  });

  function deployerFor(target: DockerTarget) {
    return createDockerDeployer({
      docker: new Dockerode(dockerOptionsFromHost(dockerProxy.host)),
      target: { stopTimeoutSeconds: 5, ...target },
      logger,
      startupGraceMs: 1_500,
    });
  }

  /** An operator's container on the old version, answering HTTP. */
  async function runOld(options: { key?: string; compose?: { project: string; service: string } } = {}) {
    const name = `ck-deployer-${uniqueSuffix()}`;
    const port = await freePort();
    const key = options.key ?? fakeEncryptionKey();
    containers.push(name);
    volumes.push(`${name}-data`);
    await createCheckstackContainer(engine, {
      name,
      image: ref(OLD),
      port,
      env: ['LOG_LEVEL=debug', `ENCRYPTION_MASTER_KEY=${key}`, 'CHECKSTACK_BASE_URL=http://127.0.0.1'],
      labels: { 'acme.team': 'platform' },
      binds: [`${hostDir}:/etc/checkstack:ro`],
      ...(options.compose ? { compose: options.compose } : {}),
    });
    await fetchWhenListening(`http://127.0.0.1:${port}/api/about`);
    const before = await engine.getContainer(name).inspect();
    return { name, port, key, before };
  }

  async function about(port: number): Promise<{ releaseVersion: string }> {
    const res = await fetchWhenListening(`http://127.0.0.1:${port}/api/about`);
    return (await res.json()) as { releaseVersion: string };
  }

  async function inspectOrNull(name: string): Promise<Dockerode.ContainerInspectInfo | null> {
    return engine.getContainer(name).inspect().catch(() => null);
  }

  describe('pull', () => {
    it('pulls an image and reports layers and bytes', async () => {
      await removeImages(engine, [ref(NEW)]);
      const progress: PullProgress[] = [];

      await deployerFor({ container: 'unused' }).pull(ref(NEW), (p) => progress.push(p));

      const last = progress.at(-1)!;
      expect(last.layersTotal).toBeGreaterThan(0);
      expect(last.layersDone).toBe(last.layersTotal);
      expect(last.bytesTotal).toBeGreaterThan(0);
      expect(last.bytesCurrent).toBe(last.bytesTotal);
      expect(progress.some((p) => p.status === 'Downloading')).toBe(true);
      await expect(engine.getImage(ref(NEW)).inspect()).resolves.toBeTruthy();
    });

    it('fails with image_pull_failed for a tag the registry does not have', async () => {
      const error = await deployerFor({ container: 'unused' }).pull(ref('9.9.9')).catch((err: unknown) => err);

      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'image_pull_failed', details: { statusCode: 404 } });
      expect((error as AppError).message).toMatch(/not found/);
    });

    it('fails with image_pull_failed when the registry is unreachable', async () => {
      const port = await freePort(); // nothing listens there
      const error = await deployerFor({ container: 'unused' })
        .pull(`127.0.0.1:${port}/${repository}:${OLD}`)
        .catch((err: unknown) => err);

      expect(error).toMatchObject({ code: 'image_pull_failed', details: { statusCode: 500 } });
      expect((error as AppError).message).toMatch(/connection refused/);
    });

    it('fails with image_pull_failed when the error arrives inside a 200 progress stream', async () => {
      // The manifest is there but its layer is gone: the engine answers 200, then streams {"error": "unknown blob"}.
      const version = `0.0.1-broken.${uniqueSuffix()}`;
      const broken = await buildFakeCheckstackImage(engine, { registry, repository, version, behaviour: 'ready' });
      await removeImages(engine, [broken]);
      const manifest = (await (
        await fetch(`http://${registry}/v2/${repository}/manifests/${version}`, {
          headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
        })
      ).json()) as { layers: Array<{ digest: string }> };
      for (const layer of manifest.layers) {
        await fetch(`http://${registry}/v2/${repository}/blobs/${layer.digest}`, { method: 'DELETE' });
      }

      const error = await deployerFor({ container: 'unused' }).pull(broken).catch((err: unknown) => err);

      expect(error).toMatchObject({ code: 'image_pull_failed', details: { reason: 'unknown blob' } });
    });
  });

  describe('describe and state', () => {
    it('finds the container by Compose labels and fingerprints its key', async () => {
      const compose = { project: `proj${uniqueSuffix()}`, service: 'checkstack' };
      const old = await runOld({ compose });

      const instance = await deployerFor({ composeProject: compose.project, composeService: compose.service }).describe();

      expect(instance).toMatchObject({
        id: old.before.Id,
        name: old.name,
        image: ref(OLD),
        tag: OLD,
        running: true,
        restartCount: 0,
        encryptionKeyFingerprint: fingerprintSecret(old.key),
      });
      expect(JSON.stringify(instance)).not.toContain(old.key);
    });

    it('says not_found for a container that does not exist', async () => {
      await expect(deployerFor({ container: `ck-missing-${uniqueSuffix()}` }).describe()).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    it('reports the runtime state', async () => {
      const old = await runOld();

      const state = await deployerFor({ container: old.name }).state();

      expect(state).toMatchObject({ running: true, restarting: false, restartCount: 0, exitCode: null, oomKilled: false });
    });
  });

  describe('replace', () => {
    it('runs the new tag with the operator settings kept and the new image defaults, keeping the old container', async () => {
      const old = await runOld();
      const deployer = deployerFor({ container: old.name });
      const steps: string[] = [];

      const result = await deployer.replace(
        { image: ref(NEW), version: NEW, expectedEncryptionKeyFingerprint: fingerprintSecret(old.key) },
        (step) => steps.push(step),
      );

      const now = await engine.getContainer(old.name).inspect();
      const kept = await engine.getContainer(`${old.name}-pre-${NEW}`).inspect();
      expect(steps).toEqual(['stopped', 'renamed', 'created', 'started']);
      expect(result).toMatchObject({ alreadyDone: false, keptAs: `${old.name}-pre-${NEW}`, previousImage: ref(OLD) });
      expect(result.instance).toMatchObject({ name: old.name, tag: NEW, running: true });
      expect(now.Config.Image).toBe(ref(NEW));
      expect(now.Config.Cmd).toEqual(fakeImageDefaults(NEW).cmd);
      expect(now.Config.WorkingDir).toBe(fakeImageDefaults(NEW).workingDir);
      expect(now.Config.Env).toEqual(
        expect.arrayContaining([
          `CHECKSTACK_BUILD=${NEW}`,
          'LOG_LEVEL=debug',
          `ENCRYPTION_MASTER_KEY=${old.key}`,
          `PORT=${old.port}`,
          'CHECKSTACK_BASE_URL=http://127.0.0.1',
        ]),
      );
      expect(now.Config.Env).not.toContain(`CHECKSTACK_BUILD=${OLD}`);
      expect(now.Config.Labels).toMatchObject({
        'com.docker.compose.project': old.before.Config.Labels['com.docker.compose.project'],
        'com.docker.compose.service': 'checkstack',
        'acme.team': 'platform',
        'org.opencontainers.image.version': NEW,
      });
      expect(now.HostConfig.Binds).toEqual([`${hostDir}:/etc/checkstack:ro`]);
      expect(now.Mounts.map((m) => [m.Type, m.Name ?? m.Source, m.Destination]).sort()).toEqual(
        old.before.Mounts.map((m) => [m.Type, m.Name ?? m.Source, m.Destination]).sort(),
      );
      expect(now.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(now.HostConfig.Memory).toBe(old.before.HostConfig.Memory);
      expect(kept.Id).toBe(old.before.Id);
      expect(kept.State.Running).toBe(false);
      expect(kept.HostConfig.RestartPolicy?.Name).toBe('no');
      expect(await about(old.port)).toMatchObject({ releaseVersion: NEW });
    });

    it('keeps user-defined networks and aliases, without the old container id alias', async () => {
      const name = `ck-deployer-${uniqueSuffix()}`;
      const [front, back] = [`ck-front-${uniqueSuffix()}`, `ck-back-${uniqueSuffix()}`];
      containers.push(name);
      await engine.createNetwork({ Name: front });
      await engine.createNetwork({ Name: back });
      try {
        const created = await engine.createContainer({
          name,
          Image: ref(OLD),
          Env: ['PORT=3000', `ENCRYPTION_MASTER_KEY=${fakeEncryptionKey()}`],
          HostConfig: { NetworkMode: front, RestartPolicy: { Name: 'unless-stopped' } },
          NetworkingConfig: { EndpointsConfig: { [front]: { Aliases: ['checkstack'] } } },
        });
        await engine.getNetwork(back).connect({ Container: created.id, EndpointConfig: { Aliases: ['checkstack-api'] } });
        await created.start();
        const before = await created.inspect();
        expect(before.NetworkSettings.Networks[front]?.Aliases).toContain(before.Id.slice(0, 12));

        await deployerFor({ container: name }).replace({ image: ref(NEW), version: NEW });

        const now = await engine.getContainer(name).inspect();
        expect(now.HostConfig.NetworkMode).toBe(front);
        expect(Object.keys(now.NetworkSettings.Networks).sort()).toEqual([back, front].sort());
        expect(now.NetworkSettings.Networks[front]?.Aliases).toContain('checkstack');
        expect(now.NetworkSettings.Networks[back]?.Aliases).toContain('checkstack-api');
        expect(JSON.stringify(now.NetworkSettings.Networks)).not.toContain(before.Id.slice(0, 12));
        expect(now.Config.Hostname).not.toBe(before.Config.Hostname);
      } finally {
        await removeContainers(engine, [name, `${name}-pre-${NEW}`]);
        await engine.getNetwork(front).remove().catch(() => undefined);
        await engine.getNetwork(back).remove().catch(() => undefined);
      }
    });

    it('changes nothing when run again after it finished', async () => {
      const old = await runOld();
      const deployer = deployerFor({ container: old.name });
      const first = await deployer.replace({ image: ref(NEW), version: NEW });

      const second = await deployer.replace({ image: ref(NEW), version: NEW });

      expect(second.alreadyDone).toBe(true);
      expect(second.instance.id).toBe(first.instance.id);
      expect(second.keptAs).toBe(`${old.name}-pre-${NEW}`);
    });

    it('finishes a replace that crashed after the old container was renamed aside', async () => {
      const old = await runOld();
      await engine.getContainer(old.name).stop({ t: 5 });
      await engine.getContainer(old.name).rename({ name: `${old.name}-pre-${NEW}` });

      const result = await deployerFor({ container: old.name }).replace({ image: ref(NEW), version: NEW });

      expect(result).toMatchObject({ alreadyDone: false, instance: { name: old.name, tag: NEW, running: true } });
      expect((await engine.getContainer(old.name).inspect()).Config.Env).toContain(`ENCRYPTION_MASTER_KEY=${old.key}`);
      expect(await about(old.port)).toMatchObject({ releaseVersion: NEW });
    });

    it('starts a replacement that a crashed run created but did not start', async () => {
      const old = await runOld();
      const deployer = deployerFor({ container: old.name });
      await deployer.replace({ image: ref(NEW), version: NEW });
      await engine.getContainer(old.name).stop({ t: 5 });

      const result = await deployer.replace({ image: ref(NEW), version: NEW });

      expect(result).toMatchObject({ alreadyDone: false, instance: { running: true, tag: NEW } });
    });

    it('brings the old container back under its name when the new one exits on start, and says why', async () => {
      const old = await runOld();

      const error = await deployerFor({ container: old.name })
        .replace({ image: ref(BROKEN), version: BROKEN })
        .catch((err: unknown) => err);

      expect(error).toMatchObject({ code: 'recreate_failed', details: { restored: true } });
      expect((error as AppError).message).toMatch(/exit code 3/);
      expect((error as AppError).message).toMatch(/refuses to start/);
      expect((error as AppError).message).not.toContain(old.key);
      const now = await engine.getContainer(old.name).inspect();
      expect(now.Id).toBe(old.before.Id);
      expect(now.State.Running).toBe(true);
      expect(now.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(await inspectOrNull(`${old.name}-pre-${BROKEN}`)).toBeNull();
      const leftovers = await engine.listContainers({ all: true, filters: { ancestor: [ref(BROKEN)] } });
      expect(leftovers).toEqual([]);
      expect(await about(old.port)).toMatchObject({ releaseVersion: OLD });
    });

    it('restores the old container with its restart policy when a crashed run left a replacement that cannot start', async () => {
      const old = await runOld();
      const keptName = `${old.name}-pre-${BROKEN}`;
      await engine.getContainer(old.name).stop({ t: 5 });
      await engine.getContainer(old.name).rename({ name: keptName });
      await engine.getContainer(keptName).update({ RestartPolicy: { Name: 'no' } });
      await createCheckstackContainer(engine, { name: old.name, image: ref(BROKEN), port: old.port, start: false });

      const error = await deployerFor({ container: old.name })
        .replace({ image: ref(BROKEN), version: BROKEN })
        .catch((err: unknown) => err);

      expect(error).toMatchObject({ code: 'recreate_failed', details: { restored: true } });
      const now = await engine.getContainer(old.name).inspect();
      expect(now.Id).toBe(old.before.Id);
      expect(now.State.Running).toBe(true);
      expect(now.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(await inspectOrNull(keptName)).toBeNull();
    });

    it('stops nothing when the encryption key fingerprint differs from the pre-flight', async () => {
      const old = await runOld();

      const error = await deployerFor({ container: old.name })
        .replace({ image: ref(NEW), version: NEW, expectedEncryptionKeyFingerprint: fingerprintSecret('another key') })
        .catch((err: unknown) => err);

      expect(error).toMatchObject({ code: 'fingerprint_mismatch' });
      const now = await engine.getContainer(old.name).inspect();
      expect(now.State.Running).toBe(true);
      expect(now.State.StartedAt).toBe(old.before.State.StartedAt);
      expect(await inspectOrNull(`${old.name}-pre-${NEW}`)).toBeNull();
    });
  });

  describe('rollback and retention', () => {
    it('starts the kept container again under the original name (fast path), idempotently', async () => {
      const old = await runOld();
      const deployer = deployerFor({ container: old.name });
      const replaced = await deployer.replace({ image: ref(NEW), version: NEW });

      const result = await deployer.rollback({ fromVersion: NEW, previousImage: ref(OLD) });
      const again = await deployer.rollback({ fromVersion: NEW, previousImage: ref(OLD) });

      expect(result).toMatchObject({ method: 'kept', alreadyDone: false, instance: { id: old.before.Id, name: old.name } });
      expect(again).toMatchObject({ alreadyDone: true, instance: { id: old.before.Id } });
      const aside = await engine.getContainer(`${old.name}-rolledback-${NEW}`).inspect();
      expect(aside.Id).toBe(replaced.instance.id);
      expect(aside.State.Running).toBe(false);
      expect((await engine.getContainer(old.name).inspect()).HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(await about(old.port)).toMatchObject({ releaseVersion: OLD });
    });

    it('recreates from the previous image when the kept container is gone', async () => {
      const old = await runOld();
      const deployer = deployerFor({ container: old.name });
      await deployer.replace({ image: ref(NEW), version: NEW });
      await deployer.removeKept(NEW);

      const result = await deployer.rollback({ fromVersion: NEW, previousImage: ref(OLD) });

      expect(result).toMatchObject({ method: 'recreated', instance: { name: old.name, tag: OLD, running: true } });
      expect((await engine.getContainer(old.name).inspect()).Config.Cmd).toEqual(fakeImageDefaults(OLD).cmd);
      expect(await about(old.port)).toMatchObject({ releaseVersion: OLD });
    });

    it('removes the kept containers but not the volumes the running one uses', async () => {
      const old = await runOld();
      const deployer = deployerFor({ container: old.name });
      await deployer.replace({ image: ref(NEW), version: NEW });

      const removed = await deployer.removeKept(NEW);
      const removedAgain = await deployer.removeKept(NEW);

      expect([removed, removedAgain]).toEqual([true, false]);
      expect(await inspectOrNull(`${old.name}-pre-${NEW}`)).toBeNull();
      await expect(engine.getVolume(`${old.name}-data`).inspect()).resolves.toBeTruthy();
      expect((await engine.getContainer(old.name).inspect()).State.Running).toBe(true);
    });
  });

  describe('logs', () => {
    it('follows stdout and stderr lines with timestamps until aborted', async () => {
      const since = new Date(Date.now() - 60_000);
      const old = await runOld();
      const lines: LogLine[] = [];
      const controller = new AbortController();

      const following = deployerFor({ container: old.name }).followLogs(since, (line) => lines.push(line), controller.signal);
      await pollUntil(async () => (lines.some((l) => l.text === 'Checkstack Core initialized') ? true : undefined));
      controller.abort();
      await following;

      expect(lines).toContainEqual(
        expect.objectContaining({ stream: 'stdout', text: 'Checkstack Core initialized', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }),
      );
      expect(lines).toContainEqual(expect.objectContaining({ stream: 'stderr', text: 'warning: this is a fake Checkstack' }));
    });
  });
});
