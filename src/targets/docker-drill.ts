// The throwaway Checkstack of a restore drill on Docker: a container `<container>-drill-<hex>` from the image the
// backup was taken on, with the live container's environment and network but `DATABASE_URL` pointing at the drill
// database, no published ports, no mounts (it must not touch the live instance's files), no restart policy, and a
// label that finds it again when a crashed bot left it behind.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type Dockerode from 'dockerode';
import type { ContainerCreateOptions, ContainerInspectInfo } from 'dockerode';
import { INITIALIZED_LOG_TEXT } from '../checkstack/wait-for-ready.js';
import type { Logger } from '../logger.js';
import { sleep } from '../util/sleep.js';
import { demuxLogBuffer } from './log-lines.js';

export const DRILL_LABEL = 'dev.checkstack-chatops.drill';
/** How long the throwaway instance must stay up after its init line (CONTRACT.md: 10 s). */
export const DRILL_STAY_UP_MS = 10_000;

export interface DrillInstanceRequest {
  target: string;
  /** The Checkstack version the backup was taken on: the tag of the image the throwaway instance runs. */
  version: string;
  /** The drill database's name; the live container's own DATABASE_URL is pointed at it. */
  database: string;
  /** How long to wait for `Checkstack Core initialized`. */
  initTimeoutMs: number;
  stayUpMs?: number;
  signal?: AbortSignal;
}

export interface DrillInstanceOutcome {
  started: boolean;
  reason?: string;
}

/** `repo:tag` of the live image with the backup's version as its tag. */
export function drillImage(liveImage: string, version: string): string {
  const at = liveImage.indexOf('@');
  const base = at >= 0 ? liveImage.slice(0, at) : liveImage;
  const colon = base.lastIndexOf(':');
  const repo = colon > base.lastIndexOf('/') ? base.slice(0, colon) : base;
  return `${repo}:${version}`;
}

/** The live container's DATABASE_URL (as the container reaches the server) with another database in its path. */
function pointedAt(env: readonly string[], database: string): string[] {
  return env.map((entry) => {
    if (!entry.startsWith('DATABASE_URL=')) return entry;
    try {
      const url = new URL(entry.slice('DATABASE_URL='.length));
      url.pathname = `/${encodeURIComponent(database)}`;
      return `DATABASE_URL=${url.toString()}`;
    } catch {
      return entry;
    }
  });
}

export async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function drillContainerConfig(live: ContainerInspectInfo, request: DrillInstanceRequest, port: number | null): ContainerCreateOptions {
  const hostNetwork = live.HostConfig.NetworkMode === 'host';
  const env = pointedAt(live.Config.Env ?? [], request.database).filter((e) => !(hostNetwork && e.startsWith('PORT=')));
  if (hostNetwork && port !== null) env.push(`PORT=${port}`);
  const mode = live.HostConfig.NetworkMode ?? 'default';
  const endpoint = live.NetworkSettings?.Networks?.[mode];
  return {
    Image: drillImage(live.Config.Image, request.version),
    Env: env,
    User: live.Config.User || undefined,
    Labels: { [DRILL_LABEL]: request.target },
    HostConfig: {
      NetworkMode: mode,
      RestartPolicy: { Name: 'no' },
      Memory: live.HostConfig.Memory || undefined,
      ExtraHosts: live.HostConfig.ExtraHosts ?? undefined,
      Dns: live.HostConfig.Dns ?? undefined,
    },
    NetworkingConfig: endpoint && !hostNetwork && mode !== 'default' && mode !== 'bridge' ? { EndpointsConfig: { [mode]: { Aliases: [] } } } : undefined,
  };
}

/**
 * Starts the throwaway instance, waits for its init line, keeps watching it for `stayUpMs`, asks `/.checkstack/ready`
 * where it can (host network; 404 means a release without the endpoint), and removes it in every case.
 * `ensureImage` pulls the image when the host lacks it.
 */
export async function runDrillInstance(
  docker: Dockerode,
  live: ContainerInspectInfo,
  request: DrillInstanceRequest,
  deps: { logger: Logger; ensureImage(image: string): Promise<void>; fetch?: typeof fetch },
): Promise<DrillInstanceOutcome> {
  const liveName = live.Name.replace(/^\//, '');
  const name = `${liveName}-drill-${randomBytes(4).toString('hex')}`;
  const port = live.HostConfig.NetworkMode === 'host' ? await freeLocalPort() : null;
  const config = drillContainerConfig(live, request, port);
  await deps.ensureImage(config.Image!);
  const container = await docker.createContainer({ ...config, name });
  deps.logger.info({ target: request.target, container: name, image: config.Image }, 'drill instance created');
  try {
    await container.start();
    const initDeadline = Date.now() + request.initTimeoutMs;
    for (;;) {
      if (request.signal?.aborted) return { started: false, reason: 'the drill was interrupted' };
      const info = await container.inspect();
      const logs = demuxLogBuffer(await container.logs({ stdout: true, stderr: true, follow: false }));
      if (logs.includes(INITIALIZED_LOG_TEXT)) break;
      if (!info.State.Running) return { started: false, reason: `the throwaway Checkstack on ${config.Image} exited (code ${info.State.ExitCode}) before logging "${INITIALIZED_LOG_TEXT}"` };
      if (Date.now() >= initDeadline) return { started: false, reason: `the throwaway Checkstack on ${config.Image} did not log "${INITIALIZED_LOG_TEXT}" within ${Math.round(request.initTimeoutMs / 1000)} s` };
      await sleep(250);
    }
    const upUntil = Date.now() + (request.stayUpMs ?? DRILL_STAY_UP_MS);
    while (Date.now() < upUntil) {
      const info = await container.inspect();
      if (!info.State.Running || info.RestartCount > 0) return { started: false, reason: `the throwaway Checkstack on ${config.Image} stopped (code ${info.State.ExitCode}) within ${Math.round((request.stayUpMs ?? DRILL_STAY_UP_MS) / 1000)} s of starting` };
      await sleep(Math.min(500, Math.max(0, upUntil - Date.now())));
    }
    if (port !== null) {
      const answer = await (deps.fetch ?? fetch)(`http://127.0.0.1:${port}/.checkstack/ready`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
      if (answer && answer.status !== 200 && answer.status !== 404) {
        return { started: false, reason: `the throwaway Checkstack answered /.checkstack/ready with ${answer.status}` };
      }
    }
    return { started: true };
  } finally {
    await container.remove({ force: true, v: true }).then(
      () => deps.logger.info({ target: request.target, container: name }, 'drill instance removed'),
      (err: unknown) => deps.logger.error({ target: request.target, container: name, err: { message: (err as Error).message } }, 'drill instance could not be removed; the next start sweeps it'),
    );
  }
}

/** Removes every container labelled as a drill of `target` (a bot killed mid-drill). Returns their names. */
export async function sweepDrillContainers(docker: Dockerode, target: string, logger: Logger): Promise<string[]> {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`${DRILL_LABEL}=${target}`] } });
  const removed: string[] = [];
  for (const info of leftovers) {
    const name = (info.Names[0] ?? info.Id).replace(/^\//, '');
    try {
      await docker.getContainer(info.Id).remove({ force: true, v: true });
      removed.push(name);
      logger.info({ target, container: name }, 'removed the container of an interrupted drill');
    } catch (err) {
      logger.warn({ target, container: name, err: { message: (err as Error).message } }, 'could not remove the container of an interrupted drill');
    }
  }
  return removed;
}
