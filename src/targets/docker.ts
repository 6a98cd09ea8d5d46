// The Deployer for a Checkstack container on a Docker Engine (plain `docker run` or Compose).
import type Dockerode from 'dockerode';
import type { ContainerCreateOptions, ContainerInspectInfo, ImageInspectInfo } from 'dockerode';
import type { Logger } from '../logger.js';
import { buildReplacementConfig } from '../domain/container-config.js';
import { encryptionKeyFingerprint, encryptionKeyFromEnv } from '../domain/fingerprint.js';
import { MASK, maskSecrets, SECRET_NAME } from '../secret-mask.js';
import { AppError, isAppError } from '../errors.js';
import type {
  DeployedInstance,
  Deployer,
  LogLine,
  PullProgress,
  ReplaceRequest,
  ReplaceResult,
  ReplaceStep,
  RollbackRequest,
  RollbackResult,
  RuntimeState,
} from './deployer.js';
import { runDrillInstance, sweepDrillContainers } from './docker-drill.js';
import { digestsOf, DOCKER_FACTS } from './deployer.js';
import { engineRetryDelayMs, engineUnreachableReason, followPull } from './docker-pull.js';
import { sleep as defaultSleep } from '../util/sleep.js';
import { rollbackUndoOutcome } from '../slack/deployer-words.js';
import { imageTag } from './image-ref.js';
import { demuxLogBuffer, timestampedLogLines, type LineSplitter } from './log-lines.js';

export interface DockerTarget {
  /** The container's name; or give `composeProject` and `composeService` to find it by Compose labels. */
  container?: string;
  composeProject?: string;
  composeService?: string;
  /** Seconds a stop waits for a graceful shutdown before the engine kills (default 30). */
  stopTimeoutSeconds?: number;
}

export interface DockerDeployerOptions {
  docker: Dockerode;
  target: DockerTarget;
  logger: Logger;
  /** Credentials sent with pulls (`X-Registry-Auth`); public images need none. */
  registryAuth?: Dockerode.AuthConfig;
  /** How long a started container must stay up before it counts as started (default 3000 ms). */
  startupGraceMs?: number;
  /**
   * How long, in all, a pull waits for an engine that stopped answering (dockerd restarting: socket gone,
   * connection reset) before it fails; it retries with a backoff meanwhile (default 60 000 ms).
   */
  engineRetryBudgetMs?: number;
  /** Waits `ms`; rejects early when `signal` aborts (default: a timer). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told every secret value the deployer reads (the container's ENCRYPTION_MASTER_KEY), so logs can redact it. */
  registerSecret?: (value: string) => void;
}

const COMPOSE_PROJECT = 'com.docker.compose.project';
const COMPOSE_SERVICE = 'com.docker.compose.service';
/** Names this deployer gives the containers it keeps aside; never mistaken for the target itself. */
const KEPT_NAME = /-(pre|rolledback)-[A-Za-z0-9_.-]+$/;
const LOG_TAIL_LINES = 5;

export function keptContainerName(name: string, version: string): string {
  return `${name}-pre-${safeNamePart(version)}`;
}

export function rolledBackContainerName(name: string, version: string): string {
  return `${name}-rolledback-${safeNamePart(version)}`;
}

