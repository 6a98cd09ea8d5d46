// The whole upgrade of a Checkstack from before the platform endpoints (0.31 era, shared/checkstack-api.md "Older
// releases"), on Kubernetes (fake cluster, fake Checkstack) and on a real Docker engine (busybox image): the plan reads
// the version from the image tag, nothing is asked of the new instance before it logs `Checkstack Core initialized`
// (a request before that kills it), and the post-flight ends green with "readiness unknown".
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesDeployer } from '../../src/targets/kubernetes.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { CHECKSTACK_STARTUP_LOG, FakeKubernetes, kubeConfigFor } from '../fakes/fake-kubernetes.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  EARLY_REQUEST_LOG,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeVolumes,
  uniqueSuffix,
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const FROM = '0.30.0';
const TO = '0.31.0';
const INITIALIZED_LINE = CHECKSTACK_STARTUP_LOG.at(-1)!;
const releases = () => [fixtureRelease(TO, 8031), ...loadFixtureReleases()];
const render = (m: FakeMessage) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`;

describe('upgrading a 0.31-era Checkstack on Kubernetes', () => {
  const SECRET = 'checkstack-secrets';
  const image = (version: string) => `ghcr.io/enyineer/checkstack:${version}`;
  let k8s: FakeKubernetes;
  let checkstack: FakeCheckstack;
  let github: FakeGithub;
  let t: TestBot;
  /** The pods of the last rollout once they run, and how many requests the fake had seen when it started booting. */
  let newPods: string[] = [];
  let requestsAtBoot = 0;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const threadText = (ts: string) => t.slack.threadReplies(ts).map(render).join('\n');

  beforeAll(async () => {
    // Every pod's log is the test's to write: it says when init finishes.
    k8s = await FakeKubernetes.start({
      image: image(FROM),
      strategy: 'Recreate',
      autoRollout: true,
      startupLog: [],
      env: [{ name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'encryption-master-key' } } }],
      secrets: { [SECRET]: { 'encryption-master-key': 'ab'.repeat(32) } },
    });
    k8s.appendLog(k8s.livePods()[0]!.metadata!.name!, INITIALIZED_LINE);
    checkstack = await startFakeCheckstack({ state: { era: '0.31' } });
    k8s.onRollout = ({ phase, pods }) => {
      if (phase === 'started') {
        checkstack.boot();
        requestsAtBoot = checkstack.requests.length;
      } else {
        newPods = pods;
      }
    };
    github = await startFakeGithub({ releases: releases() });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    kubernetes: { namespace: ${k8s.namespace}, deployment: ${k8s.deploymentName}, container: ${k8s.containerName}, encryptionKeySecret: ${SECRET} }
    postflight: { readyTimeout: 60, logWatch: 2, healthcheckMaxWait: 2 }
`,
      deployers: {
        kubernetes: (target, logger) =>
          createKubernetesDeployer({ kubeConfig: kubeConfigFor(k8s), target: target.kubernetes!, logger, pollIntervalMs: 100, rolloutTimeoutMs: 20_000 }),
      },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([k8s?.close(), checkstack?.close(), github?.close()]);
  });

  it('plans from the image tag with readiness unknown as a warning, asks nothing before the new pod logs its init line, and ends green', async () => {
    const message = await flow().request(t.driver, `upgrade ${TO}`, /planned/);
    const checklist = render(message);
    await flow().confirmAndStart(t.driver, message);

    // The new pod runs and the bot follows its log; Checkstack is still booting: any request now would kill it.
    const pod = await t.slack.waitFor(() => newPods.find((name) => k8s.followerCount(name) > 0), 30_000);
    expect(checkstack.requests.slice(requestsAtBoot)).toEqual([]);
    checkstack.initialize();
    k8s.appendLog(pod, INITIALIZED_LINE);

    expect(await flow().finalState(message, 60_000)).toBe('succeeded');
    expect(checkstack.died).toBeNull();
    expect(checklist).toContain(`from ${FROM} to ${TO}`);
    expect(checklist).toContain('readiness unknown: this release has no /.checkstack/ready');
    expect(checklist).not.toContain('confirm:unreachable_ack');
    const thread = threadText(message.ts);
    expect(thread).toMatch(/✅ \*Readiness\* finished in [^\n]*readiness unknown: this release has no \/\.checkstack\/ready; it logged "Checkstack Core initialized"/);
    expect(thread).toMatch(/➖ \*ready\*: readiness unknown/);
    expect(thread).toMatch(/✅ \*version\*: image tag 0\.31\.0/);
    expect(thread).toMatch(/➖ \*plugins\*: plugin comparison not available/);
    expect(thread).toMatch(/✅ \*ui\*: `GET \/` answers 200 with Checkstack's page/);
    expect(thread).not.toMatch(/❌/);
  }, 120_000);
});

