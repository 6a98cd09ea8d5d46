// The Deployer for a Checkstack Deployment on Kubernetes: patch the container image, then gate on the rollout as `kubectl rollout status` does.
import { Writable } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Log,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Container,
  type V1ContainerStatus,
  type V1Deployment,
  type V1LabelSelector,
  type V1Pod,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { fingerprintSecret } from '../domain/fingerprint.js';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import type {
  DeployedInstance,
  Deployer,
  LogLine,
  ReplaceRequest,
  ReplaceResult,
  ReplaceStep,
  RollbackRequest,
  RollbackResult,
  RuntimeState,
} from './deployer.js';
import { digestsOf, KUBERNETES_FACTS } from './deployer.js';
import { sleep as defaultSleep } from '../util/sleep.js';
import { rollbackUndoOutcome } from '../slack/deployer-words.js';
import { imageTag } from './image-ref.js';
import { timestampedLogLines } from './log-lines.js';

export interface KubernetesTarget {
  namespace: string;
  deployment: string;
  /** The container of the pod template that runs Checkstack. */
  container: string;
  /**
   * The one Secret the bot's Role lets it read (`resourceNames`). A Deployment that takes `ENCRYPTION_MASTER_KEY`
   * from another Secret gets a pre-flight warning; among `envFrom` Secrets only this one is read.
   */
  encryptionKeySecret?: string;
}

export interface KubernetesDeployerOptions {
  kubeConfig: KubeConfig;
  target: KubernetesTarget;
  logger: Logger;
  now?: () => Date;
  /** Waits `ms`; rejects early when `signal` aborts (default: a timer). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** How long a rollout may take before it counts as failed (default 10 minutes). */
  rolloutTimeoutMs?: number;
  /** How often the Deployment is read while a rollout runs (default 2 s). */
  pollIntervalMs?: number;
  /** Told every secret value the deployer reads (the ENCRYPTION_MASTER_KEY from its Secret), so logs can redact it. */
  registerSecret?: (value: string) => void;
}

