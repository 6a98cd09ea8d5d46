// Pods come and go under a planned upgrade: a node drain or an eviction reschedules the pod between plan and start, and
// a Deployment runs several replicas. Re-check compares the Deployment and its pod template, so neither blocks the upgrade.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesDeployer } from '../../src/targets/kubernetes.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { FakeKubernetes, kubeConfigFor } from '../fakes/fake-kubernetes.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const SECRET = 'checkstack-secrets';
const image = (version: string) => `ghcr.io/enyineer/checkstack:${version}`;

/** A cluster and the Checkstack it runs, which reports the version of the image its controller last made ready. */
async function startCluster(options: { replicas: number; strategy: 'Recreate' | 'RollingUpdate' }): Promise<{ k8s: FakeKubernetes; checkstack: FakeCheckstack }> {
  const k8s = await FakeKubernetes.start({
    image: image('0.28.0'),
    history: ['0.27.0'],
    autoRollout: true,
    ...options,
    env: [{ name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'encryption-master-key' } } }],
    secrets: { [SECRET]: { 'encryption-master-key': 'b4e2d0f18c6e3579b4e2d0f18c6e3579' } },
  });
  const checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.28.0' } });
  k8s.onRollout = ({ phase, image: rolledOut }) => {
    if (phase === 'started') {
      checkstack.state.ready = { kind: 'booting' };
      return;
    }
    checkstack.state.releaseVersion = rolledOut.slice(rolledOut.lastIndexOf(':') + 1);
    checkstack.state.ready = { kind: 'ready' };
  };
  return { k8s, checkstack };
}

describe('an upgrade on Kubernetes while pods come and go', () => {
  let single: { k8s: FakeKubernetes; checkstack: FakeCheckstack };
  let three: { k8s: FakeKubernetes; checkstack: FakeCheckstack };
  let github: FakeGithub;
  let t: TestBot;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const threadText = (ts: string) => t.slack.threadReplies(ts).map((m) => m.text ?? '').join('\n');
  const podNames = (k8s: FakeKubernetes) => k8s.livePods().map((pod) => pod.metadata!.name!);
  const podImages = (k8s: FakeKubernetes) => k8s.livePods().map((pod) => pod.spec!.containers[0]!.image);
  const target = (name: string, cluster: { k8s: FakeKubernetes; checkstack: FakeCheckstack }) => `  - name: ${name}
    baseUrl: ${cluster.checkstack.url}
    kubernetes: { namespace: ${cluster.k8s.namespace}, deployment: ${cluster.k8s.deploymentName}, container: ${cluster.k8s.containerName}, encryptionKeySecret: ${SECRET} }
    postflight: { readyTimeout: 20, logWatch: 2, healthcheckMaxWait: 2 }
`;

  beforeAll(async () => {
    single = await startCluster({ replicas: 1, strategy: 'Recreate' });
    three = await startCluster({ replicas: 3, strategy: 'RollingUpdate' });
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    const clusters: Record<string, FakeKubernetes> = { single: single.k8s, three: three.k8s };
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
${target('single', single)}${target('three', three)}`,
      deployers: {
        kubernetes: (config, logger) =>
          createKubernetesDeployer({ kubeConfig: kubeConfigFor(clusters[config.name]!), target: config.kubernetes!, logger, pollIntervalMs: 100, rolloutTimeoutMs: 20_000 }),
      },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([single?.k8s.close(), single?.checkstack.close(), three?.k8s.close(), three?.checkstack.close(), github?.close()]);
  });

  it('upgrades when the pod was rescheduled between plan and start', async () => {
    const { k8s } = single;
    const message = await flow().request(t.driver, 'upgrade 0.30.0 single', /planned/);
    const planned = podNames(k8s);

    // A node drain: the pod is evicted, its ReplicaSet makes another under a new name.
    k8s.replacePod();
    expect(podNames(k8s)).not.toEqual(planned);
    await flow().confirmAndStart(t.driver, message);

    expect(await flow().finalState(message, 60_000)).toBe('succeeded');
    expect(threadText(message.ts)).toMatch(/✅ \*Re-check\* finished in/);
    expect(threadText(message.ts)).not.toMatch(/changed since the plan/);
    expect(podImages(k8s)).toEqual([image('0.30.0')]);
  }, 90_000);

  it('upgrades three replicas whose pods were replaced, and one of which stopped being ready, between plan and start', async () => {
    const { k8s } = three;
    const message = await flow().request(t.driver, 'upgrade 0.30.0 three', /planned/);
    expect(k8s.livePods()).toHaveLength(3);

    const [newest, , oldest] = podNames(k8s);
    k8s.replacePod(newest);
    k8s.replacePod(oldest);
    k8s.setPodReady(podNames(k8s)[0]!, false);
    await flow().confirmAndStart(t.driver, message);

    expect(await flow().finalState(message, 60_000)).toBe('succeeded');
    expect(threadText(message.ts)).not.toMatch(/changed since the plan/);
    k8s.finishRollout();
    expect(podImages(k8s)).toEqual([image('0.30.0'), image('0.30.0'), image('0.30.0')]);
    expect(k8s.deployment.status).toMatchObject({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
  }, 90_000);
});