const docker = dockerFromEnv();

describe.skipIf(!docker)('upgrading a 0.31-era Checkstack on a real Docker engine', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const repository = `${registry}/ck-old-era-${uniqueSuffix()}`;
  const containerName = `ck-old-era-${uniqueSuffix()}`;
  let port = 0;
  let github: FakeGithub;
  let t: TestBot;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const threadText = (ts: string) => t.slack.threadReplies(ts).map(render).join('\n');
  const logsOf = async (name: string) => (await engine.getContainer(name).logs({ stdout: true, stderr: true })).toString('utf8');

  beforeAll(async () => {
    for (const version of [FROM, TO]) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour: 'era-0.31', initAfterSeconds: 6 });
    }
    port = await freePort();
    await createCheckstackContainer(engine, { name: containerName, image: `${repository}:${FROM}`, port, restartPolicy: 'unless-stopped' });
    // The test itself must not ask the old container anything before its init line either.
    await pollUntil(async () => ((await logsOf(containerName)).includes('Checkstack Core initialized') ? true : undefined), 30_000);
    github = await startFakeGithub({ releases: releases() });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:${port}
    image: ${repository}
    docker: { host: "${dockerProxy.host}", container: ${containerName}, stopTimeout: 5 }
    postflight: { readyTimeout: 60, logWatch: 2, healthcheckMaxWait: 2, retention: 3600 }
`,
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await github?.close();
    if (!docker) return;
    await removeContainers(engine, [containerName, `${containerName}-pre-${TO}`]);
    await removeVolumes(engine, [`${containerName}-data`]);
  });

  it('upgrades without a request before the new container logs its init line, and ends green with readiness unknown', async () => {
    const message = await flow().request(t.driver, `upgrade ${TO}`, /planned/);
    const checklist = render(message);
    await flow().confirmAndStart(t.driver, message);

    expect(await flow().finalState(message, 150_000)).toBe('succeeded');
    const after = await engine.getContainer(containerName).inspect();
    expect(after.Config.Image).toBe(`${repository}:${TO}`);
    expect(after.State.Running).toBe(true);
    // A request before the line would have killed it: it would have restarted, and said why in its log.
    expect(after.RestartCount).toBe(0);
    const logs = await logsOf(containerName);
    expect(logs).toContain('Checkstack Core initialized');
    expect(logs).not.toContain(EARLY_REQUEST_LOG);
    expect(checklist).toContain('readiness unknown: this release has no /.checkstack/ready');
    expect(checklist).not.toContain('confirm:unreachable_ack');
    const thread = threadText(message.ts);
    for (const step of ['Re-check', 'Pull', 'Recreate', 'Readiness', 'Post-flight checks']) expect(thread).toMatch(new RegExp(`✅ \\*${step}\\* finished in`));
    expect(thread).toMatch(/readiness unknown: this release has no \/\.checkstack\/ready; it logged "Checkstack Core initialized" and `GET \/` answers 200/);
    expect(thread).toMatch(/✅ \*version\*: image tag 0\.31\.0/);
    expect(thread).not.toMatch(/❌/);
  }, 240_000);
});