export function createDockerDeployer(options: DockerDeployerOptions): Deployer {
  const { docker, target, logger } = options;
  const fingerprintAndRegister = (env: string[] | null | undefined): string | null => {
    const key = encryptionKeyFromEnv(env);
    if (key) options.registerSecret?.(key);
    return encryptionKeyFingerprint(env);
  };
  const stopTimeout = target.stopTimeoutSeconds ?? 30;
  const startupGraceMs = options.startupGraceMs ?? 3_000;
  const engineRetryBudgetMs = options.engineRetryBudgetMs ?? 60_000;
  const sleep = options.sleep ?? defaultSleep;
  const targetLabel = target.container ?? `${target.composeProject}/${target.composeService}`;
  const log = logger.child({ deployer: 'docker', target: targetLabel });

  if (!target.container && !(target.composeProject && target.composeService)) {
    throw new AppError(
      'config_invalid',
      'A Docker target needs `container`, or both `composeProject` and `composeService`.',
    );
  }

  return {
    ...DOCKER_FACTS,
    describe: async () => toInstance(await currentContainer()),
    pull,
    replace,
    rollback,
    removeKept,
    followLogs,
    state,
    startDrillInstance: async (request) =>
      runDrillInstance(docker, await currentContainer(), request, {
        logger: log,
        ensureImage: async (image) => {
          if (!(await inspectImage(image))) await pull(image);
        },
      }),
    sweepDrillInstances: (drillTarget) => sweepDrillContainers(docker, drillTarget, log),
    runningImageDigests: async () => {
      const info = await currentContainer();
      const image = await inspectImage(info.Image);
      return digestsOf(image?.RepoDigests ?? []);
    },
  };

  /**
   * A pull is idempotent, so one the engine broke off (dockerd restarting) is started again once the engine
   * answers, for up to `engineRetryBudgetMs` of waiting in all. What the engine or registry refused is not retried.
   */
  async function pull(image: string, onProgress?: (progress: PullProgress) => void, signal?: AbortSignal): Promise<void> {
    log.info({ image }, 'pulling image');
    let last: PullProgress = { layersTotal: 0, layersDone: 0, bytesCurrent: 0, bytesTotal: 0, status: '' };
    const report = (progress: PullProgress) => {
      last = progress;
      onProgress?.(progress);
    };
    let unreachableMs = 0;
    let outageStartedAt: number | null = null;
    let retry = 0;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const stream: NodeJS.ReadableStream = await docker.createImage(options.registryAuth ?? {}, { fromImage: image, abortSignal: signal });
        if (outageStartedAt !== null) {
          unreachableMs += Date.now() - outageStartedAt;
          outageStartedAt = null;
          retry = 0;
          log.info({ image, unreachableMs }, 'docker engine answers again, pull restarted');
        }
        await followPull(image, stream, report);
        break;
      } catch (err) {
        // A pull cut short by our own abort is no failure of the engine: the caller stops (the bot shuts down).
        if (signal?.aborted) throw err;
        const reason = engineUnreachableReason(err);
        if (reason === null) throw isAppError(err) ? err : pullError(image, err);
        outageStartedAt ??= Date.now();
        const waitedMs = unreachableMs + (Date.now() - outageStartedAt);
        const waitMs = Math.min(engineRetryDelayMs(retry), engineRetryBudgetMs - waitedMs);
        if (waitMs <= 0) throw engineUnreachable(image, reason, waitedMs, err);
        retry += 1;
        log.warn({ image, engine: engineAddress(docker), reason, retryInMs: waitMs, waitedMs }, 'docker engine unreachable during pull, retrying');
        report({ ...last, status: `Docker engine unreachable: ${reason}; retrying in ${formatSeconds(waitMs)}` });
        await sleep(waitMs, signal);
      }
    }
    log.info({ image }, 'image pulled');
  }

  async function replace(request: ReplaceRequest, onStep?: (step: ReplaceStep) => void): Promise<ReplaceResult> {
    const name = await baseName();
    const keptName = keptContainerName(name, request.version);
    const step = (value: ReplaceStep) => {
      log.info({ step: value, container: name, image: request.image }, 'replace step done');
      onStep?.(value);
    };

    const newImage = await inspectImage(request.image);
    if (!newImage) {
      throw new AppError('image_pull_failed', `Image \`${request.image}\` is not on the Docker host; pull it first.`, {
        image: request.image,
      });
    }
    const current = await inspectContainer(name);
    const kept = await inspectContainer(keptName);

    // A previous run got as far as creating the replacement: finish it, change nothing else.
    if (current && runsImage(current, request.image, newImage.Id)) {
      let alreadyDone = current.State.Running;
      if (!current.State.Running) {
        await engine('start the new container', () => startContainer(current.Id));
        const problem = await startupProblem(current.Id);
        if (problem) {
          if (!kept) {
            throw new AppError(
              'recreate_failed',
              `The container \`${name}\` on \`${request.image}\` did not start: ${problem}. No previous container is kept ` +
                `(\`${keptName}\` does not exist), so there is nothing to restore: roll back to an earlier version.`,
              { container: name, image: request.image, reason: problem, restored: false },
            );
          }
          // The kept container's own policy may be demoted already; the replacement carries the operator's.
          const restoreProblem = await restorePrevious(name, kept, current.Id, current.HostConfig.RestartPolicy);
          if (!restoreProblem) step('restored');
          throw recreateFailed(name, request, problem, restoreProblem);
        }
        step('started');
        alreadyDone = false;
      }
      if (kept) await demoteKept(kept);
      const now = await inspectContainer(current.Id);
      return {
        instance: toInstance(now ?? current),
        previousImage: kept?.Config.Image ?? current.Config.Image,
        keptAs: kept ? keptName : null,
        alreadyDone,
      };
    }

    if (current && kept) {
      throw new AppError(
        'deployer_error',
        `\`${name}\` does not run \`${request.image}\`, but \`${keptName}\` already exists from an earlier attempt; ` +
          `remove or rename \`${keptName}\` (after checking it is not needed), then retry.`,
        { container: name, kept: keptName },
      );
    }
    const previous = current ?? kept;
    if (!previous) throw notFound();

    const oldImage = await inspectImage(previous.Image);
    if (!oldImage) {
      throw new AppError('deployer_error', `The image of \`${name}\` (${previous.Image}) is no longer on the Docker host.`, {
        container: name,
      });
    }
    const config = buildReplacementConfig(previous, oldImage, newImage, request.image);

    // The key decides whether every stored secret stays readable: check it before anything stops.
    const previousFingerprint = encryptionKeyFingerprint(previous.Config.Env);
    const expected = request.expectedEncryptionKeyFingerprint;
    if (expected !== undefined && previousFingerprint !== expected) {
      throw new AppError(
        'fingerprint_mismatch',
        `The \`ENCRYPTION_MASTER_KEY\` of \`${name}\` changed since the pre-flight; nothing was stopped. Run the pre-flight again.`,
        { container: name },
      );
    }
    if (encryptionKeyFingerprint(config.Env) !== previousFingerprint) {
      throw new AppError(
        'fingerprint_mismatch',
        `The new container for \`${name}\` would get a different \`ENCRYPTION_MASTER_KEY\`; nothing was stopped.`,
        { container: name },
      );
    }

    let newId: string | null = null;
    try {
      if (current) {
        log.info({ container: name, timeoutSeconds: stopTimeout }, 'stopping the previous container');
        await stopContainer(current.Id);
        step('stopped');
        await renameContainer(current.Id, keptName);
        step('renamed');
      }
      const created = await createContainer(name, config);
      newId = created.id;
      step('created');
      await demoteKept(previous);
      await startContainer(created.id);
      const problem = await startupProblem(created.id);
      if (problem) throw new Error(problem);
      step('started');
    } catch (err) {
      const reason = err instanceof Error && !statusOf(err) ? err.message : engineReason(err);
      log.warn({ container: name, image: request.image, reason }, 'replacement failed, restoring the previous container');
      const restoreProblem = await restorePrevious(name, previous, newId, previous.HostConfig.RestartPolicy);
      if (!restoreProblem) step('restored');
      throw recreateFailed(name, request, reason, restoreProblem, keptName);
    }

    const now = await inspectContainer(name);
    if (!now) throw notFound();
    return { instance: toInstance(now), previousImage: previous.Config.Image, keptAs: keptName, alreadyDone: false };
  }

  async function rollback(request: RollbackRequest): Promise<RollbackResult> {
    const name = await baseName();
    const keptName = keptContainerName(name, request.fromVersion);
    const asideName = rolledBackContainerName(name, request.fromVersion);
    const current = await inspectContainer(name);
    const kept = await inspectContainer(keptName);
    const aside = await inspectContainer(asideName);

    if (!kept) {
      const previousImage = await inspectImage(request.previousImage);
      if (current?.State.Running && runsImage(current, request.previousImage, previousImage?.Id ?? null)) {
        return { instance: toInstance(current), method: aside ? 'kept' : 'recreated', alreadyDone: true };
      }
      const previousVersion = imageTag(request.previousImage);
      if (!previousVersion) {
        throw new AppError('invalid_input', `Cannot roll back to \`${request.previousImage}\`: it has no tag.`);
      }
      log.info({ container: name, image: request.previousImage }, 'no kept container, recreating from the previous image');
      // A stopped `<name>-pre-<previous>` left by an older upgrade to that same version would be taken for this
      // replace's own kept container (its crash-resume state): it is superseded, so it goes first.
      const stale = await inspectContainer(keptContainerName(name, previousVersion));
      if (stale && !stale.State.Running && stale.Id !== current?.Id) {
        log.warn({ container: stale.Name, image: stale.Config.Image }, 'removing a stale kept container from an older upgrade');
        await engine('remove a stale kept container', () => docker.getContainer(stale.Id).remove({ v: false }));
      }
      if (!previousImage) await pull(request.previousImage);
      if (request.beforeStart && current) {
        await stopContainer(current.Id);
        try {
          await request.beforeStart();
        } catch (err) {
          await engine('start the rolled-back container again', () => startContainer(current.Id));
          throw err;
        }
      }
      const result = await replace({ image: request.previousImage, version: previousVersion });
      return { instance: result.instance, method: 'recreated', alreadyDone: result.alreadyDone };
    }

    if (current && aside) {
      throw new AppError(
        'deployer_error',
        `Both \`${name}\` and \`${asideName}\` exist; remove or rename \`${asideName}\` by hand, then retry.`,
        { container: name, aside: asideName },
      );
    }
    // The restart policy the operator chose lives on the container that replaced the kept one.
    const policySource = current ?? aside;
    if (current) {
      await stopContainer(current.Id);
      await renameContainer(current.Id, asideName);
    }
    try {
      await renameContainer(kept.Id, name);
      if (policySource) await setRestartPolicy(kept.Id, policySource.HostConfig.RestartPolicy);
      await request.beforeStart?.();
      await engine('start the previous container', () => startContainer(kept.Id));
      const problem = await startupProblem(kept.Id);
      if (problem) throw new Error(problem);
    } catch (err) {
      const reason = err instanceof Error && !statusOf(err) ? err.message : engineReason(err);
      log.warn({ container: name, reason }, 'rollback failed, restarting the rolled-back version');
      const undoProblem = await undoRollback(name, keptName, kept, policySource);
      throw new AppError(
        'recreate_failed',
        `Rolling \`${name}\` back failed: ${reason}. ` +
          rollbackUndoOutcome(request.fromVersion, undoProblem),
        { container: name, reason, restored: undoProblem === null },
      );
    }
    if (policySource) await demoteKept(policySource);
    const now = await inspectContainer(kept.Id);
    return { instance: toInstance(now ?? kept), method: 'kept', alreadyDone: false };
  }

  async function removeKept(version: string): Promise<boolean> {
    const name = await baseName();
    let removed = false;
    for (const keptName of [keptContainerName(name, version), rolledBackContainerName(name, version)]) {
      const info = await inspectContainer(keptName);
      if (!info) continue;
      if (info.State.Running) {
        throw new AppError('deployer_error', `\`${keptName}\` is running; it is not removed. Stop it first if it is not needed.`, {
          container: keptName,
        });
      }
      // Volumes stay: the running container mounts the same ones.
      await engine(`remove \`${keptName}\``, () => docker.getContainer(info.Id).remove({ v: false }));
      log.info({ container: keptName }, 'kept container removed');
      removed = true;
    }
    return removed;
  }

  async function followLogs(since: Date, onLine: (line: LogLine) => void, signal: AbortSignal): Promise<void> {
    const info = await currentContainer();
    const sinceMs = since.getTime();
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.getContainer(info.Id).logs({
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: Math.floor(sinceMs / 1000),
        abortSignal: signal,
      });
    } catch (err) {
      if (signal.aborted) return;
      throw new AppError('deployer_error', `Docker could not follow the logs: ${engineReason(err)}`, {}, { cause: err });
    }
    const stdout = timestampedLogLines('stdout', sinceMs, onLine);
    const stderr = timestampedLogLines('stderr', sinceMs, onLine);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (info.Config.Tty) stream.on('data', (chunk: Buffer) => stdout.write(chunk));
      else docker.modem.demuxStream(stream, writeOnly(stdout), writeOnly(stderr));
      stream.once('end', () => {
        stdout.flush();
        stderr.flush();
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      stream.once('error', (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve();
        else reject(new AppError('deployer_error', `The log stream broke: ${err.message}`, {}, { cause: err }));
      });
    });
  }

  async function state(): Promise<RuntimeState> {
    const info = await currentContainer();
    return {
      running: info.State.Running,
      restarting: info.State.Restarting,
      restartCount: info.RestartCount,
      exitCode: info.State.Running ? null : info.State.ExitCode,
      oomKilled: info.State.OOMKilled,
      startedAt: info.State.StartedAt || null,
      finishedAt: info.State.FinishedAt && !info.State.FinishedAt.startsWith('0001-') ? info.State.FinishedAt : null,
      error: info.State.Error || null,
      health: info.State.Health?.Status ?? null,
    };
  }

  // Below: what those methods are made of.

  /** Wraps an engine call so every failure is a coded error naming what was being done. */
  async function engine<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isAppError(err)) throw err;
      throw new AppError('deployer_error', `Docker could not ${action}: ${engineReason(err)}`, {
        action,
        statusCode: statusOf(err),
      }, { cause: err });
    }
  }

  async function inspectContainer(nameOrId: string): Promise<ContainerInspectInfo | null> {
    return inspectOrNull(`container \`${nameOrId}\``, () => docker.getContainer(nameOrId).inspect());
  }

  async function inspectImage(ref: string): Promise<ImageInspectInfo | null> {
    return inspectOrNull(`image \`${ref}\``, () => docker.getImage(ref).inspect());
  }

  /** The Compose containers of the service, the kept-aside ones apart. */
  async function composeContainers(): Promise<{ current: Dockerode.ContainerInfo[]; kept: Dockerode.ContainerInfo[] }> {
    const list = await engine('list containers', () =>
      docker.listContainers({
        all: true,
        filters: { label: [`${COMPOSE_PROJECT}=${target.composeProject}`, `${COMPOSE_SERVICE}=${target.composeService}`] },
      }),
    );
    const nameOf = (info: Dockerode.ContainerInfo) => (info.Names[0] ?? '').replace(/^\//, '');
    return {
      current: list.filter((info) => !KEPT_NAME.test(nameOf(info))),
      kept: list.filter((info) => KEPT_NAME.test(nameOf(info))),
    };
  }

  /** The name the target's container has (or had, before a crashed replace renamed it aside). */
  async function baseName(): Promise<string> {
    if (target.container) return target.container;
    const { current, kept } = await composeContainers();
    const running = current.filter((info) => info.State === 'running');
    const chosen = running.length === 1 ? running[0] : current.length === 1 ? current[0] : undefined;
    if (chosen) return (chosen.Names[0] ?? '').replace(/^\//, '');
    if (current.length > 1) {
      throw new AppError(
        'deployer_error',
        `Compose service \`${targetLabel}\` has ${current.length} containers; name the container in the target instead.`,
      );
    }
    const keptName = kept[0]?.Names[0]?.replace(/^\//, '');
    if (keptName) return keptName.replace(KEPT_NAME, '');
    throw notFound();
  }

  function notFound(): AppError {
    return new AppError(
      'not_found',
      target.container
        ? `No container \`${target.container}\` on the Docker host: check the target's \`docker.container\`.`
        : `No container of Compose service \`${targetLabel}\` on the Docker host: check \`composeProject\` and \`composeService\`.`,
    );
  }

  async function currentContainer(): Promise<ContainerInspectInfo> {
    const info = await inspectContainer(await baseName());
    if (!info) throw notFound();
    return info;
  }

  function toInstance(info: ContainerInspectInfo): DeployedInstance {
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      tag: imageTag(info.Config.Image),
      imageId: info.Image,
      running: info.State.Running,
      restartCount: info.RestartCount,
      startedAt: info.State.StartedAt || null,
      encryptionKeyFingerprint: fingerprintAndRegister(info.Config.Env),
    };
  }

  function runsImage(info: ContainerInspectInfo, ref: string, imageId: string | null): boolean {
    return info.Config.Image === ref || (imageId !== null && info.Image === imageId);
  }

  async function stopContainer(id: string): Promise<void> {
    try {
      await docker.getContainer(id).stop({ t: stopTimeout });
    } catch (err) {
      if (statusOf(err) === 304) return; // already stopped
      throw new AppError('deployer_error', `Docker could not stop the container: ${engineReason(err)}`, {
        statusCode: statusOf(err),
      }, { cause: err });
    }
  }

  async function startContainer(id: string): Promise<void> {
    try {
      await docker.getContainer(id).start();
    } catch (err) {
      if (statusOf(err) === 304) return; // already started
      throw err;
    }
  }

  async function renameContainer(id: string, name: string): Promise<void> {
    await engine(`rename a container to \`${name}\``, () => docker.getContainer(id).rename({ name }));
  }

  async function setRestartPolicy(id: string, policy: Dockerode.HostRestartPolicy | undefined): Promise<void> {
    const wanted = policy?.Name ? policy : { Name: 'no' };
    await engine('update the restart policy', () =>
      docker.getContainer(id).update({ RestartPolicy: wanted }),
    );
  }

  /**
   * A kept container must not come back on its own (a daemon restart starts stopped `always` containers):
   * two Checkstacks on one database is worse than none. Its policy lives on in the container that replaced it.
   */
  async function demoteKept(info: ContainerInspectInfo): Promise<void> {
    const policy = info.HostConfig.RestartPolicy?.Name ?? '';
    if (policy === '' || policy === 'no') return;
    await setRestartPolicy(info.Id, { Name: 'no' });
  }

  /** Creates the container; networks beyond the first are connected before start (engines before API 1.44 take one). */
  async function createContainer(name: string, config: ContainerCreateOptions): Promise<Dockerode.Container> {
    const endpoints = { ...(config.NetworkingConfig?.EndpointsConfig ?? {}) };
    const mode = config.HostConfig?.NetworkMode ?? '';
    const primary = endpoints[mode];
    delete endpoints[mode];
    const createOptions: ContainerCreateOptions = {
      ...config,
      name,
      NetworkingConfig: primary ? { EndpointsConfig: { [mode]: primary } } : undefined,
    };
    const container = await docker.createContainer(createOptions);
    try {
      for (const [network, endpoint] of Object.entries(endpoints)) {
        await docker.getNetwork(network).connect({ Container: container.id, EndpointConfig: endpoint });
      }
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined); // it holds the name the restore needs
      throw err;
    }
    return container;
  }

  /** Why a just-started container is not up, or null when it stayed up through the grace period. */
  async function startupProblem(id: string): Promise<string | null> {
    const deadline = Date.now() + startupGraceMs;
    for (;;) {
      const info = await inspectContainer(id);
      if (!info) return 'the container disappeared';
      const state = info.State;
      if (!state.Running || state.Restarting || info.RestartCount > 0 || state.OOMKilled) {
        // A restart policy may have started it again already, which resets State.ExitCode: the die event keeps it.
        const exitCode = state.Running ? ((await firstExitCode(id, info.Created)) ?? state.ExitCode) : state.ExitCode;
        const exit = state.OOMKilled ? 'killed for lack of memory' : `exit code ${exitCode}`;
        const tail = await logTail(id);
        return `it stopped right after starting (${exit})${state.Error ? `: ${state.Error}` : ''}${tail ? `; last output: ${tail}` : ''}`;
      }
      if (Date.now() >= deadline) return null;
      await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    }
  }

  /** The exit code of the container's first exit since `created`, from the engine's event log. */
  async function firstExitCode(id: string, created: string): Promise<number | null> {
    try {
      const stream = await docker.getEvents({
        since: Math.floor(Date.parse(created) / 1000),
        until: Math.ceil(Date.now() / 1000),
        filters: { container: [id], event: ['die'] },
      });
      let text = '';
      for await (const chunk of stream as AsyncIterable<Buffer | string>) text += chunk.toString();
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        const code = Number((JSON.parse(line) as { Actor?: { Attributes?: { exitCode?: string } } }).Actor?.Attributes?.exitCode);
        if (Number.isInteger(code)) return code;
      }
      return null;
    } catch {
      return null;
    }
  }

  async function logTail(id: string): Promise<string> {
    try {
      const container = docker.getContainer(id);
      const info = await container.inspect();
      const raw = await container.logs({ stdout: true, stderr: true, tail: LOG_TAIL_LINES, follow: false });
      const text = info.Config.Tty ? raw.toString('utf8') : demuxLogBuffer(raw);
      // A restarting container repeats itself: each distinct line once, in the order it last appeared.
      const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
      const distinct = lines.filter((line, index) => lines.lastIndexOf(line) === index);
      // The tail reaches Slack, the database and the logs: a start script may print its environment or the key.
      return maskSecrets(withoutValues(distinct.slice(-LOG_TAIL_LINES).join(' | '), secretEnvValues(info.Config.Env))).slice(0, 500);
    } catch {
      return '';
    }
  }

  /**
   * Puts the previous container back under its name and starts it; returns what went wrong, or null.
   * `newId` is the replacement created for it, removed first; `policy` is the restart policy the operator chose.
   */
  async function restorePrevious(
    name: string,
    previous: ContainerInspectInfo,
    newId: string | null,
    policy: Dockerode.HostRestartPolicy | undefined,
  ): Promise<string | null> {
    try {
      if (newId) {
        await docker
          .getContainer(newId)
          .remove({ force: true })
          .catch((err: unknown) => {
            if (statusOf(err) !== 404) throw err;
          });
      }
      const now = await inspectContainer(previous.Id);
      if (!now) return `the previous container \`${previous.Name.replace(/^\//, '')}\` no longer exists`;
      if (now.Name.replace(/^\//, '') !== name) await renameContainer(previous.Id, name);
      if ((now.HostConfig.RestartPolicy?.Name ?? '') !== (policy?.Name ?? '')) await setRestartPolicy(previous.Id, policy);
      await startContainer(previous.Id);
      const after = await inspectContainer(previous.Id);
      if (!after?.State.Running) return `the previous container did not start again (exit code ${after?.State.ExitCode})`;
      return null;
    } catch (err) {
      return engineReason(err);
    }
  }

  function recreateFailed(
    name: string,
    request: ReplaceRequest,
    reason: string,
    restoreProblem: string | null,
    keptName = keptContainerName(name, request.version),
  ): AppError {
    const outcome = restoreProblem
      ? `Restoring the previous container also failed (${restoreProblem}); it is \`${keptName}\` now: ` +
        `\`docker rm -f ${name}; docker rename ${keptName} ${name}; docker start ${name}\` brings it back.`
      : `The previous container runs again as \`${name}\`.`;
    return new AppError(
      'recreate_failed',
      `The new container for \`${request.image}\` did not start: ${reason}. ${outcome}`,
      { container: name, image: request.image, reason, restored: restoreProblem === null },
    );
  }

  async function undoRollback(
    name: string,
    keptName: string,
    kept: ContainerInspectInfo,
    rolledBack: ContainerInspectInfo | null,
  ): Promise<string | null> {
    try {
      await stopContainer(kept.Id);
      await renameContainer(kept.Id, keptName);
      await setRestartPolicy(kept.Id, { Name: 'no' });
      if (!rolledBack) return 'there was no newer container to start';
      await renameContainer(rolledBack.Id, name);
      await setRestartPolicy(rolledBack.Id, rolledBack.HostConfig.RestartPolicy);
      await startContainer(rolledBack.Id);
      return null;
    } catch (err) {
      return engineReason(err);
    }
  }

  function engineUnreachable(image: string, reason: string, waitedMs: number, cause: unknown): AppError {
    const engine = engineAddress(docker);
    return new AppError(
      'deployer_error',
      `Docker engine \`${engine}\` did not answer for ${formatSeconds(waitedMs)} while pulling \`${image}\` (last error: ${reason}); ` +
        'check that dockerd is running, then start the upgrade again.',
      { image, engine, reason, waitedMs },
      { cause },
    );
  }
}

/** What an inspect found, or null when the engine does not know it (404). */
async function inspectOrNull<T>(what: string, inspect: () => Promise<T>): Promise<T | null> {
  try {
    return await inspect();
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw new AppError('deployer_error', `Docker could not inspect ${what}: ${engineReason(err)}`, {
      statusCode: statusOf(err),
    }, { cause: err });
  }
}

/** Turns the engine's answer to a pull into an error the operator can act on. */
function pullError(image: string, err: unknown): AppError {
  const status = statusOf(err);
  const reason = engineReason(err);
  if (status === 404) {
    return new AppError('image_pull_failed', `Image \`${image}\` was not found in its registry (is the tag published?): ${reason}`, {
      image,
      statusCode: status,
      reason,
    }, { cause: err });
  }
  if (status !== undefined) {
    return new AppError('image_pull_failed', `Pulling \`${image}\` failed (the registry may be unreachable): ${reason}`, {
      image,
      statusCode: status,
      reason,
    }, { cause: err });
  }
  return new AppError('deployer_error', `Docker could not pull \`${image}\`: ${reason}`, { image, reason }, { cause: err });
}

/** Where the engine listens, as an operator writes it in `docker.host`. */
function engineAddress(docker: Dockerode): string {
  const modem = docker.modem as { socketPath?: unknown; protocol?: unknown; host?: unknown; port?: unknown };
  if (typeof modem.socketPath === 'string') {
    return `${modem.socketPath.startsWith('//./pipe/') ? 'npipe' : 'unix'}://${modem.socketPath}`;
  }
  return `${String(modem.protocol ?? 'http')}://${String(modem.host ?? 'localhost')}${modem.port ? `:${String(modem.port)}` : ''}`;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The engine's own message without dockerode's `(HTTP code N) reason -` prefix. */
function engineReason(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message.trim();
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

/** What demuxStream writes a stream to: it only ever calls write(); a full Writable would defer lines past the stream's end. */
function writeOnly(lines: LineSplitter): NodeJS.WritableStream {
  return { write: (chunk: Buffer) => (lines.write(chunk), true) } as unknown as NodeJS.WritableStream;
}

/** The values of the container's secret-named variables: found anywhere in its output, even without their name. */
function secretEnvValues(env: readonly string[] | null | undefined): string[] {
  return (env ?? []).flatMap((entry) => {
    const at = entry.indexOf('=');
    const value = entry.slice(at + 1);
    return at > 0 && SECRET_NAME.test(entry.slice(0, at)) && value.length >= 6 ? [value] : [];
  });
}

function withoutValues(text: string, values: readonly string[]): string {
  return [...values].sort((a, b) => b.length - a.length).reduce((out, value) => out.split(value).join(MASK), text);
}

/** Docker container names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]`; a `+build` suffix would not fit. */
function safeNamePart(version: string): string {
  return version.replace(/[^A-Za-z0-9_.-]/g, '_');
}
