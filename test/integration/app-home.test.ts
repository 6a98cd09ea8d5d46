// The Home tab end to end: a signed app_home_opened in, views.publish on the fake Slack out; refreshed after the
// steps of an upgrade, a burst of steps coalesced; approver-only buttons for approvers only; a Slack that refuses
// the view fails nothing. The target is a static deployer whose Pull fails: the upgrade's steps run, no Docker needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppHomeStore } from '../../src/db/app-home-store.js';
import { AppError } from '../../src/errors.js';
import type { Deployer } from '../../src/targets/deployer.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeHomeView } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { upgradeFlow } from '../support/upgrade-flow.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const MEMBER = 'U0MEMBER1';
/** Opened the Home tab 25 hours ago: too long ago to be refreshed after a step. */
const STALE_VIEWER = 'U0STALE1';
const CHANNEL = 'C0OPS';
const PULL_REFUSED = 'the registry refused the image (test)';

/** Prod runs 0.25.0 by its tag; edge runs `latest`, which its /api/about says is 0.25.0. Pull always fails. */
function deployerFor(tag: string): Deployer {
  return {
    ...staticDeployer({ tag }),
    pull: async () => {
      throw new AppError('image_pull_failed', PULL_REFUSED);
    },
  };
}

describe('the Home tab', () => {
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let t: TestBot;

  const flow = () => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const viewText = (v: FakeHomeView | undefined) => JSON.stringify(v?.view.blocks ?? []);
  const section = (v: FakeHomeView | undefined, target: string) =>
    (v?.view.blocks.find((b) => b.block_id === `home_target:${target}`) as { text: { text: string }; accessory?: { action_id: string; value: string } } | undefined);

  /** Nothing left in the app-home queue: no refresh waiting out its delay, no publish waiting or running. */
  async function homeQueueSettled(): Promise<void> {
    await t.slack.waitFor(async () => {
      const counts = await t.bot.deps.queues.appHome.raw.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    }, 30_000);
  }

  async function openHome(user: string): Promise<FakeHomeView> {
    const before = t.slack.homeViews(user).length;
    const response = await t.driver.openHome(user);
    expect(response.status).toBe(200);
    return t.slack.waitFor(() => t.slack.homeViews(user).length > before && t.slack.homeViews(user).at(-1), 15_000);
  }

  beforeAll(async () => {
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
  requireSecondPerson: true
targets:
  - name: prod
    default: true
    channel: ${CHANNEL}
    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
  - name: edge
    baseUrl: ${checkstack.url}
    docker: { container: checkstack-edge }
`,
      deployers: { docker: (target) => deployerFor(target.name === 'edge' ? 'latest' : '0.25.0') },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
    await t.slack.waitFor(async () => (await t.bot.deps.db.releases.stableVersions(1)).length > 0, 15_000);
  });
  afterAll(async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
  });

  it('publishes nothing for the Messages tab, nor for an unsigned event', async () => {
    const forged = await t.driver.send(JSON.stringify(t.driver.eventCallback({ type: 'app_home_opened', user: MEMBER, channel: 'D0MEMBER', tab: 'home' })), { secret: 'not-the-secret' });
    await t.driver.openHome(MEMBER, { tab: 'messages' });
    await openHome(APPROVER);
    await homeQueueSettled();

    expect(forged.status).toBe(401);
    expect(t.slack.homeViews(MEMBER)).toEqual([]);
    expect(t.slack.calls('views.publish').map((c) => c.args.user_id)).toEqual([APPROVER]);
  });

  it("answers Slack's url_verification of the events request URL (the manifest subscribes it to app_home_opened)", async () => {
    const response = await t.driver.send(JSON.stringify({ token: t.slack.verificationToken, challenge: 'c0ffee-challenge', type: 'url_verification' }));

    expect(response.status).toBe(200);
    expect(response.text).toContain('c0ffee-challenge');
  });

  it('shows a member each target with its version, the newest release and how far behind, and Plan upgrade but no Pin', async () => {
    const home = await openHome(MEMBER);

    expect(home.view.type).toBe('home');
    expect(section(home, 'prod')?.text.text).toContain('*prod* runs `0.25.0`');
    expect(section(home, 'prod')?.text.text).toContain('v0.30.0> · behind by 3 minor lines and 0 patches');
    expect(section(home, 'prod')?.accessory).toMatchObject({ action_id: 'home_plan_upgrade', value: 'prod 0.30.0' });
    expect(section(home, 'edge')?.text.text).toContain('*edge* runs `latest` = `0.25.0`');
    expect(viewText(home)).not.toContain('pin_version');
  });

  it('shows an approver Pin for the target on `latest`', async () => {
    const home = await openHome(APPROVER);

    expect(section(home, 'edge')?.accessory).toMatchObject({ action_id: 'pin_version', value: 'edge 0.25.0' });
  });

  it('refuses a Plan upgrade click whose value names no version, in an ephemeral reply, planning nothing', async () => {
    const home = await openHome(MEMBER);
    const before = flow().topLevel().length;

    await t.driver.clickHome(home.view, 'home_plan_upgrade', { user: MEMBER, value: 'prod latest' });

    const reply = await t.slack.waitFor(() => t.slack.ephemerals(MEMBER).find((e) => e.channel === CHANNEL), 10_000);
    expect(reply.text).toBe('That button does not name a version; nothing changed.');
    expect(flow().topLevel()).toHaveLength(before);
  });

  it('plans the upgrade a member clicks on the Home tab: the checklist in the target channel, its link in the Home tab', async () => {
    const home = await openHome(MEMBER);
    const before = flow().topLevel().length;

    await t.driver.clickHome(home.view, 'home_plan_upgrade', { user: MEMBER });

    const checklist = await t.slack.waitFor(() => flow().topLevel().length > before && flow().topLevel().at(-1), 15_000);
    const reply = await t.slack.waitFor(() => t.slack.ephemerals(MEMBER).find((e) => /planned from the Home tab/.test(e.text ?? '')), 10_000);
    expect(reply.text).toContain('from `0.25.0` to `0.30.0`');
    expect(JSON.stringify(checklist.blocks)).toContain('confirm:');
    const refreshed = await t.slack.waitFor(() => t.slack.homeViews(MEMBER).find((v) => /In flight:/.test(section(v, 'prod')?.text.text ?? '')), 15_000);
    expect(section(refreshed, 'prod')?.text.text).toMatch(/In flight: <https:\/\/fake-team\.slack\.com\/archives\/C0OPS\/p\d+\|upgrade `0\.25\.0` → `0\.30\.0`>, confirming/);
    expect(section(refreshed, 'prod')?.accessory).toBeUndefined();

    await t.driver.slashCommand('/checkstack', 'cancel prod', { user: REQUESTER, channel: CHANNEL });
    await t.slack.waitFor(async () => (await t.bot.deps.db.upgrades.activeForTarget('prod')) === null, 10_000);
  });

  it('is refreshed for a recent viewer when a request is planned in the channel and when it is cancelled', async () => {
    await openHome(APPROVER);
    await homeQueueSettled();

    const message = await flow().request(t.driver, 'upgrade 0.30.0');
    const planned = await t.slack.waitFor(() => t.slack.homeViews(APPROVER).find((v) => /In flight:.*confirming/.test(section(v, 'prod')?.text.text ?? '')), 15_000);
    expect(section(planned, 'prod')?.text.text).toContain(`p${message.ts.replace('.', '')}`);

    const published = t.slack.homeViews(APPROVER).length;
    await t.driver.slashCommand('/checkstack', 'cancel prod', { user: REQUESTER, channel: CHANNEL });
    const cancelled = await t.slack.waitFor(
      () => t.slack.homeViews(APPROVER).slice(published).find((v) => !/In flight:/.test(section(v, 'prod')?.text.text ?? '') && /Last:.*cancelled/.test(section(v, 'prod')?.text.text ?? '')),
      15_000,
    );
    expect(section(cancelled, 'prod')?.text.text).toMatch(/Last: <[^|]+\|upgrade `0\.25\.0` → `0\.30\.0`>: cancelled/);
    await homeQueueSettled();
  });

  it('is refreshed after the steps of an upgrade, a burst of steps giving fewer publishes than steps', async () => {
    await createAppHomeStore(t.bot.deps.pool).opened(STALE_VIEWER, new Date(Date.now() - 25 * 3600_000));
    await openHome(APPROVER);
    await homeQueueSettled();
    const before = t.slack.homeViews(APPROVER).length;
    const message = await flow().request(t.driver, 'upgrade 0.30.0');

    await flow().confirmAndStart(t.driver, message);
    expect(await flow().finalState(message)).toBe('failed');
    await homeQueueSettled();

    // Each step's reply is posted as "▶️ … started" and then edited into its result.
    const stepsStarted = t.slack.threadReplies(message.ts).filter((reply) => /started/.test(reply.versions[0]?.text ?? '')).length;
    const after = t.slack.homeViews(APPROVER).slice(before);
    expect(stepsStarted).toBeGreaterThanOrEqual(3);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after.length).toBeLessThan(stepsStarted);
    expect(section(after.at(-1), 'prod')?.text.text).toMatch(/Last: <https:\/\/fake-team\.slack\.com\/archives\/C0OPS\/p\d+\|upgrade `0\.25\.0` → `0\.30\.0`>: failed/);
    // Who never opened the Home tab, or not lately, is not published to.
    expect(t.slack.homeViews(REQUESTER)).toEqual([]);
    expect(t.slack.homeViews(STALE_VIEWER)).toEqual([]);
  });

  it('publishes after a 429 once Slack allows it again (the Web API client retries, nothing else does)', async () => {
    t.slack.failNext('views.publish', 1, { retryAfter: 1 });

    const home = await openHome(MEMBER);

    expect(home.view.type).toBe('home');
    expect(t.slack.calls('views.publish').slice(-2).map((c) => c.status)).toEqual([429, 200]);
  });

  it('fails no upgrade when Slack refuses to publish the Home tab', async () => {
    await openHome(APPROVER);
    await homeQueueSettled();
    t.slack.failWhen('views.publish', () => true, 100, { error: 'fatal_error' });
    const refusedBefore = t.slack.calls('views.publish').filter((c) => c.status === 200 && (c.response as { ok: boolean }).ok === false).length;
    const message = await flow().request(t.driver, 'upgrade 0.30.0');

    await flow().confirmAndStart(t.driver, message);
    expect(await flow().finalState(message)).toBe('failed');
    await homeQueueSettled();

    const refused = t.slack.calls('views.publish').filter((c) => c.status === 200 && (c.response as { ok: boolean }).ok === false).length - refusedBefore;
    expect(refused).toBeGreaterThanOrEqual(1);
    const texts = flow().threadTexts(message).join('\n');
    expect(texts).toContain('Re-check');
    expect(texts).toContain(PULL_REFUSED);
    expect(t.logs.text()).toContain('could not publish the Home tab');
  });
});
