// The Kubernetes deployer through the real @kubernetes/client-node, against a loopback API server with a fake controller.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { fingerprintSecret } from '../../src/domain/fingerprint.js';
import { AppError } from '../../src/errors.js';
import type { LogLine, ReplaceStep } from '../../src/targets/deployer.js';
import { loadKubeConfig } from '../../src/targets/kube-config.js';
import { createKubernetesDeployer, type KubernetesDeployerOptions } from '../../src/targets/kubernetes.js';
import { CHANGE_CAUSE, FakeKubernetes, kubeConfigFor, REVISION, type FakeKubernetesOptions } from '../fakes/fake-kubernetes.js';

const OLDER = '0.139.0';
const OLD = '0.140.0';
const NEW = '0.141.0';
const image = (version: string) => `ghcr.io/enyineer/checkstack:${version}`;
/** The Secret role.yaml lets the bot read. */
const SECRET = 'checkstack-secrets';
const KEY = 'a3f1c9e07b5d2468a3f1c9e07b5d2468a3f1c9e07b5d2468a3f1c9e07b5d2468';
const CAUSE = `upgrade to ${NEW} requested by <@U0REQUESTER>, approved by <@U0APPROVER1>`;
const ROLE_FILE = new URL('../../deploy/kubernetes/role.yaml', import.meta.url);

/** Every fake of this file: the Role test compares role.yaml with all the requests they saw. */
const fakes: FakeKubernetes[] = [];
const open: FakeKubernetes[] = [];
/** Everything the deployers logged, checked for the key at the end. */
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

async function startFake(options: Partial<FakeKubernetesOptions> = {}): Promise<FakeKubernetes> {
  const fake = await FakeKubernetes.start({
    image: image(OLD),
    history: [OLDER],
    strategy: 'Recreate',
    env: [
      { name: 'DATABASE_URL', value: 'postgres://checkstack@db/checkstack' },
      { name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'encryption-master-key' } } },
    ],
    secrets: { [SECRET]: { 'encryption-master-key': KEY } },
    ...options,
  });
  fakes.push(fake);
  open.push(fake);
  return fake;
}

function deployerFor(fake: FakeKubernetes, options: Partial<KubernetesDeployerOptions> = {}) {
  return createKubernetesDeployer({
    kubeConfig: kubeConfigFor(fake),
    target: { namespace: fake.namespace, deployment: fake.deploymentName, container: fake.containerName, encryptionKeySecret: SECRET },
    logger,
    sleep: async () => undefined,
    pollIntervalMs: 0,
    ...options,
  });
}

/** The `pod-template-hash` of the ReplicaSet that runs the Deployment's template now. */
function currentHash(fake: FakeKubernetes): string {
  const revision = fake.deployment.metadata!.annotations![REVISION];
  const current = fake.replicaSets.find((rs) => rs.metadata!.annotations![REVISION] === revision)!;
  return current.metadata!.labels!['pod-template-hash']!;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (reason: unknown) => reason,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((fake) => fake.close()));
});

