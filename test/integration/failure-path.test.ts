// The failure path when the outside world says too much: a readiness check whose message runs to thousands of
// characters must still end in a failure the channel sees, a Roll back offer, and (with autoRollback) a rollback,
// whatever Slack accepts or refuses on the way. Kubernetes targets on the fake API server keep it fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployer } from '../../src/targets/deployer.js';
import { createKubernetesDeployer } from '../../src/targets/kubernetes.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { FakeKubernetes, kubeConfigFor } from '../fakes/fake-kubernetes.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const SECRET = 'checkstack-secrets';
const MASTER_KEY = '5e1a90c3b25f68e7d4e1a90c3b25f68e7d4e1a90c3b25f68e7d4e1a90c3b25f68';
const image = (version: string) => `ghcr.io/enyineer/checkstack:${version}`;

interface Target {
  k8s: FakeKubernetes;
  checkstack: FakeCheckstack;
  /** What the database check says while the new version is not ready. */
  checkMessage: string;
}

/** A database check message as long as a stack trace pasted into an error, with a mention Slack must not ring. */
const longMessage = (length: number) => `<!channel> connection refused: ${'🚀 pool exhausted at db:5432 & retrying; '.repeat(length / 40)}`.slice(0, length);

describe('a failure whose details are longer than Slack allows', () => {
  let github: FakeGithub;
  let t: TestBot;
  const targets: Record<'prod' | 'stage', Target> = {} as never;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const render = (m: FakeMessage) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`;
  const hasRollBackButton = (m: FakeMessage) => JSON.stringify(m.blocks ?? []).includes('"action_id":"rollback_upgrade"');
  const failureReplies = (ts: string) => t.slack.threadReplies(ts).filter((m) => /Upgrade failed/.test(m.text ?? ''));
  const topLevel = () => t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const upgradeRow = async (ts: string) =>
    (await t.bot.deps.pool.query<{ id: string; status: string; step: string | null; status_detail: string | null }>('SELECT id, status, step, status_detail FROM upgrades WHERE message_ts = $1', [ts])).rows[0];

  async function startTarget(name: 'prod' | 'stage'): Promise<Target> {
    const k8s = await FakeKubernetes.start({
      image: image('0.28.0'),
      history: ['0.27.0'],
      strategy: 'Recreate',
      autoRollout: true,
      env: [{ name: 'ENCRYPTION_MASTER_KEY', valueFrom: { secretKeyRef: { name: SECRET, key: 'encryption-master-key' } } }],
      secrets: { [SECRET]: { 'encryption-master-key': MASTER_KEY } },
    });
    const checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.28.0' } });
    const target: Target = { k8s, checkstack, checkMessage: longMessage(10_000) };
    // The new version never becomes ready: its database check fails with a long message. The old one is fine.
    k8s.onRollout = ({ phase, image: rolledOut }) => {
      const version = rolledOut.slice(rolledOut.lastIndexOf(':') + 1);
      if (phase === 'started') {
        checkstack.state.ready = { kind: 'booting' };
        return;
      }
      checkstack.state.releaseVersion = version;
      checkstack.state.ready =
        version === '0.28.0'
          ? { kind: 'ready' }
          : { kind: 'not_ready', checks: [{ name: 'database', critical: true, ok: false, message: target.checkMessage }] };
    };
    void name;
    return target;
  }

  beforeAll(async () => {
    targets.prod = await startTarget('prod');
    targets.stage = await startTarget('stage');
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    const kubernetes = (name: 'prod' | 'stage') =>
      `kubernetes: { namespace: ${targets[name].k8s.namespace}, deployment: ${targets[name].k8s.deploymentName}, container: ${targets[name].k8s.containerName}, encryptionKeySecret: ${SECRET} }`;
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: ${targets.prod.checkstack.url}
    ${kubernetes('prod')}
    postflight: { readyTimeout: 3, logWatch: 2, healthcheckMaxWait: 2, autoRollback: false }
  - name: stage
    baseUrl: ${targets.stage.checkstack.url}
    ${kubernetes('stage')}
    postflight: { readyTimeout: 3, logWatch: 2, healthcheckMaxWait: 2, autoRollback: true }
`,
      deployers: {
        kubernetes: (target, logger) =>
          createKubernetesDeployer({ kubeConfig: kubeConfigFor(targets[target.name as 'prod' | 'stage'].k8s), target: target.kubernetes!, logger, pollIntervalMs: 100, rolloutTimeoutMs: 20_000 }),
      },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([github?.close(), ...Object.values(targets).flatMap((x) => [x.k8s.close(), x.checkstack.close()])]);
  });

  /** Plans, approves and starts an upgrade of `target` to 0.30.0, and waits until its parent message says failed. */
  async function failedUpgrade(target: 'prod' | 'stage'): Promise<FakeMessage> {
    targets[target].k8s.finishRollout();
    const message = await flow().request(t.driver, `upgrade 0.30.0 ${target}`);
    await flow().confirmAndStart(t.driver, message);
    await flow().reachedState(message, 'failed', 60_000);
    return message;
  }

  it('posts the failure of a readiness check with a 10,000-character message, updates the parent message and offers Roll back', async () => {
    const message = await failedUpgrade('prod');

    const [failure, ...more] = await t.slack.waitFor(() => failureReplies(message.ts).length > 0 && failureReplies(message.ts), 20_000);
    expect(more).toEqual([]);
    expect(failure!.text).toMatch(/❌ \*Upgrade failed\* at \*Readiness\*: logged `Checkstack Core initialized` but was not ready within 3 s/);
    expect(render(failure!)).toContain('database (&lt;!channel&gt; connection refused: 🚀 pool exhausted');
    expect(JSON.stringify(t.slack.calls())).not.toContain('<!channel>');
    expect(hasRollBackButton(failure!)).toBe(true);
    const parent = flow().current(message);
    expect(parent.text).toMatch(/: failed$/);
    expect(hasRollBackButton(parent)).toBe(true);
    expect(await upgradeRow(message.ts)).toMatchObject({ status: 'failed', step: 'readiness' });

    // The offer works: a click on the thread's button plans the rollback, which runs once approved.
    const before = topLevel().length;
    await t.driver.click(failure!, 'rollback_upgrade', { user: REQUESTER });
    const rollback = await t.slack.waitFor(() => topLevel().length > before && topLevel().at(-1), 20_000);
    expect(rollback.text).toMatch(/^Roll back prod from 0\.30\.0 to 0\.28\.0: waiting for confirmations$/);
    await flow().confirmAndStart(t.driver, rollback);
    expect(await flow().finalState(rollback, 60_000)).toBe('succeeded');
    expect(await flow().finalState(message, 20_000)).toBe('rolled back');
  }, 120_000);

  it('rolls back automatically after such a failure when postflight.autoRollback is on', async () => {
    const before = topLevel().length;
    const message = await failedUpgrade('stage');

    const rollback = await t.slack.waitFor(() => topLevel().length > before + 1 && topLevel().at(-1), 30_000);
    expect(await flow().finalState(rollback, 60_000)).toBe('succeeded');
    expect(await flow().finalState(message, 20_000)).toBe('rolled back');
    expect(t.slack.threadReplies(message.ts).map((m) => m.text).join('\n')).toMatch(/Rolling back automatically/);
    targets.stage.k8s.finishRollout();
    expect(targets.stage.k8s.container().image).toBe(image('0.28.0'));
  }, 120_000);

  it('posts a shorter failure, with the Roll back offer, when Slack refuses the first one', async () => {
    // Longer than Slack's 40,000-character cut for a whole message.
    targets.prod.checkMessage = longMessage(45_000);
    t.slack.failWhen('chat.postMessage', (args) => /Upgrade failed/.test(String(args.text)), 1, { error: 'invalid_blocks' });

    const message = await failedUpgrade('prod');

    const [failure, ...more] = await t.slack.waitFor(() => failureReplies(message.ts).length > 0 && failureReplies(message.ts), 20_000);
    expect(more).toEqual([]);
    expect(hasRollBackButton(failure!)).toBe(true);
    const refused = t.slack.calls('chat.postMessage').filter((c) => c.status === 200 && (c.response as { ok: boolean }).ok === false);
    expect(refused.map((c) => (c.response as { error: string }).error)).toEqual(['invalid_blocks']);
    expect(String(failure!.text).length).toBeLessThan(String(refused[0]!.args.text).length);
    expect(hasRollBackButton(flow().current(message))).toBe(true);
  }, 90_000);

  it('still records the failure, refreshes the parent and rolls back automatically when Slack refuses every failure post', async () => {
    t.slack.failWhen('chat.postMessage', (args) => /Upgrade failed/.test(String(args.text)), 10, { error: 'invalid_blocks' });
    const before = topLevel().length;

    const message = await failedUpgrade('stage');

    const rollback = await t.slack.waitFor(() => topLevel().length > before + 1 && topLevel().at(-1), 30_000);
    expect(await flow().finalState(rollback, 60_000)).toBe('succeeded');
    expect(await flow().finalState(message, 20_000)).toBe('rolled back');
    expect(failureReplies(message.ts)).toEqual([]);
  }, 120_000);

  it('keeps /checkstack history within Slack limits when an upgrade failed with a detail longer than a whole message', async () => {
    const response = await t.driver.slashCommand('/checkstack', 'history prod', { user: REQUESTER, channel: CHANNEL });

    const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl), 20_000);
    const text = String(reply.payload.text);
    expect(text.length).toBeLessThanOrEqual(4000);
    expect(text.match(/\*(failed|rolled_back|succeeded)\*/g)).toEqual(['*failed*', '*succeeded*', '*rolled_back*']);
    expect(text).toContain('Readiness: logged `Checkstack Core initialized` but was not ready within 3 s');
    expect(text).not.toContain('<!channel>');
  }, 30_000);
});