const REVISION = 'deployment.kubernetes.io/revision';
/** The label the Deployment controller gives a ReplicaSet and its pods: a hash of their pod template. */
const POD_TEMPLATE_HASH = 'pod-template-hash';
const CHANGE_CAUSE = 'kubernetes.io/change-cause';
const KEY_VAR = 'ENCRYPTION_MASTER_KEY';
const FIELD_MANAGER = 'checkstack-chatops';
/** Waiting reasons that mean the new image cannot be pulled: no point waiting for the progress deadline. */
const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);
/** Waiting reasons that mean the new container does not start. */
const START_FAILURE_REASONS = new Set(['CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

export function createKubernetesDeployer(options: KubernetesDeployerOptions): Deployer {
  const { kubeConfig, target, logger } = options;
  const { namespace } = target;
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? defaultSleep;
  const rolloutTimeoutMs = options.rolloutTimeoutMs ?? 600_000;
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;
  const label = `${namespace}/${target.deployment}`;
  const log = logger.child({ deployer: 'kubernetes', target: label });
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const logs = new Log(kubeConfig);

  return {
    ...KUBERNETES_FACTS,
    describe,
    runningImageDigests: async () => digestsOf([(await describe()).imageId]),
    /** Kubernetes pulls the image itself when the new pod starts; a failed pull surfaces during `replace` as `image_pull_failed`. */
    pull: async () => undefined,
    replace,
    rollback,
    /** Kubernetes keeps the previous ReplicaSets itself (`revisionHistoryLimit`): nothing to remove. */
    removeKept: async () => false,
    followLogs,
    state,
    preflightWarnings,
  };

  async function describe(): Promise<DeployedInstance> {
    return toInstance(await readDeployment());
  }

  async function preflightWarnings(context: { migrations: boolean }): Promise<string[]> {
    const deployment = await readDeployment();
    containerOf(deployment);
    const warnings: string[] = [];
    const replicas = deployment.spec?.replicas ?? 1;
    const available = deployment.status?.availableReplicas ?? 0;
    if (available < replicas) {
      warnings.push(`Deployment \`${label}\` has ${available} of ${replicas} replicas available: the upgrade would start from an unhealthy state.`);
    }
    if (deployment.spec?.paused) {
      warnings.push(`Deployment \`${label}\` is paused: no rollout would start. Resume it first (\`kubectl rollout resume deployment/${target.deployment} -n ${namespace}\`).`);
    }
    const strategy = deployment.spec?.strategy?.type ?? 'RollingUpdate';
    if (strategy === 'RollingUpdate' && context.migrations) {
      const surge = scaledValue(deployment.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', replicas);
      if (replicas > 1 || surge > 0) {
        warnings.push(
          `Deployment \`${label}\` uses \`strategy.type: RollingUpdate\`${replicas > 1 ? ` with ${replicas} replicas` : ''} and this upgrade runs database migrations: ` +
            `old and new pods would run against a migrating database. Set \`strategy.type: Recreate\` (recommended for a single replica) before upgrading.`,
        );
      }
    }
    warnings.push(...(await encryptionKey(deployment)).warnings);
    return warnings;
  }

  async function replace(request: ReplaceRequest, onStep?: (step: ReplaceStep) => void): Promise<ReplaceResult> {
    const step = (value: ReplaceStep) => {
      log.info({ step: value, image: request.image }, 'replace step done');
      onStep?.(value);
    };
    const deployment = await readDeployment();
    const currentImage = containerOf(deployment).image ?? '';

    // The key decides whether every stored secret stays readable: check it before anything changes.
    const expected = request.expectedEncryptionKeyFingerprint;
    if (expected !== undefined && (await encryptionKey(deployment)).fingerprint !== expected) {
      throw new AppError(
        'fingerprint_mismatch',
        `The \`${KEY_VAR}\` of Deployment \`${label}\` changed since the pre-flight; nothing was changed. Run the pre-flight again.`,
        { namespace, deployment: target.deployment },
      );
    }

    // A previous run patched already: only the rollout gate is left.
    if (currentImage === request.image) {
      const previous = await previousRevision(deployment);
      try {
        await waitForRollout(request.image, request.onProgress, request.signal);
      } catch (err) {
        if (!(err instanceof RolloutFailed)) throw err;
        throw await failedRollout(err, request.image, previous?.image ?? null, request.onProgress, step);
      }
      return {
        instance: await describe(),
        previousImage: previous?.image ?? currentImage,
        keptAs: previous?.name ?? null,
        alreadyDone: true,
      };
    }

    await patchImage(request.image, request.changeCause ?? `checkstack-chatops: upgrade to ${request.version}`);
    step('created');
    let after: V1Deployment;
    try {
      after = await waitForRollout(request.image, request.onProgress, request.signal);
    } catch (err) {
      if (!(err instanceof RolloutFailed)) throw err;
      throw await failedRollout(err, request.image, currentImage, request.onProgress, step);
    }
    step('started');
    const previous = await previousRevision(after);
    return { instance: await toInstance(after), previousImage: currentImage, keptAs: previous?.name ?? null, alreadyDone: false };
  }

  async function rollback(request: RollbackRequest): Promise<RollbackResult> {
    if (request.beforeStart) {
      throw new AppError('deployer_error', `Restore and roll back is not available on Kubernetes: scale \`${label}\` to 0, restore the backup by hand, then roll back.`);
    }
    const deployment = await readDeployment();
    const currentImage = containerOf(deployment).image ?? '';

    if (currentImage === request.previousImage) {
      try {
        await waitForRollout(currentImage, request.onProgress, request.signal);
      } catch (err) {
        if (!(err instanceof RolloutFailed)) throw err;
        throw new AppError(err.code, `Rolling \`${label}\` back did not finish: ${err.message}.`, { ...err.details, restored: false });
      }
      return { instance: await describe(), method: 'kept', alreadyDone: true };
    }
    if (imageTag(currentImage) !== request.fromVersion) {
      throw new AppError(
        'deployer_error',
        `Deployment \`${label}\` runs \`${currentImage}\`, not ${request.fromVersion}: it changed since the upgrade, so nothing was rolled back. ` +
          `Check \`kubectl rollout history deployment/${target.deployment} -n ${namespace}\`.`,
        { namespace, deployment: target.deployment, image: currentImage },
      );
    }

    // The previous ReplicaSet's template is what ran before; the recorded image only stands in when history is gone.
    const previous = await previousRevision(deployment);
    const image = previous?.image ?? request.previousImage;
    if (previous && previous.image !== request.previousImage) {
      log.warn({ replicaSet: previous.name, image: previous.image, recorded: request.previousImage }, 'previous ReplicaSet differs from the recorded image, using the ReplicaSet');
    }
    await patchImage(image, request.changeCause ?? `checkstack-chatops: roll back ${request.fromVersion} to ${imageTag(image) ?? image}`);
    let after: V1Deployment;
    try {
      after = await waitForRollout(image, request.onProgress, request.signal);
    } catch (err) {
      if (!(err instanceof RolloutFailed)) throw err;
      log.warn({ image, reason: err.details.reason }, 'rollback failed, restoring the rolled-back version');
      const undoProblem = await restoreImage(currentImage, `checkstack-chatops: restored ${currentImage} after the rollback to ${image} failed`, request.onProgress);
      throw new AppError(
        err.code === 'image_pull_failed' ? 'image_pull_failed' : 'recreate_failed',
        `Rolling \`${label}\` back to \`${image}\` failed: ${err.message}. ` +
          rollbackUndoOutcome(request.fromVersion, undoProblem),
        { ...err.details, namespace, deployment: target.deployment, restored: undoProblem === null },
      );
    }
    return { instance: await toInstance(after), method: previous ? 'kept' : 'recreated', alreadyDone: false };
  }

  async function followLogs(since: Date, onLine: (line: LogLine) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const deployment = await readDeployment();
    const pod = servingPod(await currentPods(deployment));
    const podName = pod?.metadata?.name;
    if (!podName) {
      throw new AppError('not_found', `Deployment \`${label}\` has no pod whose logs could be followed.`, { namespace, deployment: target.deployment });
    }
    const sinceMs = since.getTime();
    // The API merges stdout and stderr into one stream; every line is reported as stdout.
    const splitter = timestampedLogLines('stdout', sinceMs, onLine);
    log.info({ pod: podName, since: since.toISOString() }, 'following pod logs');
    await new Promise<void>((resolve, reject) => {
      let controller: AbortController | null = null;
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => {
        controller?.abort();
        settle();
      };
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          splitter.write(chunk);
          callback();
        },
        final(callback) {
          splitter.flush();
          callback();
        },
      });
      // The client pipes the response into `sink` without listening for the response's errors (an abort emits one).
      sink.on('pipe', (source) => {
        source.on('error', (err: Error) => {
          if (signal.aborted) settle();
          else settle(new AppError('deployer_error', `The log stream of pod \`${podName}\` broke: ${err.message}`, { pod: podName }, { cause: err }));
        });
      });
      sink.on('finish', () => settle());
      signal.addEventListener('abort', onAbort, { once: true });
      logs
        .log(namespace, podName, target.container, sink, { follow: true, timestamps: true, sinceTime: since.toISOString() })
        .then((started) => {
          controller = started;
          if (signal.aborted || settled) started.abort();
        })
        .catch((err: unknown) => settle(signal.aborted ? undefined : apiError(`follow the logs of pod \`${podName}\``, err)));
    });
  }

  async function state(): Promise<RuntimeState> {
    const deployment = await readDeployment();
    const pods = await currentPods(deployment);
    const pod = servingPod(pods);
    const status = containerStatus(pod);
    if (!pod || !status) {
      return {
        running: false,
        restarting: false,
        restartCount: 0,
        exitCode: null,
        oomKilled: false,
        startedAt: null,
        finishedAt: null,
        error: pod ? `Pod \`${pod.metadata?.name}\` has not started its container yet.` : `Deployment \`${label}\` has no pods.`,
        health: null,
      };
    }
    const running = Boolean(status.state?.running);
    const waiting = status.state?.waiting;
    const terminated = status.state?.terminated ?? status.lastState?.terminated;
    return {
      running,
      restarting: waiting?.reason === 'CrashLoopBackOff' || (Boolean(waiting) && status.restartCount > 0),
      restartCount: pods.reduce((sum, each) => sum + (containerStatus(each)?.restartCount ?? 0), 0),
      exitCode: running ? null : (terminated?.exitCode ?? null),
      oomKilled: terminated?.reason === 'OOMKilled',
      startedAt: iso(status.state?.running?.startedAt ?? status.state?.terminated?.startedAt),
      finishedAt: iso(terminated?.finishedAt),
      error: running ? null : (waiting ? [waiting.reason, waiting.message].filter(Boolean).join(': ') : terminated?.message) || null,
      health: running ? (status.ready ? 'healthy' : status.started === false ? 'starting' : 'unhealthy') : null,
    };
  }

  // Below: what those methods are made of.

  /** Wraps an API call so every failure is a coded error naming what was being done. */
  async function api<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isAppError(err)) throw err;
      throw apiError(action, err);
    }
  }

  function notFound(): AppError {
    return new AppError(
      'not_found',
      `No Deployment \`${target.deployment}\` in namespace \`${namespace}\`: check the target's \`kubernetes.deployment\` and \`kubernetes.namespace\`.`,
      { namespace, deployment: target.deployment },
    );
  }

  async function readDeployment(): Promise<V1Deployment> {
    try {
      return await apps.readNamespacedDeployment({ name: target.deployment, namespace });
    } catch (err) {
      if (statusOf(err) === 404) throw notFound();
      throw apiError(`read Deployment \`${label}\``, err);
    }
  }

  function containerOf(deployment: V1Deployment): V1Container {
    const containers = deployment.spec?.template.spec?.containers ?? [];
    const container = containers.find((candidate) => candidate.name === target.container);
    if (!container) {
      throw new AppError(
        'not_found',
        `Deployment \`${label}\` has no container \`${target.container}\` (it has ${containers.map((c) => `\`${c.name}\``).join(', ') || 'none'}): ` +
          `check the target's \`kubernetes.container\`.`,
        { namespace, deployment: target.deployment, container: target.container },
      );
    }
    return container;
  }

  async function listReplicaSets(deployment: V1Deployment): Promise<V1ReplicaSet[]> {
    const list = await api(`list the ReplicaSets of \`${label}\``, () =>
      apps.listNamespacedReplicaSet({ namespace, labelSelector: selectorString(deployment.spec?.selector) }),
    );
    const uid = deployment.metadata?.uid;
    return list.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((owner) => owner.uid === uid))
      .sort((a, b) => revisionOf(b) - revisionOf(a));
  }

  async function listPods(deployment: V1Deployment): Promise<V1Pod[]> {
    const list = await api(`list the pods of \`${label}\``, () =>
      core.listNamespacedPod({ namespace, labelSelector: selectorString(deployment.spec?.selector) }),
    );
    return list.items.filter((pod) => !pod.metadata?.deletionTimestamp);
  }

  function templateImage(rs: V1ReplicaSet): string | undefined {
    return rs.spec?.template?.spec?.containers.find((c) => c.name === target.container)?.image;
  }

  function podImage(pod: V1Pod): string | undefined {
    return pod.spec?.containers.find((c) => c.name === target.container)?.image;
  }

  function containerStatus(pod: V1Pod | undefined): V1ContainerStatus | undefined {
    return pod?.status?.containerStatuses?.find((status) => status.name === target.container);
  }

  /**
   * The ReplicaSet of the Deployment's pod template: the one at the Deployment's revision that runs its image, else
   * the newest revision that runs it; undefined when none does (the history is gone, or the bot may not list them).
   */
  function currentReplicaSet(deployment: V1Deployment, sets: V1ReplicaSet[]): V1ReplicaSet | undefined {
    const image = containerOf(deployment).image;
    const revision = Number(deployment.metadata?.annotations?.[REVISION]) || 0;
    const running = sets.filter((rs) => templateImage(rs) === image);
    return running.find((rs) => revisionOf(rs) === revision) ?? running[0];
  }

  /** The pods of the Deployment's current ReplicaSet (the newest revision running its image), newest first. */
  async function currentPods(deployment: V1Deployment, sets?: V1ReplicaSet[]): Promise<V1Pod[]> {
    const image = containerOf(deployment).image;
    const replicaSets = sets ?? (await listReplicaSets(deployment));
    const pods = await listPods(deployment);
    const current = currentReplicaSet(deployment, replicaSets) ?? replicaSets[0];
    const owned = current ? pods.filter((pod) => pod.metadata?.ownerReferences?.some((o) => o.uid === current.metadata?.uid)) : [];
    const chosen = owned.length > 0 ? owned : pods.filter((pod) => podImage(pod) === image);
    return chosen.sort((a, b) => timeOf(b.metadata?.creationTimestamp) - timeOf(a.metadata?.creationTimestamp));
  }

  /**
   * Which Deployment and pod template run, as the upgrade's Re-check compares them: the Deployment's uid (one deleted
   * and created again is another) and the `pod-template-hash` of its current ReplicaSet (the generation when none is
   * found). Never a pod's name: pods come and go with drains, evictions and replicas, the template stays.
   */
  function instanceId(deployment: V1Deployment, current: V1ReplicaSet | undefined): string {
    const uid = deployment.metadata?.uid ?? `${namespace}/${target.deployment}`;
    const hash = current?.metadata?.labels?.[POD_TEMPLATE_HASH];
    return `${uid}/${hash ?? `generation-${deployment.metadata?.generation ?? 0}`}`;
  }

  /** The pod to read a container's state or logs from: a ready one, else a running one, else the newest. */
  function servingPod(pods: V1Pod[]): V1Pod | undefined {
    return pods.find(isReady) ?? pods.find((pod) => containerStatus(pod)?.state?.running) ?? pods[0];
  }

  /**
   * The revision a rollback returns to: the ReplicaSet with the highest revision below the current one that runs
   * another image (a revision that changed only the environment would bring back the same version).
   */
  async function previousRevision(deployment: V1Deployment): Promise<{ name: string; image: string; revision: number } | null> {
    const image = containerOf(deployment).image;
    const sets = await listReplicaSets(deployment);
    const current =
      Number(deployment.metadata?.annotations?.[REVISION]) ||
      Math.max(0, ...sets.filter((rs) => templateImage(rs) === image).map(revisionOf));
    const previous = sets.find((rs) => revisionOf(rs) < current && templateImage(rs) && templateImage(rs) !== image);
    if (!previous) return null;
    return { name: previous.metadata?.name ?? '', image: templateImage(previous)!, revision: revisionOf(previous) };
  }

  /** The Secret's data, or null when it does not exist. */
  async function readSecretData(name: string): Promise<Record<string, string> | null> {
    try {
      const secret = await core.readNamespacedSecret({ name, namespace });
      return secret.data ?? {};
    } catch (err) {
      if (statusOf(err) === 404) return null;
      if (statusOf(err) === 403) {
        throw new AppError(
          'deployer_error',
          `The bot may not read Secret \`${name}\` in \`${namespace}\`, which holds \`${KEY_VAR}\`: ` +
            `add it to \`resourceNames\` of the \`secrets\` rule in the bot's Role (deploy/kubernetes/role.yaml).`,
          { namespace, secret: name, statusCode: 403 },
          { cause: err },
        );
      }
      throw apiError(`read Secret \`${namespace}/${name}\``, err);
    }
  }

  /**
   * Where `ENCRYPTION_MASTER_KEY` comes from and the fingerprint of its value, with what the pre-flight should say
   * about it. The value stays in this function: never logged, never returned.
   */
  async function encryptionKey(deployment: V1Deployment): Promise<{ fingerprint: string | null; warnings: string[] }> {
    const container = containerOf(deployment);
    const warnings: string[] = [];
    const expectedSecret = target.encryptionKeySecret;
    let value: string | null = null;
    // An explicit `env` entry wins over `envFrom`, and the last entry of a name wins, as in the kubelet.
    const entry = (container.env ?? []).filter((env) => env.name === KEY_VAR).at(-1);
    if (entry?.valueFrom?.secretKeyRef) {
      const ref = { name: entry.valueFrom.secretKeyRef.name ?? '', key: entry.valueFrom.secretKeyRef.key };
      if (expectedSecret && ref.name !== expectedSecret) {
        warnings.push(
          `\`${KEY_VAR}\` comes from Secret \`${ref.name}\`, but the target names \`${expectedSecret}\` (\`encryptionKeySecret\`): ` +
            `fix the target and the Role's \`resourceNames\`.`,
        );
      }
      const data = await readSecretData(ref.name);
      if (data === null) {
        warnings.push(`Secret \`${ref.name}\`, which should hold \`${KEY_VAR}\`, does not exist in \`${namespace}\`.`);
      } else if (data[ref.key] === undefined) {
        warnings.push(`Secret \`${ref.name}\` has no key \`${ref.key}\` for \`${KEY_VAR}\`.`);
      } else {
        value = decodeBase64(data[ref.key]!);
      }
    } else if (entry?.valueFrom) {
      warnings.push(`\`${KEY_VAR}\` does not come from a Secret (it uses another \`valueFrom\`): the bot cannot fingerprint it. Move it to a Secret.`);
    } else if (entry) {
      value = entry.value ?? '';
      warnings.push(
        `\`${KEY_VAR}\` is a literal \`value:\` in the Deployment's manifest: anyone who can read the Deployment can read it. ` +
          `Move it to a Secret (\`valueFrom.secretKeyRef\`).`,
      );
    } else {
      const refs = (container.envFrom ?? [])
        .filter((source) => source.secretRef?.name && KEY_VAR.startsWith(source.prefix ?? ''))
        .filter((source) => !expectedSecret || source.secretRef!.name === expectedSecret);
      for (const source of refs.reverse()) {
        const data = await readSecretData(source.secretRef!.name!);
        const key = KEY_VAR.slice((source.prefix ?? '').length);
        if (data?.[key] !== undefined) {
          value = decodeBase64(data[key]!);
          break;
        }
      }
    }
    if (!value && warnings.length === 0) {
      warnings.push(`The Deployment's container \`${target.container}\` has no \`${KEY_VAR}\` the bot can see (\`env\` or \`envFrom\` Secret).`);
    }
    if (value) options.registerSecret?.(value);
    return { fingerprint: value ? fingerprintSecret(value) : null, warnings };
  }

  async function toInstance(deployment: V1Deployment): Promise<DeployedInstance> {
    const container = containerOf(deployment);
    const sets = await listReplicaSets(deployment);
    const pods = await currentPods(deployment, sets);
    const status = containerStatus(servingPod(pods));
    const image = container.image ?? '';
    return {
      id: instanceId(deployment, currentReplicaSet(deployment, sets)),
      name: deployment.metadata?.name ?? target.deployment,
      image,
      tag: imageTag(image),
      imageId: status?.imageID ?? '',
      running: (deployment.status?.availableReplicas ?? 0) > 0,
      restartCount: pods.reduce((sum, pod) => sum + (containerStatus(pod)?.restartCount ?? 0), 0),
      startedAt: iso(status?.state?.running?.startedAt),
      encryptionKeyFingerprint: (await encryptionKey(deployment)).fingerprint,
    };
  }

  async function patchImage(image: string, changeCause: string): Promise<void> {
    log.info({ container: target.container, image }, 'patching the container image');
    await api(`patch the image of Deployment \`${label}\``, () =>
      apps.patchNamespacedDeployment(
        {
          name: target.deployment,
          namespace,
          fieldManager: FIELD_MANAGER,
          body: {
            metadata: { annotations: { [CHANGE_CAUSE]: changeCause } },
            spec: { template: { spec: { containers: [{ name: target.container, image }] } } },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
  }

  /** Why a pod on `image` cannot become ready (image pull, crash loop), or null while it may still. */
  async function newPodProblem(deployment: V1Deployment, image: string): Promise<RolloutFailed | null> {
    for (const pod of await listPods(deployment)) {
      if (podImage(pod) !== image) continue;
      const status = containerStatus(pod);
      const waiting = status?.state?.waiting;
      const podName = pod.metadata?.name ?? '';
      if (!waiting?.reason) continue;
      if (IMAGE_PULL_REASONS.has(waiting.reason)) {
        return new RolloutFailed(
          'image_pull_failed',
          `Kubernetes could not pull \`${image}\` for pod \`${podName}\` (${waiting.reason}): ${waiting.message ?? 'no message'}`,
          { pod: podName, reason: waiting.reason, image },
        );
      }
      if (START_FAILURE_REASONS.has(waiting.reason)) {
        const last = status?.lastState?.terminated;
        const exit = last ? `, exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : '';
        return new RolloutFailed(
          'recreate_failed',
          `The new pod \`${podName}\` does not start (${waiting.reason}${exit}, ${status?.restartCount ?? 0} restarts): ${waiting.message ?? 'no message'}`,
          { pod: podName, reason: waiting.reason, image, restartCount: status?.restartCount ?? 0, exitCode: last?.exitCode ?? null },
        );
      }
    }
    return null;
  }

  /**
   * Polls the Deployment until the rollout of `image` is complete; throws `RolloutFailed` when it cannot be. `signal`
   * (the bot shutting down) stops the wait, not the rollout: the job resumes at this step, where the image is already
   * patched and only this wait is left.
   */
  async function waitForRollout(image: string, onProgress?: (text: string) => void, signal?: AbortSignal): Promise<V1Deployment> {
    const started = now().getTime();
    let reported = '';
    const report = (text: string) => {
      if (text === reported) return;
      reported = text;
      log.debug({ image, status: text }, 'rollout progress');
      onProgress?.(text);
    };
    for (;;) {
      signal?.throwIfAborted();
      const deployment = await readDeployment();
      const status = rolloutStatus(deployment);
      if (status.failure) {
        throw new RolloutFailed(
          'recreate_failed',
          `The rollout of \`${image}\` failed: ${status.failure.reason}${status.failure.message ? ` (${status.failure.message})` : ''}`,
          { reason: status.failure.reason, image },
        );
      }
      report(status.message);
      if (status.done) return deployment;
      const problem = await newPodProblem(deployment, image);
      if (problem) throw problem;
      if (now().getTime() - started >= rolloutTimeoutMs) {
        throw new RolloutFailed(
          'readiness_timeout',
          `The rollout of \`${image}\` did not finish within ${Math.round(rolloutTimeoutMs / 1000)} s (${status.message})`,
          { reason: 'timeout', image, status: status.message },
        );
      }
      await sleep(pollIntervalMs, signal);
    }
  }

  /** Patches `image` back after a failed rollout and waits for it; returns what went wrong, or null. */
  async function restoreImage(image: string, changeCause: string, onProgress?: (text: string) => void): Promise<string | null> {
    try {
      await patchImage(image, changeCause);
      await waitForRollout(image, onProgress);
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  function undoCommand(): string {
    return `\`kubectl rollout undo deployment/${target.deployment} -n ${namespace}\``;
  }

  /** Restores `previousImage` after a failed rollout of `image` and says how that went, in the failure's own code. */
  async function failedRollout(
    failure: RolloutFailed,
    image: string,
    previousImage: string | null,
    onProgress: ((text: string) => void) | undefined,
    step: (value: ReplaceStep) => void,
  ): Promise<AppError> {
    log.warn({ image, previousImage, reason: failure.details.reason }, 'rollout failed, restoring the previous image');
    const restoreProblem = previousImage
      ? await restoreImage(previousImage, `checkstack-chatops: restored ${previousImage} after the rollout of ${image} failed`, onProgress)
      : 'no previous image is known';
    if (!restoreProblem) step('restored');
    const outcome = restoreProblem
      ? `Restoring the previous image also failed (${restoreProblem}); ${undoCommand()} brings the previous revision back.`
      : `The previous image \`${previousImage}\` was patched back and runs again.`;
    return new AppError(failure.code, `${failure.message}. ${outcome}`, {
      ...failure.details,
      namespace,
      deployment: target.deployment,
      restored: restoreProblem === null,
    });
  }
}

/** A rollout that ended without success; `replace` and `rollback` turn it into an AppError after restoring. */
class RolloutFailed extends Error {
  constructor(
    readonly code: Extract<ErrorCode, 'image_pull_failed' | 'recreate_failed' | 'readiness_timeout'>,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

interface RolloutStatus {
  done: boolean;
  /** kubectl's wording, which operators know. */
  message: string;
  /** Set when the Deployment controller gave up (`ProgressDeadlineExceeded`). */
  failure?: { reason: string; message: string };
}

/** `kubectl rollout status` for one Deployment read. */
function rolloutStatus(deployment: V1Deployment): RolloutStatus {
  const name = deployment.metadata?.name ?? '';
  const generation = deployment.metadata?.generation ?? 0;
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) {
    return { done: false, message: `Waiting for deployment spec update to be observed...` };
  }
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      done: false,
      message: `deployment "${name}" exceeded its progress deadline`,
      failure: { reason: progressing.reason, message: progressing.message ?? '' },
    };
  }
  const replicas = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const waiting = `Waiting for deployment "${name}" rollout to finish: `;
  if (updated < replicas) return { done: false, message: `${waiting}${updated} out of ${replicas} new replicas have been updated...` };
  if (total > updated) return { done: false, message: `${waiting}${total - updated} old replicas are pending termination...` };
  if (available < updated) return { done: false, message: `${waiting}${available} of ${updated} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

/** `matchLabels` and `matchExpressions` as a label selector query. */
function selectorString(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector?.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(',');
    if (expression.operator === 'In') parts.push(`${expression.key} in (${values})`);
    else if (expression.operator === 'NotIn') parts.push(`${expression.key} notin (${values})`);
    else if (expression.operator === 'Exists') parts.push(expression.key);
    else if (expression.operator === 'DoesNotExist') parts.push(`!${expression.key}`);
  }
  return parts.join(',');
}

function revisionOf(rs: V1ReplicaSet): number {
  return Number(rs.metadata?.annotations?.[REVISION]) || 0;
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false;
}

/** `maxSurge` as a pod count: an int, or a percentage of the replicas rounded up. */
function scaledValue(value: number | string, replicas: number): number {
  if (typeof value === 'number') return value;
  const percent = /^(\d+)%$/.exec(value);
  return percent ? Math.ceil((Number(percent[1]) * replicas) / 100) : Number(value) || 0;
}

function timeOf(value: Date | string | undefined): number {
  if (!value) return 0;
  const at = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(at) ? 0 : at;
}

/** The client turns RFC 3339 fields into Dates; the Deployer speaks strings. */
function iso(value: Date | string | undefined): string | null {
  if (!value) return null;
  return value instanceof Date ? value.toISOString() : value;
}

function decodeBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('utf8');
}

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

/** The API server's own message (from its `Status` body) rather than the client's dump of headers. */
function apiReason(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === 'string') return parsed.message;
      } catch {
        if (body.trim()) return body.trim().slice(0, 300);
      }
    } else if (body && typeof (body as { message?: unknown }).message === 'string') {
      return (body as { message: string }).message;
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function apiError(action: string, err: unknown): AppError {
  const status = statusOf(err);
  const reason = apiReason(err);
  const hint =
    status === 401
      ? ' The API server rejected the bot\'s credentials: check the service account token or `KUBECONFIG`.'
      : status === 403
        ? ' The bot\'s Role does not allow it: compare it with deploy/kubernetes/role.yaml.'
        : '';
  return new AppError('deployer_error', `Kubernetes could not ${action}: ${reason}.${hint}`, { action, statusCode: status }, { cause: err });
}