describe('Kubernetes deployer', () => {
  afterAll(() => {
    // The key's value never reaches a log line, whatever the deployers did.
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(KEY);
  });

  describe('describe', () => {
    it('reports the image tag, the Deployment and its pod template, and the fingerprint of the key in the referenced Secret', async () => {
      const fake = await startFake();

      const instance = await deployerFor(fake).describe();

      expect(instance).toMatchObject({
        id: `${fake.deployment.metadata!.uid}/${currentHash(fake)}`,
        name: 'checkstack',
        image: image(OLD),
        tag: OLD,
        running: true,
        restartCount: 0,
        encryptionKeyFingerprint: fingerprintSecret(KEY),
      });
      expect(instance.imageId).toMatch(/^ghcr\.io\/enyineer\/checkstack@sha256:[0-9a-f]{64}$/);
      expect(instance.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(fake.requestsFor('get', 'secrets').map((request) => request.name)).toEqual([SECRET]);
    });

    it('is the same instance after its pod was replaced (a drain, an eviction), and another after a new pod template', async () => {
      const fake = await startFake({ autoRollout: true });
      const deployer = deployerFor(fake);
      const before = await deployer.describe();
      const podBefore = fake.livePods()[0]!.metadata!.name;

      const replacement = fake.replacePod();

      expect(replacement.metadata!.name).not.toBe(podBefore);
      expect(fake.livePods().map((pod) => pod.metadata!.name)).toEqual([replacement.metadata!.name]);
      expect((await deployer.describe()).id).toBe(before.id);
      await deployer.replace({ image: image(NEW), version: NEW });
      const after = await deployer.describe();
      expect(after.id).not.toBe(before.id);
      expect(after.id).toBe(`${fake.deployment.metadata!.uid}/${currentHash(fake)}`);
    });

    it('gives three replicas one id whichever pod is newest or ready, and counts their restarts together', async () => {
      const fake = await startFake({ replicas: 3, strategy: 'RollingUpdate' });
      const deployer = deployerFor(fake);
      const ids = [(await deployer.describe()).id];

      // The pod a read would have picked goes away, another stops being ready, a third is replaced too.
      const [newest, second, third] = fake.livePods().map((pod) => pod.metadata!.name!);
      fake.replacePod(newest);
      ids.push((await deployer.describe()).id);
      fake.setPodReady(fake.livePods()[0]!.metadata!.name!, false);
      ids.push((await deployer.describe()).id);
      fake.replacePod(third);
      ids.push((await deployer.describe()).id);

      expect(new Set(ids)).toEqual(new Set([`${fake.deployment.metadata!.uid}/${currentHash(fake)}`]));
      expect(fake.livePods()).toHaveLength(3);
      expect(fake.livePods().map((pod) => pod.metadata!.name)).toContain(second);
      const state = await deployer.state();
      // Read from a pod that serves, not from the newest one, which is not ready.
      expect(state).toMatchObject({ running: true, health: 'healthy', restartCount: 0 });
    });

    it('takes the key from an envFrom Secret, honouring its prefix', async () => {
      const fake = await startFake({
        env: [],
        envFrom: [{ secretRef: { name: SECRET }, prefix: 'ENCRYPTION_' }],
        secrets: { [SECRET]: { MASTER_KEY: KEY, OTHER: 'x' } },
      });

      const instance = await deployerFor(fake).describe();

      expect(instance.encryptionKeyFingerprint).toBe(fingerprintSecret(KEY));
    });

    it('says not_found for a missing Deployment and for a missing container', async () => {
      const fake = await startFake();
      const base = { namespace: fake.namespace, deployment: fake.deploymentName, container: fake.containerName };

      const missingDeployment = await rejection(deployerFor(fake, { target: { ...base, deployment: 'nope' } }).describe());
      const missingContainer = await rejection(deployerFor(fake, { target: { ...base, container: 'sidecar' } }).describe());

      expect(missingDeployment.code).toBe('not_found');
      expect(missingDeployment.message).toContain('`nope`');
      expect(missingContainer.code).toBe('not_found');
      expect(missingContainer.message).toContain('`checkstack`');
    });

    it('works from a kubeconfig file, and refuses to start without any credentials', async () => {
      const fake = await startFake();
      const dir = mkdtempSync(join(tmpdir(), 'ck-kubeconfig-'));
      try {
        writeFileSync(join(dir, 'config'), fake.kubeconfigYaml());

        const fromFile = createKubernetesDeployer({
          kubeConfig: loadKubeConfig({ kubeconfigPath: join(dir, 'config') }),
          target: { namespace: fake.namespace, deployment: fake.deploymentName, container: fake.containerName },
          logger,
        });
        const noCredentials = (() => {
          try {
            loadKubeConfig({ kubeconfigPath: null, serviceAccountPathPrefix: dir });
            return null;
          } catch (err) {
            return err as AppError;
          }
        })();

        expect((await fromFile.describe()).tag).toBe(OLD);
        expect(noCredentials?.code).toBe('config_invalid');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('pre-flight warnings', () => {
    it('warns about a RollingUpdate over migrations with several replicas, and not without migrations', async () => {
      const fake = await startFake({ strategy: 'RollingUpdate', replicas: 2 });
      const deployer = deployerFor(fake);

      const withMigrations = await deployer.preflightWarnings!({ migrations: true });
      const withoutMigrations = await deployer.preflightWarnings!({ migrations: false });

      expect(withMigrations).toEqual([expect.stringMatching(/RollingUpdate.*2 replicas.*migrating database.*Recreate/)]);
      expect(withoutMigrations).toEqual([]);
    });

    it('says nothing for Recreate with the key in the named Secret', async () => {
      const fake = await startFake({ strategy: 'Recreate' });

      expect(await deployerFor(fake).preflightWarnings!({ migrations: true })).toEqual([]);
    });

    it('fingerprints a literal key but warns about it, and warns about a key from another Secret', async () => {
      const literal = await startFake({ env: [{ name: 'ENCRYPTION_MASTER_KEY', value: KEY }] });
      const elsewhere = await startFake({
        env: [{ name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }],
        secrets: { other: { k: KEY } },
      });

      const literalWarnings = await deployerFor(literal).preflightWarnings!({ migrations: false });
      const literalInstance = await deployerFor(literal).describe();
      const elsewhereWarnings = await deployerFor(elsewhere).preflightWarnings!({ migrations: false });

      expect(literalWarnings).toEqual([expect.stringContaining('literal `value:`')]);
      expect(literalInstance.encryptionKeyFingerprint).toBe(fingerprintSecret(KEY));
      expect(elsewhereWarnings).toEqual([expect.stringContaining('Secret `other`, but the target names `checkstack-secrets`')]);
      expect(literalWarnings.join(' ') + elsewhereWarnings.join(' ')).not.toContain(KEY);
    });
  });

  describe('replace', () => {
    it('patches only the image with a change-cause, and returns once the rollout is complete', async () => {
      const fake = await startFake({ strategy: 'Recreate' });
      const progress: string[] = [];
      const steps: ReplaceStep[] = [];
      let polls = 0;
      const deployer = deployerFor(fake, {
        sleep: async () => {
          polls += 1;
          fake.advanceRollout();
        },
      });

      const result = await deployer.replace(
        { image: image(NEW), version: NEW, expectedEncryptionKeyFingerprint: fingerprintSecret(KEY), changeCause: CAUSE, onProgress: (text) => progress.push(text) },
        (step) => steps.push(step),
      );

      const patches = fake.requestsFor('patch', 'deployments');
      expect(patches).toHaveLength(1);
      expect(patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
      expect(patches[0]!.body).toEqual({
        metadata: { annotations: { [CHANGE_CAUSE]: CAUSE } },
        spec: { template: { spec: { containers: [{ name: 'checkstack', image: image(NEW) }] } } },
      });
      // The strategic merge kept the rest of the container.
      expect(fake.container().env?.map((env) => env.name)).toEqual(['DATABASE_URL', 'ENCRYPTION_MASTER_KEY']);
      expect(fake.deployment.metadata!.annotations![CHANGE_CAUSE]).toBe(CAUSE);
      // Observed generation, then updated, then available: each a poll of its own.
      expect(progress).toEqual([
        'Waiting for deployment spec update to be observed...',
        'Waiting for deployment "checkstack" rollout to finish: 0 out of 1 new replicas have been updated...',
        'Waiting for deployment "checkstack" rollout to finish: 0 of 1 updated replicas are available...',
        'deployment "checkstack" successfully rolled out',
      ]);
      expect(polls).toBe(3);
      expect(steps).toEqual(['created', 'started']);
      const oldReplicaSet = fake.replicaSets.find((rs) => rs.spec!.template!.spec!.containers[0]!.image === image(OLD))!;
      expect(result).toMatchObject({ previousImage: image(OLD), keptAs: oldReplicaSet.metadata!.name, alreadyDone: false });
      expect(result.instance).toMatchObject({ tag: NEW, running: true, id: `${fake.deployment.metadata!.uid}/${currentHash(fake)}` });
    });

    it('waits for the old replicas of a RollingUpdate to go before it returns', async () => {
      const fake = await startFake({ strategy: 'RollingUpdate' });
      const progress: string[] = [];
      const deployer = deployerFor(fake, { sleep: async () => fake.advanceRollout() });

      await deployer.replace({ image: image(NEW), version: NEW, onProgress: (text) => progress.push(text) });

      expect(progress).toContain('Waiting for deployment "checkstack" rollout to finish: 1 old replicas are pending termination...');
      expect(progress.at(-1)).toBe('deployment "checkstack" successfully rolled out');
      expect(fake.deployment.status).toMatchObject({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    });

    it('changes nothing when the key changed since the pre-flight', async () => {
      const fake = await startFake();

      const err = await rejection(deployerFor(fake).replace({ image: image(NEW), version: NEW, expectedEncryptionKeyFingerprint: 'f'.repeat(64) }));

      expect(err.code).toBe('fingerprint_mismatch');
      expect(fake.requestsFor('patch', 'deployments')).toHaveLength(0);
    });

    it('does not patch again when a previous run already did', async () => {
      const fake = await startFake({ autoRollout: true });
      const deployer = deployerFor(fake);
      await deployer.replace({ image: image(NEW), version: NEW });

      const again = await deployer.replace({ image: image(NEW), version: NEW });

      expect(fake.requestsFor('patch', 'deployments')).toHaveLength(1);
      expect(again).toMatchObject({ alreadyDone: true, previousImage: image(OLD), instance: { tag: NEW } });
    });

    it('fails with the reason on ProgressDeadlineExceeded and patches the previous image back', async () => {
      const fake = await startFake({ autoRollout: true });
      fake.stallWith('ProgressDeadlineExceeded');
      const steps: ReplaceStep[] = [];

      const err = await rejection(deployerFor(fake).replace({ image: image(NEW), version: NEW }, (step) => steps.push(step)));

      expect(err.code).toBe('recreate_failed');
      expect(err.message).toContain('ProgressDeadlineExceeded');
      expect(err.message).toContain('has timed out progressing');
      expect(err.details).toMatchObject({ reason: 'ProgressDeadlineExceeded', restored: true });
      expect(steps).toEqual(['created', 'restored']);
      expect(fake.container().image).toBe(image(OLD));
      expect((await deployerFor(fake).describe()).running).toBe(true);
    });

    it('fails when the new pod crash-loops, with its exit code and restarts, and restores', async () => {
      const fake = await startFake({ autoRollout: true });
      fake.crashLoopNewPod();

      const err = await rejection(deployerFor(fake).replace({ image: image(NEW), version: NEW }));

      expect(err.code).toBe('recreate_failed');
      expect(err.message).toMatch(/CrashLoopBackOff, exit code 1 \(Error\), 1 restarts/);
      expect(err.details).toMatchObject({ reason: 'CrashLoopBackOff', exitCode: 1, restored: true });
      expect(fake.container().image).toBe(image(OLD));
    });

    it('fails with image_pull_failed and the pod\'s message when the image cannot be pulled', async () => {
      const fake = await startFake({ autoRollout: true });
      fake.imagePullBackOff();

      const err = await rejection(deployerFor(fake).replace({ image: image(NEW), version: NEW }));

      expect(err.code).toBe('image_pull_failed');
      expect(err.message).toContain(`failed to pull and unpack image "${image(NEW)}": not found`);
      expect(err.details).toMatchObject({ reason: 'ErrImagePull', restored: true });
      expect(fake.container().image).toBe(image(OLD));
    });

    it('leaves the old pod serving when a RollingUpdate cannot pull the new image', async () => {
      const fake = await startFake({ autoRollout: true, strategy: 'RollingUpdate' });
      const oldPod = fake.livePods()[0]!.metadata!.name;
      fake.imagePullBackOff();

      const err = await rejection(deployerFor(fake).replace({ image: image(NEW), version: NEW }));

      expect(err.code).toBe('image_pull_failed');
      expect(err.details).toMatchObject({ restored: true });
      expect(fake.livePods().map((pod) => pod.metadata!.name)).toEqual([oldPod]);
      expect(fake.deployment.status).toMatchObject({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    });

    it('stops waiting for the rollout at shutdown without patching anything back, and a later run only waits', async () => {
      const fake = await startFake({ autoRollout: false });
      const shutdown = new AbortController();
      let polls = 0;
      const deployer = deployerFor(fake, {
        // The default timer, aborted at the second poll while the rollout has not moved.
        sleep: (ms, signal) => {
          polls += 1;
          if (polls === 2) shutdown.abort();
          return delay(ms, undefined, { signal });
        },
        pollIntervalMs: 50,
        rolloutTimeoutMs: 60_000,
      });

      const stopped = await deployer.replace({ image: image(NEW), version: NEW, signal: shutdown.signal }).then(
        () => null,
        (err: unknown) => err,
      );

      expect(stopped).toBeInstanceOf(Error);
      expect(stopped).not.toBeInstanceOf(AppError);
      expect((stopped as Error).name).toBe('AbortError');
      expect(polls).toBe(2);
      // Not a failed rollout: the new image stays, nothing is restored.
      expect(fake.requestsFor('patch', 'deployments')).toHaveLength(1);
      expect(fake.container().image).toBe(image(NEW));

      fake.finishRollout();
      const resumed = await deployerFor(fake).replace({ image: image(NEW), version: NEW });
      expect(resumed).toMatchObject({ alreadyDone: true, previousImage: image(OLD), instance: { tag: NEW, running: true } });
      expect(fake.requestsFor('patch', 'deployments')).toHaveLength(1);
    });

    it('gives up with readiness_timeout when the rollout does not move, and says how to undo', async () => {
      const fake = await startFake({ autoRollout: false });
      let clock = 0;
      const deployer = deployerFor(fake, {
        now: () => new Date(clock),
        sleep: async (ms) => void (clock += ms),
        pollIntervalMs: 1_000,
        rolloutTimeoutMs: 5_000,
      });

      const err = await rejection(deployer.replace({ image: image(NEW), version: NEW }));

      expect(err.code).toBe('readiness_timeout');
      expect(err.message).toContain('did not finish within 5 s');
      expect(err.message).toContain('kubectl rollout undo deployment/checkstack -n checkstack');
      expect(err.details).toMatchObject({ restored: false });
    });

    it('pulls nothing itself and keeps nothing to remove', async () => {
      const fake = await startFake();
      const deployer = deployerFor(fake);

      await deployer.pull(image(NEW));
      const removed = await deployer.removeKept(NEW);

      expect(removed).toBe(false);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('state', () => {
    it('shows a healthy pod, then the restarts of a crash loop', async () => {
      const fake = await startFake();
      const deployer = deployerFor(fake);
      const healthy = await deployer.state();

      fake.crashLoopCurrentPod();
      const first = await deployer.state();
      fake.advanceRollout();
      fake.advanceRollout();
      const later = await deployer.state();

      expect(healthy).toMatchObject({ running: true, restarting: false, restartCount: 0, health: 'healthy', exitCode: null });
      expect(first).toMatchObject({ running: false, restarting: true, restartCount: 1, exitCode: 1, oomKilled: false });
      expect(first.error).toMatch(/^CrashLoopBackOff: back-off 10s restarting failed container/);
      expect(later.restartCount).toBe(3);
      expect((await deployer.describe()).restartCount).toBe(3);
    });
  });

  describe('rollback', () => {
    it('patches back the image of the previous ReplicaSet and waits for the rollout', async () => {
      const fake = await startFake({ autoRollout: true });
      const deployer = deployerFor(fake);
      await deployer.replace({ image: image(NEW), version: NEW });
      const oldReplicaSet = fake.replicaSets.find((rs) => rs.spec!.template!.spec!.containers[0]!.image === image(OLD))!;
      const progress: string[] = [];

      // The recorded image is wrong on purpose: the ReplicaSet history is the source of truth.
      const result = await deployer.rollback({
        fromVersion: NEW,
        previousImage: image('0.130.0'),
        changeCause: `rollback of ${NEW} requested by <@U0REQUESTER>`,
        onProgress: (text) => progress.push(text),
      });

      expect(fake.container().image).toBe(image(OLD));
      expect(fake.requestsFor('patch', 'deployments').at(-1)!.body).toEqual({
        metadata: { annotations: { [CHANGE_CAUSE]: `rollback of ${NEW} requested by <@U0REQUESTER>` } },
        spec: { template: { spec: { containers: [{ name: 'checkstack', image: image(OLD) }] } } },
      });
      // The controller reused the old ReplicaSet under a new revision: kubectl rollout undo's result.
      expect(oldReplicaSet.metadata!.annotations![REVISION]).toBe('4');
      expect(result).toMatchObject({ method: 'kept', alreadyDone: false, instance: { tag: OLD, running: true } });
      expect(progress.at(-1)).toBe('deployment "checkstack" successfully rolled out');
    });

    it('is done already when the previous image runs, and refuses when another version runs', async () => {
      const fake = await startFake({ autoRollout: true });
      const deployer = deployerFor(fake);

      const done = await deployer.rollback({ fromVersion: NEW, previousImage: image(OLD) });
      const refused = await rejection(deployer.rollback({ fromVersion: NEW, previousImage: image(OLDER) }));

      expect(done).toMatchObject({ alreadyDone: true, instance: { tag: OLD } });
      expect(refused.code).toBe('deployer_error');
      expect(refused.message).toContain(`runs \`${image(OLD)}\`, not ${NEW}`);
      expect(fake.requestsFor('patch', 'deployments')).toHaveLength(0);
    });

    it('falls back to the recorded image when no earlier ReplicaSet is left', async () => {
      const fake = await startFake({ autoRollout: true, image: image(NEW), history: [] });

      const result = await deployerFor(fake).rollback({ fromVersion: NEW, previousImage: image(OLD) });

      expect(result).toMatchObject({ method: 'recreated', instance: { tag: OLD } });
      expect(fake.container().image).toBe(image(OLD));
    });
  });

  describe('followLogs', () => {
    it('follows the new pod with timestamps from `since`, until aborted', async () => {
      const fake = await startFake({ autoRollout: true, startupLog: [] });
      const deployer = deployerFor(fake);
      await deployer.replace({ image: image(NEW), version: NEW });
      const pod = fake.livePods()[0]!.metadata!.name!;
      const since = new Date(Date.now() - 5_000);
      fake.appendLog(pod, 'from before the upgrade', new Date(since.getTime() - 60_000));
      fake.appendLog(pod, 'Checkstack Core initialized', new Date(since.getTime() + 1_000));
      const lines: LogLine[] = [];
      const controller = new AbortController();

      const following = deployer.followLogs(since, (line) => lines.push(line), controller.signal);
      await waitUntil(() => fake.followerCount(pod) === 1);
      fake.appendLog(pod, 'health check run: healthy');
      await waitUntil(() => lines.length === 2);
      controller.abort();
      await following;

      expect(lines.map((line) => line.text)).toEqual(['Checkstack Core initialized', 'health check run: healthy']);
      expect(lines[0]).toMatchObject({ stream: 'stdout', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/) });
      const request = fake.requestsFor('get', 'pods/log').at(-1)!;
      expect(request.name).toBe(pod);
      expect(request.query).toMatchObject({ follow: 'true', timestamps: 'true', sinceTime: since.toISOString(), container: 'checkstack' });
      await waitUntil(() => fake.followerCount(pod) === 0);
    });

    it('returns when the pod\'s log stream ends', async () => {
      const fake = await startFake({ startupLog: [] });
      const pod = fake.livePods()[0]!.metadata!.name!;
      const lines: LogLine[] = [];

      const following = deployerFor(fake).followLogs(new Date(0), (line) => lines.push(line), new AbortController().signal);
      await waitUntil(() => fake.followerCount(pod) === 1);
      fake.appendLog(pod, 'shutting down');
      fake.endLogs(pod);
      await following;

      expect(lines.map((line) => line.text)).toEqual(['shutting down']);
    });
  });

  describe('the Role in deploy/kubernetes', () => {
    it('grants exactly what the deployer calls, and only on the named objects', async () => {
      // Every operation once more, so this test stands on its own.
      const fake = await startFake({ autoRollout: true });
      const deployer = deployerFor(fake);
      await deployer.preflightWarnings!({ migrations: true });
      await deployer.describe();
      await deployer.replace({ image: image(NEW), version: NEW });
      await deployer.state();
      const controller = new AbortController();
      const following = deployer.followLogs(new Date(), () => undefined, controller.signal);
      await waitUntil(() => fake.requestsFor('get', 'pods/log').length > 0);
      controller.abort();
      await following;
      await deployer.rollback({ fromVersion: NEW, previousImage: image(OLD) });
      const role = parseAllDocuments(readFileSync(ROLE_FILE, 'utf8')).map((doc) => doc.toJS() as RoleDocument).find((doc) => doc?.kind === 'Role')!;

      const seen = fakes.flatMap((each) => each.requests).filter((request) => request.status !== 401 && request.namespace === role.metadata.namespace);
      const observed = new Set(seen.map((request) => `${request.apiGroup}|${request.resource}|${request.verb}`));
      const granted = new Set(
        role.rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}|${resource}|${verb}`)))),
      );

      expect([...granted].sort()).toEqual([...observed].sort());
      for (const rule of role.rules.filter((each) => each.resourceNames)) {
        const names = new Set(seen.filter((request) => rule.resources.includes(request.resource)).map((request) => request.name));
        // Other fakes used other Secret names on purpose; the deployer configured with the Role's names asks only for those.
        const fromThisTest = new Set(fake.requests.filter((request) => rule.resources.includes(request.resource)).map((request) => request.name));
        expect([...fromThisTest]).toEqual(rule.resourceNames);
        expect(names.size).toBeGreaterThan(0);
      }
    });
  });
});

interface RoleDocument {
  kind: string;
  metadata: { name: string; namespace: string };
  rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>;
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
