// Adopting a `:latest` install on the real engine: the running image's digest, from the Docker deployer, matched
// against the version tags in the test registry by the OCI registry client.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