/** A bot with one Docker target, `prod`, whose deployer is `deployer` and whose Checkstack runs 0.28.0. */
async function startStaticTargetBot(deployer: Deployer): Promise<{ t: TestBot; close(): Promise<void> }> {
  const github = await startFakeGithub({ releases: loadFixtureReleases() });
  const checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.28.0' } });
  const t = await startTestBot({
    env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
    configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
`,
    deployers: { docker: () => deployer },
  });
  await waitForQueueIdle(t.bot.deps.queues.releases);
  return {
    t,
    close: async () => {
      await t.close();
      await Promise.all([github.close(), checkstack.close()]);
    },
  };
}

describe('an error in a step that nobody foresaw', () => {
  const RAW = "Cannot read properties of undefined (reading 'internal-detail-7f3a')";
  let t: TestBot;
  let close: (() => Promise<void>) | undefined;
  let broken = false;
  const deployer = staticDeployer({ tag: '0.28.0' });
  const describeInstance = deployer.describe;
  deployer.describe = async () => {
    if (broken) throw new TypeError(RAW);
    return describeInstance();
  };

  beforeAll(async () => {
    ({ t, close } = await startStaticTargetBot(deployer));
  }, 60_000);

  afterAll(async () => close?.());

  it('is shown in the thread by a reference id, on every attempt, and the log has the error and its stack under that id', async () => {
    const flow = upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
    const message = await flow.request(t.driver, 'upgrade 0.30.0');
    broken = true;
    await flow.confirmAndStart(t.driver, message);

    expect(await flow.finalState(message, 60_000)).toBe('failed');
    const replies = t.slack.threadReplies(message.ts).flatMap((m) => m.versions.map((v) => v.text ?? ''));
    const retries = replies.filter((text) => /hit an unexpected error/.test(text)).map((text) => /reference `([0-9a-f]{8})`/.exec(text)?.[1]);
    const failed = replies.find((text) => /^❌ \*Upgrade failed\* at \*Re-check\*/.test(text)) ?? '';
    const finalId = /reference `([0-9a-f]{8})`/.exec(failed)?.[1];
    expect(retries).toHaveLength(2);
    expect(finalId).toBeDefined();
    expect(new Set([...retries, finalId]).size).toBe(3);
    expect(flow.current(message).blocks?.map((b) => JSON.stringify(b)).join('')).toContain(`reference \`${finalId}\``);
    expect(JSON.stringify(t.slack.calls())).not.toContain('internal-detail-7f3a');
    const logged = t.logs.entries().filter((e) => e.msg === 'upgrade step hit an unexpected error');
    expect(logged.map((e) => e.referenceId)).toEqual([...retries, finalId]);
    for (const entry of logged) expect((entry.err as { stack?: string }).stack).toMatch(/TypeError: Cannot read properties of undefined \(reading 'internal-detail-7f3a'\)/);
  }, 90_000);

  it('marks a job BullMQ gave up on failed, with a reference id in the thread and the error under it in the log', async () => {
    broken = false;
    const flow = upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
    const message = await flow.request(t.driver, 'upgrade 0.30.0');
    // Every attempt dies before its first step can start: Slack refuses the step's first reply.
    t.slack.failWhen('chat.postMessage', (args) => args.thread_ts === message.ts && /started/.test(String(args.text)), 3, { error: 'fatal_error' });
    await flow.confirmAndStart(t.driver, message);

    expect(await flow.finalState(message, 60_000)).toBe('failed');
    const gaveUp = await t.slack.waitFor(() => t.slack.threadReplies(message.ts).find((m) => /gave up/.test(m.text ?? '')), 20_000);
    const referenceId = /reference `([0-9a-f]{8})`/.exec(gaveUp.text ?? '')?.[1];
    expect(gaveUp.text).toMatch(/^❌ \*Upgrade failed\* at \*Re-check\*: the job gave up after 3 attempts \(reference `[0-9a-f]{8}`; the details are in the bot's log\)$/);
    expect(JSON.stringify(flow.current(message).blocks)).toContain(`the job gave up after 3 attempts (reference ${referenceId})`);
    const logged = t.logs.entries().find((e) => e.msg === 'upgrade job given up');
    expect(logged).toMatchObject({ referenceId, err: { message: expect.stringMatching(/Slack did not accept a reply/) } });
  }, 90_000);
});

