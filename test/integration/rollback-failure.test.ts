// After a rollback fails, its upgrade has its status again and the target can be rolled back anew: the full Slack flow
// on a Kubernetes target (the loopback API server and its fake controller), whose rollout the test makes stall.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesDeployer } from '../../src/targets/kubernetes.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { FakeKubernetes, kubeConfigFor } from '../fakes/fake-kubernetes.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const SECRET = 'checkstack-secrets';
const image = (version: string) => `ghcr.io/enyineer/checkstack:${version}`;

describe('a failed rollback', () => {
  let k8s: FakeKubernetes;
  let checkstack: FakeCheckstack;
  let github: FakeGithub;
  let t: TestBot;
  /** The upgrade the tests roll back, and its first rollback (which fails). */
  let upgraded: FakeMessage | undefined;
  let failedRollback: FakeMessage | undefined;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const threadText = (ts: string) => t.slack.threadReplies(ts).map((m) => m.text ?? '').join('\n');
  const row = async (ts: string) =>
    (await t.bot.deps.pool.query(`SELECT id, status, previous_status, status_detail FROM upgrades WHERE message_ts = $1`, [ts])).rows[0] as {
      id: string;
      status: string;
      previous_status: string | null;
      status_detail: string | null;
    };

  beforeAll(async () => {
    k8s = await FakeKubernetes.start({
      image: image('0.28.0'),
      history: ['0.27.0'],
      strategy: 'Recreate',
      autoRollout: true,
      env: [{ name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'encryption-master-key' } } }],
      secrets: { [SECRET]: { 'encryption-master-key': 'a3f1c9e07b5d2468a3f1c9e07b5d2468' } },
    });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.28.0' } });
    // Checkstack boots while its new pod starts, and reports the version of the image once the pod is ready.
    k8s.onRollout = ({ phase, image: rolledOut }) => {
      if (phase === 'started') {
        checkstack.state.ready = { kind: 'booting' };
        return;
      }
      checkstack.state.releaseVersion = rolledOut.slice(rolledOut.lastIndexOf(':') + 1);
      checkstack.state.ready = { kind: 'ready' };
    };
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    kubernetes: { namespace: ${k8s.namespace}, deployment: ${k8s.deploymentName}, container: ${k8s.containerName}, encryptionKeySecret: ${SECRET} }
    postflight: { readyTimeout: 20, logWatch: 2, healthcheckMaxWait: 2 }
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

  it('gives the upgrade back its status, says what the target runs now, and lets a new /checkstack rollback through', async () => {
    const message = await flow().request(t.driver, 'upgrade 0.30.0', /planned/);
    await flow().confirmAndStart(t.driver, message);
    expect(await flow().finalState(message, 60_000)).toBe('succeeded');
    upgraded = message;
    k8s.finishRollout();
    // The rollback's rollout never progresses; the deployer patches 0.30.0 back.
    k8s.stallWith('ProgressDeadlineExceeded');

    const rollback = await flow().request(t.driver, 'rollback', /Rollback of `prod` to `0\.28\.0` planned/);
    await flow().confirmAndStart(t.driver, rollback);
    failedRollback = rollback;

    expect(await flow().finalState(rollback, 60_000)).toBe('failed');
    const said = /↩️ The rollback to `0\.28\.0` failed, so the upgrade to `0\.30\.0` is \*succeeded\* again\. `prod` runs `ghcr\.io\/enyineer\/checkstack:0\.30\.0` now \(`checkstack`, read from the target after the failure\)\. `\/checkstack rollback prod` can try again\./;
    await t.slack.waitFor(() => said.test(threadText(message.ts)), 20_000);
    expect(threadText(rollback.ts)).toMatch(said);
    expect(await flow().finalState(message, 10_000)).toBe('succeeded');
    expect(await row(message.ts)).toMatchObject({ status: 'succeeded', previous_status: 'succeeded', status_detail: `a rollback to 0.28.0 failed; prod runs ${image('0.30.0')}` });
    expect(JSON.stringify(flow().current(message).blocks)).toContain('a rollback to 0.28.0 failed; prod runs');
    k8s.finishRollout();
    expect(k8s.container().image).toBe(image('0.30.0'));

    // The next rollback is planned, runs, and this time ends the upgrade as rolled back.
    const again = await flow().request(t.driver, 'rollback', /Rollback of `prod` to `0\.28\.0` planned/);
    await flow().confirmAndStart(t.driver, again);
    await t.slack.waitFor(() => flow().current(message).versions.some((v) => /Rolling back\*: to 0\.28\.0\./.test(JSON.stringify(v.blocks))), 30_000);
    expect(await flow().finalState(again, 60_000)).toBe('succeeded');
    expect(await flow().finalState(message, 10_000)).toBe('rolled back');
    expect(k8s.container().image).toBe(image('0.28.0'));
  }, 150_000);

  it('settles an upgrade a stopped bot left rolling back after its rollback failed, on the next sweep', async () => {
    expect(upgraded && failedRollback, 'the first test must pass first').toBeTruthy();
    // As a bot killed between ending the rollback and ending its upgrade leaves them.
    const original = await row(upgraded!.ts);
    await t.bot.deps.pool.query(`UPDATE upgrades SET status = 'rolling_back', previous_status = 'succeeded' WHERE id = $1`, [original.id]);
    await t.bot.deps.pool.query(`UPDATE upgrades SET created_at = now() WHERE message_ts = $1`, [failedRollback!.ts]);
    const before = t.slack.threadReplies(upgraded!.ts).length;

    await t.bot.deps.queues.housekeeping.add('sweep', {});

    const said = /↩️ The rollback to `0\.28\.0` failed, so the upgrade to `0\.30\.0` is \*succeeded\* again\. `prod` runs `ghcr\.io\/enyineer\/checkstack:0\.28\.0` now .*That is the version the rollback was to bring back, but it did not pass the checks above/;
    await t.slack.waitFor(() => t.slack.threadReplies(upgraded!.ts).slice(before).some((m) => said.test(m.text ?? '')), 20_000);
    expect(await row(upgraded!.ts)).toMatchObject({ status: 'succeeded' });
    await t.slack.waitFor(() => /: succeeded$/.test(flow().current(upgraded!).text ?? ''), 10_000);
  }, 60_000);
});
