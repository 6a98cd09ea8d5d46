// The fake Checkstack images the Docker tests rely on: built, pushed, run on the real engine (CI always has one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
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

const docker = dockerFromEnv();

describe.skipIf(!docker)('fake Checkstack images on the real Docker engine', () => {
  const engine = docker!;
  const registry = registryFromEnv();
  const repository = `checkstack-harness-${uniqueSuffix()}`;
  const containers: string[] = [];
  const images: string[] = [];
  let oldRef = '';
  let newRef = '';

  beforeAll(async () => {
    oldRef = await buildFakeCheckstackImage(engine, { registry, repository, version: '0.140.0', behaviour: 'ready' });
    newRef = await buildFakeCheckstackImage(engine, { registry, repository, version: '0.141.0', behaviour: 'ready' });
    images.push(oldRef, newRef);
  });

  afterAll(async () => {
    await removeContainers(engine, containers);
    await removeVolumes(engine, containers.map((name) => `${name}-data`));
    await removeImages(engine, images);
  });

  it('pushes both versions to the local registry', async () => {
    const tags = (await (await fetch(`http://${registry}/v2/${repository}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual(['0.140.0', '0.141.0']);
  });

  it('gives each version its own CMD, env default, working dir and labels', async () => {
    const [older, newer] = await Promise.all([engine.getImage(oldRef).inspect(), engine.getImage(newRef).inspect()]);
    expect(older.Config.Cmd).toEqual(fakeImageDefaults('0.140.0').cmd);
    expect(newer.Config.Cmd).toEqual(['serve', '--release=0.141.0']);
    expect(newer.Config.Env).toContain('CHECKSTACK_BUILD=0.141.0');
    expect(newer.Config.WorkingDir).toBe('/srv/checkstack-0.141.0');
    expect(newer.Config.Labels['org.opencontainers.image.version']).toBe('0.141.0');
  });

  it('runs one on the host network and answers like Checkstack', async () => {
    const name = `ck-harness-${uniqueSuffix()}`;
    const port = await freePort();
    containers.push(name);
    await createCheckstackContainer(engine, { name, image: oldRef, port });

    const ready = await fetchWhenListening(`http://127.0.0.1:${port}/.checkstack/ready`);
    const about = await fetch(`http://127.0.0.1:${port}/api/about`);
    const page = await fetch(`http://127.0.0.1:${port}/`);

    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: [expect.objectContaining({ critical: true, ok: true })] });
    expect(await about.json()).toMatchObject({ releaseVersion: '0.140.0', coreVersion: '0.27.0', plugins: expect.any(Array) });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>Checkstack</title>');
  });

  it('answers 503 with Retry-After until a slow-ready instance is ready', async () => {
    const name = `ck-harness-${uniqueSuffix()}`;
    const port = await freePort();
    const ref = await buildFakeCheckstackImage(engine, {
      registry, repository, version: '0.141.1', behaviour: 'slow-ready', readyAfterSeconds: 3, push: false,
    });
    images.push(ref);
    containers.push(name);
    await createCheckstackContainer(engine, { name, image: ref, port });

    const booting = await fetchWhenListening(`http://127.0.0.1:${port}/.checkstack/ready`);
    expect(booting.status).toBe(503);
    expect(booting.headers.get('retry-after')).toBe('1');
    expect(await booting.json()).toEqual({ ready: false, reason: 'initializing', checks: [] });

    const later = await pollUntil(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/.checkstack/ready`);
      return res.status === 200 ? res : undefined;
    });
    expect(await later.json()).toMatchObject({ ready: true });
  });

  it('never gets ready with never-ready, and exits at once with exit-on-start', async () => {
    const never = `ck-harness-${uniqueSuffix()}`;
    const crash = `ck-harness-${uniqueSuffix()}`;
    const port = await freePort();
    const neverRef = await buildFakeCheckstackImage(engine, {
      registry, repository, version: '0.141.2', behaviour: 'never-ready', push: false,
    });
    const crashRef = await buildFakeCheckstackImage(engine, {
      registry, repository, version: '0.141.3', behaviour: 'exit-on-start', push: false,
    });
    images.push(neverRef, crashRef);
    containers.push(never, crash);
    await createCheckstackContainer(engine, { name: never, image: neverRef, port });
    await createCheckstackContainer(engine, { name: crash, image: crashRef, port: await freePort(), restartPolicy: 'no' });

    const res = await fetchWhenListening(`http://127.0.0.1:${port}/.checkstack/ready`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const exited = await pollUntil(async () => {
      const info = await engine.getContainer(crash).inspect();
      return info.State.Running ? undefined : info.State;
    });
    expect(exited.ExitCode).not.toBe(0);
  });
});