describe('a target that changed between the plan and the start', () => {
  let t: TestBot;
  let close: (() => Promise<void>) | undefined;
  const deployer = staticDeployer({ tag: '0.28.0', id: 'a1b2c3d4e5f6a7b8c9d0' });

  beforeAll(async () => {
    ({ t, close } = await startStaticTargetBot(deployer));
  }, 60_000);

  afterAll(async () => close?.());

  it('fails the Re-check with target_drifted, naming the container the plan saw and the one that runs now', async () => {
    const flow = upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
    const message = await flow.request(t.driver, 'upgrade 0.30.0');
    // Someone recreated the container by hand after the plan: same tag, another id.
    deployer.instance.id = 'f0e1d2c3b4a5968778695a4b';

    await flow.confirmAndStart(t.driver, message);

    expect(await flow.finalState(message, 60_000)).toBe('failed');
    const replies = t.slack.threadReplies(message.ts).map((m) => m.text ?? '');
    expect(replies).toContainEqual(expect.stringMatching(/^❌ \*Upgrade failed\* at \*Re-check\*: the container changed since the plan \(was a1b2c3d4e5f6, now f0e1d2c3b4a5\)/));
    expect(t.logs.entries().find((e) => e.msg === 'upgrade step failed')).toMatchObject({ step: 'recheck', err: { code: 'target_drifted' } });
  }, 90_000);
});
