// The throwaway Checkstack of a restore drill on the real Docker engine: made from the image the backup was taken on,
// with the live container's settings but DATABASE_URL on the drill database, PORT on a free port, nothing published,
// labelled; removed whether it starts or not; leftovers of a crashed bot swept by label.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRILL_LABEL } from '../../src/targets/docker-drill.js';
import { createDockerDeployer } from '../../src/targets/docker.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeImages,
  removeVolumes,
  uniqueSuffix,
} from '../support/docker-images.js';

const docker = dockerFromEnv();
const BACKED_UP = '0.140.0';
const LIVE = '0.141.0';
const BROKEN = '0.139.0';

describe.skipIf(!docker)('the throwaway instance of a restore drill on the real Docker engine', () => {
  const engine = docker!;
  const registry = registryFromEnv();
  const repository = `checkstack-drill-${uniqueSuffix()}`;
  const logger = pino({ level: 'silent' });
  const images: string[] = [];
  const name = `ck-drill-live-${uniqueSuffix()}`;
  const target = `drill-${uniqueSuffix()}`;
  let livePort: number;

  beforeAll(async () => {
    for (const [version, behaviour] of [[BACKED_UP, 'ready'], [LIVE, 'ready'], [BROKEN, 'exit-on-start']] as const) {
      images.push(await buildFakeCheckstackImage(engine, { registry, repository, version, behaviour }));
    }
    livePort = await freePort();
    await createCheckstackContainer(engine, { name, image: `${registry}/${repository}:${LIVE}`, port: livePort, env: ['DATABASE_URL=postgres://checkstack:pw@127.0.0.1:5432/checkstack'] });
  }, 120_000);
  afterAll(async () => {
    const leftovers = await engine.listContainers({ all: true, filters: { label: [DRILL_LABEL] } });
    await removeContainers(engine, [name, ...leftovers.map((c) => c.Names[0]!.replace(/^\//, ''))]);
    await removeVolumes(engine, [`${name}-data`]);
    await removeImages(engine, images);
  });

  const deployer = () => createDockerDeployer({ docker: engine, target: { container: name, stopTimeoutSeconds: 5 }, logger });
  const drillContainers = async () => engine.listContainers({ all: true, filters: { label: [`${DRILL_LABEL}=${target}`] } });

  it('fails when the backed-up version does not start, and removes its container', async () => {
    const outcome = await deployer().startDrillInstance!({ target, version: BROKEN, database: 'checkstack_drill_0000beef', initTimeoutMs: 20_000, stayUpMs: 1_000 });
    expect(outcome.started).toBe(false);
    expect(outcome.reason).toMatch(/exited|did not log/);
    expect(await drillContainers()).toEqual([]);
  });

  it('starts the backed-up version on the drill database with the live settings, no published port, and removes it', async () => {
    const drill = deployer().startDrillInstance!({ target, version: BACKED_UP, database: 'checkstack_drill_1234abcd', initTimeoutMs: 20_000, stayUpMs: 2_000 });
    const seen = await pollUntil(async () => {
      const [c] = await drillContainers();
      return c ? engine.getContainer(c.Id).inspect() : undefined;
    });
    const outcome = await drill;

    expect(outcome).toEqual({ started: true });
    expect(seen.Name).toMatch(new RegExp(`^/${name}-drill-[0-9a-f]{8}$`));
    expect(seen.Config.Image).toBe(`${registry}/${repository}:${BACKED_UP}`);
    expect(seen.Config.Env).toContain('DATABASE_URL=postgres://checkstack:pw@127.0.0.1:5432/checkstack_drill_1234abcd');
    expect(seen.Config.Env).not.toContain(`PORT=${livePort}`);
    expect(seen.Config.Env.some((e) => /^PORT=\d+$/.test(e))).toBe(true);
    expect(seen.Config.Env.find((e) => e.startsWith('ENCRYPTION_MASTER_KEY='))).toBe((await engine.getContainer(name).inspect()).Config.Env.find((e) => e.startsWith('ENCRYPTION_MASTER_KEY=')));
    expect(seen.HostConfig.NetworkMode).toBe('host');
    expect(seen.HostConfig.PortBindings ?? {}).toEqual({});
    expect(seen.Mounts).toEqual([]);
    expect(seen.Config.Labels).toEqual(expect.objectContaining({ [DRILL_LABEL]: target }));
    expect(Object.keys(seen.Config.Labels).filter((l) => l.startsWith('com.docker.compose'))).toEqual([]);
    expect(await drillContainers()).toEqual([]);
    expect((await engine.getContainer(name).inspect()).State.Running).toBe(true);
  });

  it('a restarted bot removes the drill containers a crashed one left, and nothing else', async () => {
    const leftover = await engine.createContainer({ name: `${name}-drill-0badf00d`, Image: `${registry}/${repository}:${BACKED_UP}`, Labels: { [DRILL_LABEL]: target } });
    const other = await engine.createContainer({ name: `${name}-drill-othertgt`, Image: `${registry}/${repository}:${BACKED_UP}`, Labels: { [DRILL_LABEL]: `${target}-other` } });
    try {
      expect(await deployer().sweepDrillInstances!(target)).toEqual([`${name}-drill-0badf00d`]);
      expect(await drillContainers()).toEqual([]);
      expect((await other.inspect()).Name).toBe(`/${name}-drill-othertgt`);
    } finally {
      await leftover.remove({ force: true }).catch(() => undefined);
      await other.remove({ force: true });
    }
  });
});
