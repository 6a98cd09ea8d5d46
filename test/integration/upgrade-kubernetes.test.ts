// The full Slack flow on a Kubernetes target, with no cluster: the real bot and @kubernetes/client-node against a
// loopback API server whose fake controller rolls the Deployment out, and a fake Checkstack that runs whatever
// image the controller last made ready.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../../src/domain/fingerprint.js';
import { createKubernetesDeployer } from '../../src/targets/kubernetes.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { CHANGE_CAUSE, FakeKubernetes, kubeConfigFor, REVISION } from '../fakes/fake-kubernetes.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { startTestBot, type TestBot, type TestBotOptions } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const SECRET = 'checkstack-secrets';
const MASTER_KEY = '7d4e1a90c3b25f68e7d4e1a90c3b25f68e7d4e1a90c3b25f68e7d4e1a90c3b25f';
const image = (version: string) => `ghcr.io/enyineer/checkstack:${version}`;

describe('the upgrade job on a Kubernetes target', () => {
  let k8s: FakeKubernetes;
  let checkstack: FakeCheckstack;
  let github: FakeGithub;
  let t: TestBot;
  /** The second bot of the restart test, once it started. */
  let restarted: TestBot | undefined;
  // The Deployment's manifest in Git: the pull request changes its image line and nothing else.
  const MANIFEST = 'deploy/kubernetes/checkstack.yaml';
  const manifest = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkstack
spec:
  strategy:
    type: Recreate   # one replica: "unavailable" beats half-migrated
  template:
    spec:
      containers:
        - name: checkstack
          image: ghcr.io/enyineer/checkstack:${version}
`;
  let merger: NodeJS.Timeout;
  let holdPulls = false;
  /** When set, the fake Checkstack reports this version whatever image runs (a broken build). */
  let reportedVersion: string | null = null;
  /** The parent message of the successful upgrade, which the rollback test rolls back. */
  let upgraded: FakeMessage | undefined;

  const render = (m: FakeMessage) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`;
  const threadText = (ts: string) => t.slack.threadReplies(ts).map(render).join('\n');
  const patches = () => k8s.requestsFor('patch', 'deployments');
  const podImages = () => k8s.livePods().map((pod) => pod.spec!.containers[0]!.image);
  const imageOfReplicaSet = (version: string) => k8s.replicaSets.find((rs) => rs.spec!.template!.spec!.containers[0]!.image === image(version))!;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const request = (text: string, planned: RegExp) => flow().request(t.driver, text, planned);
  const approveAndStart = (message: FakeMessage) => flow().confirmAndStart(t.driver, message);
  const finalStatus = (message: FakeMessage, timeoutMs = 30_000) => flow().finalState(message, timeoutMs);

  /** Every text a thread reply ever showed, oldest first: progress lives in versions that later updates replace. */
  function versionsOf(ts: string, prefix: string): string[] {
    const reply = t.slack.threadReplies(ts).find((m) => m.versions.some((v) => v.text?.startsWith(prefix)));
    return reply?.versions.map((v) => v.text ?? '') ?? [];
  }

  /** The bot of this file; the restart test starts a second one like it on the same database, queues and Slack. */
  const botOptions = (): TestBotOptions => ({
    env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
    configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    kubernetes: { namespace: ${k8s.namespace}, deployment: ${k8s.deploymentName}, container: ${k8s.containerName}, encryptionKeySecret: ${SECRET} }
    postflight: { readyTimeout: 20, logWatch: 2, healthcheckMaxWait: 2, autoRollback: true }
    pin: { github: { repo: enyineer/checkstack, path: ${MANIFEST}, branch: main, mode: pull-request, mergeTimeout: 60 } }
`,
    deployers: {
      kubernetes: (target, logger) =>
        createKubernetesDeployer({ kubeConfig: kubeConfigFor(k8s), target: target.kubernetes!, logger, pollIntervalMs: 100, rolloutTimeoutMs: 20_000 }),
    },
  });

  beforeAll(async () => {
    k8s = await FakeKubernetes.start({
      image: image('0.28.0'),
      history: ['0.27.0'],
      strategy: 'Recreate',
      autoRollout: true,
      env: [
        { name: 'DATABASE_URL', value: 'postgres://checkstack@db/checkstack' },
        { name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'encryption-master-key' } } },
      ],
      secrets: { [SECRET]: { 'encryption-master-key': MASTER_KEY } },
    });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.28.0' } });
    // Checkstack boots while its new pod starts, and reports the version of the image once the pod is ready.
    k8s.onRollout = ({ phase, image: rolledOut }) => {
      if (phase === 'started') {
        checkstack.state.ready = { kind: 'booting' };
        return;
      }
      checkstack.state.releaseVersion = reportedVersion ?? rolledOut.slice(rolledOut.lastIndexOf(':') + 1);
      checkstack.state.ready = { kind: 'ready' };
    };
    github = await startFakeGithub({ releases: loadFixtureReleases(), files: { [MANIFEST]: manifest('0.28.0') } });
    // The team merges the bot's pull requests at once, unless a test holds them.
    merger = setInterval(() => {
      if (holdPulls) return;
      for (const pull of github.pulls) if (pull.state === 'open' && !pull.merged) github.mergePull(pull.number);
    }, 100);
    t = await startTestBot(botOptions());
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 60_000);

  afterAll(async () => {
    clearInterval(merger);
    await restarted?.close();
    await t?.close();
    await Promise.all([k8s?.close(), checkstack?.close(), github?.close()]);
  });

  it('upgrades the Deployment with one image patch naming who asked, and tells the story in the thread', async () => {
    const message = await request('upgrade 0.30.0', /planned/);
    const checklist = render(message);
    await approveAndStart(message);

    expect(await finalStatus(message)).toBe('succeeded');
    upgraded = message;
    expect(github.files.get('main', MANIFEST)?.content).toBe(manifest('0.30.0'));
    expect(github.pulls.at(-1)).toMatchObject({ state: 'closed', merged: true });
    expect(threadText(message.ts)).toMatch(/Pull request opened/);
    // The checklist: the Deployment and its key, as a shortened fingerprint only.
    expect(checklist).toContain(`Deployment found and running`);
    expect(checklist).toContain(`checkstack runs ${image('0.28.0')}`);
    expect(checklist).toContain(`SHA-256 fingerprint \`${fingerprintSecret(MASTER_KEY).slice(0, 12)}…\``);
    expect(checklist).not.toContain(fingerprintSecret(MASTER_KEY));
    // The thread: every step, the rollout's progress while it ran, and the outcome.
    const thread = threadText(message.ts);
    for (const step of ['Re-check', 'Git record', 'Pull', 'Recreate', 'Readiness', 'Post-flight checks']) expect(thread).toMatch(new RegExp(`✅ \\*${step}\\* finished in`));
    expect(thread).toMatch(/✅ \*Pull\* finished in [^\n]*nothing to pull here: the cluster pulls/);
    expect(thread).toMatch(/✅ \*Recreate\* finished in [^\n]*checkstack runs ghcr\.io\/enyineer\/checkstack:0\.30\.0; the previous ReplicaSet is kept as checkstack-/);
    expect(versionsOf(message.ts, '⏳ *Recreate*')).toContainEqual(expect.stringMatching(/^⏳ \*Recreate\*: Waiting for deployment "checkstack" rollout to finish/));
    expect(thread).toMatch(/Upgrade succeeded\* *: `prod` runs `0\.30\.0`/);
    // The cluster: exactly one strategic-merge patch of the image, with the change-cause `rollout history` shows.
    expect(patches()).toHaveLength(1);
    expect(patches()[0]!.contentType).toBe('application/strategic-merge-patch+json');
    expect(patches()[0]!.body).toEqual({
      metadata: { annotations: { [CHANGE_CAUSE]: expect.any(String) } },
      spec: { template: { spec: { containers: [{ name: 'checkstack', image: image('0.30.0') }] } } },
    });
    const cause = k8s.deployment.metadata!.annotations![CHANGE_CAUSE]!;
    expect(cause).toMatch(/upgrade to 0\.30\.0/);
    expect(cause).toMatch(new RegExp(`requested by Slack user ${REQUESTER}; approved by ${APPROVER}`));
    expect(k8s.container().image).toBe(image('0.30.0'));
    expect(podImages()).toEqual([image('0.30.0')]);
    expect(checkstack.state.releaseVersion).toBe('0.30.0');
    // The key's value never left the cluster.
    expect(JSON.stringify(t.slack.messages())).not.toContain(MASTER_KEY);
    expect(t.logs.text()).not.toContain(MASTER_KEY);
  }, 60_000);

  it('rolls back to the previous ReplicaSet through its own checklist, and marks the upgrade rolled back', async () => {
    expect(upgraded, 'the upgrade test must pass first').toBeDefined();
    const original = upgraded!;
    const previous = imageOfReplicaSet('0.28.0');
    const revisionBefore = Number(k8s.deployment.metadata!.annotations![REVISION]);

    const rollback = await request('rollback', /Rollback of `prod` to `0\.28\.0` planned/);
    const checklist = render(rollback);
    await approveAndStart(rollback);

    expect(await finalStatus(rollback)).toBe('succeeded');
    expect(checklist).toMatch(/not reversed/);
    expect(k8s.container().image).toBe(image('0.28.0'));
    // As `kubectl rollout undo`: the 0.28.0 ReplicaSet runs again under the next revision, not a new one.
    expect(k8s.replicaSets.filter((rs) => rs.spec!.template!.spec!.containers[0]!.image === image('0.28.0'))).toEqual([previous]);
    expect(Number(previous.metadata!.annotations![REVISION])).toBe(revisionBefore + 1);
    expect(k8s.livePods().map((pod) => pod.metadata!.ownerReferences![0]!.uid)).toEqual([previous.metadata!.uid]);
    expect(patches()).toHaveLength(2);
    expect(patches()[1]!.body).toMatchObject({ spec: { template: { spec: { containers: [{ name: 'checkstack', image: image('0.28.0') }] } } } });
    expect(k8s.deployment.metadata!.annotations![CHANGE_CAUSE]).toMatch(new RegExp(`roll back 0\\.30\\.0 to 0\\.28\\.0 .*requested by Slack user ${REQUESTER}; approved by ${APPROVER}`));
    expect(versionsOf(rollback.ts, '⏳ *Roll back*')).toContainEqual(expect.stringMatching(/^⏳ \*Roll back\*: Waiting for deployment "checkstack" rollout to finish/));
    expect(threadText(rollback.ts)).toMatch(/✅ \*Roll back\* finished in [^\n]*the kept previous ReplicaSet runs again \(ghcr\.io\/enyineer\/checkstack:0\.28\.0\)/);
    expect(checkstack.state.releaseVersion).toBe('0.28.0');
    expect(await flow().finalState(original, 10_000)).toBe('rolled back');
  }, 60_000);

  it('fails at Recreate when the rollout exceeds its progress deadline, and the previous image runs again', async () => {
    // Let the controller settle the last rollout, so the stall applies to the next one.
    k8s.finishRollout();
    k8s.stallWith('ProgressDeadlineExceeded');
    const patchesBefore = patches().length;
    const message = await request('upgrade 0.30.0', /planned/);
    await approveAndStart(message);

    expect(await finalStatus(message)).toBe('failed');
    const thread = threadText(message.ts);
    expect(thread).toMatch(/❌ \*Recreate\* failed after [^\n]*ProgressDeadlineExceeded/);
    expect(thread).toMatch(/Upgrade failed\* at \*Recreate\*: [^\n]*has timed out progressing[^\n]*was patched back and runs again\. `0\.28\.0` is still running\./);
    expect(thread).not.toMatch(/\*Readiness\* started/);
    // The upgrade's patch, then the deployer's own patch back to the previous image.
    expect(patches().slice(patchesBefore).map((p) => (p.body as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec.template.spec.containers[0]!.image)).toEqual([
      image('0.30.0'),
      image('0.28.0'),
    ]);
    k8s.finishRollout();
    expect(k8s.container().image).toBe(image('0.28.0'));
    expect(podImages()).toEqual([image('0.28.0')]);
    expect(k8s.deployment.status).toMatchObject({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    expect(checkstack.state.releaseVersion).toBe('0.28.0');
  }, 60_000);

  it('rolls back on its own when the version check fails and postflight.autoRollback is on, and says so', async () => {
    k8s.finishRollout();
    reportedVersion = '0.28.0';
    const before = t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts).length;
    try {
      const message = await request('upgrade 0.30.0', /planned/);
      await approveAndStart(message);

      await flow().reachedState(message, 'failed', 30_000);
      await t.slack.waitFor(() => /Rolling back automatically/.test(threadText(message.ts)), 20_000);
      const rollback = await t.slack.waitFor(() => {
        const top = t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts);
        return top.length > before + 1 && top.at(-1);
      }, 20_000);
      expect(await finalStatus(rollback, 60_000)).toBe('succeeded');
      expect(await finalStatus(message, 10_000)).toBe('rolled back');
      expect(threadText(message.ts)).toMatch(/❌ \*version\*/);
      k8s.finishRollout();
      expect(k8s.container().image).toBe(image('0.28.0'));
    } finally {
      reportedVersion = null;
    }
  }, 90_000);

  it('cancels an upgrade that waits for its pull request to be merged: the pull request is closed, the Deployment untouched', async () => {
    k8s.finishRollout();
    holdPulls = true;
    const patchesBefore = patches().length;
    try {
      const message = await request('upgrade 0.30.0', /planned/);
      await approveAndStart(message);
      await t.slack.waitFor(() => /Pull request opened/.test(threadText(message.ts)), 20_000);

      const cancel = await t.driver.slashCommand('/checkstack', 'cancel', { user: REQUESTER, channel: CHANNEL });

      const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === cancel.responseUrl), 10_000);
      expect(reply.payload.text).toMatch(/Cancelled the upgrade of `prod`/);
      expect(await finalStatus(message)).toBe('cancelled');
      await t.slack.waitFor(() => /⏹️ \*Git record\*: the upgrade was cancelled while waiting for pull request #\d+; it was closed and nothing changed/.test(threadText(message.ts)), 30_000);
      const pull = github.pulls.at(-1)!;
      expect(pull).toMatchObject({ state: 'closed', merged: false });
      expect(pull.comments.join('\n')).toMatch(/cancelled in Slack/);
      expect(patches().length).toBe(patchesBefore);
      expect(k8s.container().image).toBe(image('0.28.0'));
      expect(threadText(message.ts)).not.toMatch(/Recreate\* started/);
    } finally {
      holdPulls = false;
    }
  }, 90_000);

  // Last in this file: it stops the file's bot and goes on with a second one.
  it('stops waiting for the rollout when the bot shuts down, and the restarted bot only waits for it and finishes', async () => {
    k8s.finishRollout();
    const message = await request('upgrade 0.30.0', /planned/);
    const patchesBefore = patches().length;
    // The rollout now moves only when the test says so.
    k8s.autoRollout = false;
    try {
      await approveAndStart(message);
      await t.slack.waitFor(() => patches().length > patchesBefore, 30_000);
      expect(k8s.container().image).toBe(image('0.30.0'));

      await t.bot.stop();

      expect(threadText(message.ts)).toMatch(/⏸️ \*Recreate\* interrupted after [^:]+: the bot is shutting down and resumes it on restart/);
      expect(threadText(message.ts)).not.toMatch(/❌|restored|Restoring/);
      expect(k8s.container().image).toBe(image('0.30.0'));

      k8s.finishRollout();
      restarted = await startTestBot({ ...botOptions(), database: t.database, fakeSlack: t.slack, queuePrefix: t.queuePrefix });
      expect(await finalStatus(message, 60_000)).toBe('succeeded');
      expect(threadText(message.ts)).toMatch(/↩️ Resuming after \*[^*]+\* \(the worker restarted\)/);
      expect(threadText(message.ts)).toMatch(/already done before a restart/);
      // Patched once: the restarted job found the image in place and only waited.
      expect(patches().length).toBe(patchesBefore + 1);
      expect(checkstack.state.releaseVersion).toBe('0.30.0');
    } finally {
      k8s.autoRollout = true;
    }
  }, 120_000);
});
