// Crash safety on the real Docker engine, the steps crash-safety.test.ts does not cover: the bot process is SIGKILLed
// while upgrades sit in Re-check, in Git record (waiting for a pull request to be merged, committing the pin, reading
// the mounted pin file) and in Post-flight checks (some results posted), then started again. Each kill lands while the step waits on
// something the test holds, so it cannot finish first. Each upgrade must end once, with one running Checkstack, a
// thread that says once that it resumed and shows every step and every check once, and one Git record.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/fake-slack.js';
import { botProcessEnv, QUICK_STALL_DETECTION, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { startCheckstackProxy, type CheckstackProxy } from '../support/checkstack-proxy.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeVolumes,
  uniqueSuffix,
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { queueEvents } from '../support/queues.js';
import { createSlackDriver } from '../support/slack-driver.js';
import { countMatching, upgradeFlow, waitUntilReady } from '../support/upgrade-flow.js';
import { escapeRegExp } from '../../src/domain/regexp.js';
import { BOT_TOKEN, deleteQueueKeys, SIGNING_SECRET } from '../support/test-bot.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const FROM = '0.28.0';
const TO = '0.30.0';
const PIN_REPO = 'enyineer/checkstack';
const PR_PIN = 'deploy/crash-pull-request/docker-compose.yml';
const COMMIT_PIN = 'deploy/crash-commit/docker-compose.yml';
/** The commit-mode pin lives on its own branch, so merging the other target's pull request never touches it. */
const COMMIT_BRANCH = 'ops';
const CHECK_NAMES = ['ready', 'version', 'ui', 'plugins', 'healthchecks', 'delivery'] as const;
/** A health check that runs hourly: after the upgrade, post-flight waits for its first run (up to healthcheckMaxWait). */
const SYSTEM = { id: 'sys-website', check: 'http-home' };

const STEP_TITLES = { recheck: 'Re-check', git_record: 'Git record', pull: 'Pull', recreate: 'Recreate', readiness: 'Readiness', postflight: 'Post-flight checks' } as const;
type Step = keyof typeof STEP_TITLES;
const STEPS = Object.keys(STEP_TITLES) as Step[];

type ScenarioName = 'recheck' | 'pull-request' | 'commit' | 'pin-file' | 'postflight';

/** A target whose upgrade is killed in `killedIn`. */
interface Scenario {
  name: ScenarioName;
  killedIn: 'recheck' | 'git_record' | 'postflight';
  target: string;
  container: string;
  port: number;
  /** The target's baseUrl: holds chosen paths, and for `postflight` serves the catalog from a fake Checkstack API. */
  proxy: CheckstackProxy;
  message?: FakeMessage;
  /** The killed step's own reply, as the killed process left it. */
  stepReplyTs?: string;
}

const fixtures = loadFixtureReleases();

describe.skipIf(!docker)('crash safety: the bot SIGKILLed in Re-check, Git record and Post-flight checks, then started again', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const suffix = uniqueSuffix();
  const repository = `ck-crash-steps-${suffix}`;
  const image = `${registry}/${repository}`;
  const queuePrefix = randomQueuePrefix();
  let github: FakeGithub;
  let slack: FakeSlack;
  let checkstackApi: FakeCheckstack;
  let database: TestDatabase;
  let pool: pg.Pool;
  let redis: Redis;
  let bot: BotProcess | undefined;
  const scenarios = new Map<ScenarioName, Scenario>();
  const measured: Record<string, number> = {};

  const pinDir = mkdtempSync(join(tmpdir(), 'ck-crash-pin-'));
  const pinFile = join(pinDir, 'docker-compose.yml');
  const composeFile = (version: string) => `services:\n  checkstack:\n    image: ${image}:${version}\n    env_file: .env\n`;

  const botEnv = () => ({
    ...botProcessEnv({ slackApiUrl: slack.apiUrl, githubUrl: github.url, databaseUrl: database.url, redisUrl: REDIS_URL, queuePrefix }),
    ...QUICK_STALL_DETECTION,
  });
  const pinOf: Record<ScenarioName, string> = {
    recheck: '',
    postflight: '',
    'pull-request': `\n    pin: { github: { repo: ${PIN_REPO}, path: ${PR_PIN}, branch: main, mode: pull-request } }`,
    commit: `\n    pin: { github: { repo: ${PIN_REPO}, path: ${COMMIT_PIN}, branch: ${COMMIT_BRANCH}, mode: commit } }`,
    'pin-file': `\n    pin: { file: "${pinFile}" }`,
  };
  const configYaml = () => `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
${[...scenarios.values()]
  .map(
    (s, i) => `  - name: ${s.target}
    default: ${i === 0}
    baseUrl: ${s.proxy.url}
    image: ${image}
    docker: { host: "${dockerProxy.host}", container: ${s.container}, stopTimeout: 5 }${pinOf[s.name]}
    postflight: { readyTimeout: 120, logWatch: 5, healthcheckMaxWait: ${s.name === 'postflight' ? 600 : 5}, retention: 3600 }`,
  )
  .join('\n')}
`;

  const scenario = (name: ScenarioName) => scenarios.get(name)!;
  const thread = (m: FakeMessage) => slack.threadReplies(m.ts).map((r) => r.text ?? '');
  const checkResult = (name: string) => new RegExp(`^\\S+ \\*${name}\\*: `);
  const flow = () => upgradeFlow({ slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER });
  const finalStatus = (message: FakeMessage, timeoutMs: number) => flow().finalState(message, timeoutMs);

  /** Plans and confirms the upgrade of `s`, runs `beforeStart` (to arm a hold the plan must not hit), then presses Start. */
  async function approveAndStart(s: Scenario, beforeStart: () => void = () => undefined): Promise<FakeMessage> {
    const driver = createSlackDriver({ botUrl: bot!.url, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    await waitUntilReady(`http://127.0.0.1:${s.port}`);
    const message = await flow().request(driver, `upgrade ${TO} ${s.target}`);
    await driver.clickAll(message, 'confirm', { user: APPROVER });
    const ready = await slack.waitFor(() => JSON.stringify(flow().current(message).blocks).includes('start_upgrade') && flow().current(message), 20_000);
    beforeStart();
    await driver.click(ready, 'start_upgrade', { user: APPROVER });
    s.message = message;
    return message;
  }

  /** Waits until the killed step of `s` has started, and remembers its reply. */
  async function waitForStepReply(s: Scenario): Promise<void> {
    const title = escapeRegExp(STEP_TITLES[s.killedIn]);
    const reply = await slack.waitFor(() => slack.threadReplies(s.message!.ts).find((r) => new RegExp(`^(▶️|⏳) \\*${title}\\*`).test(r.text ?? '')), 60_000);
    s.stepReplyTs = reply.ts;
  }

  async function upgradeIdOf(s: Scenario): Promise<string> {
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [s.message!.ts]);
    return rows[0]!.id;
  }

  /** SIGKILLs the bot; nothing may have ended. */
  async function killBot(killed: Scenario[]): Promise<number> {
    const killedAt = Date.now();
    const exit = await bot!.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    for (const s of killed) {
      const texts = thread(s.message!);
      expect(texts.join('\n'), s.name).not.toMatch(/Upgrade succeeded|Upgrade failed/);
      expect(countMatching(texts, new RegExp(`^✅ \\*${escapeRegExp(STEP_TITLES[s.killedIn])}\\* finished`)), s.name).toBe(0);
    }
    return killedAt;
  }

  async function restartBot(killed: Scenario[], killedAt: number, label: string): Promise<void> {
    bot = await startBotProcess({ env: botEnv(), configYaml: configYaml() });
    measured[`${label}_restart_ms`] = Date.now() - killedAt;
    await Promise.all(
      killed.map(async (s) => {
        await slack.waitFor(() => thread(s.message!).some((t) => t.startsWith('↩️ ')), 120_000);
        measured[`${s.name}_resumed_ms_after_kill`] = Date.now() - killedAt;
      }),
    );
  }

  beforeAll(async () => {
    await buildFakeCheckstackImage(engine, { registry, repository, version: FROM, behaviour: 'ready' });
    await buildFakeCheckstackImage(engine, { registry, repository, version: TO, behaviour: 'ready' });
    checkstackApi = await startFakeCheckstack({
      state: { systems: [{ id: SYSTEM.id, name: 'Website', checks: [{ configurationId: SYSTEM.check, configurationName: 'Home page', intervalSeconds: 3600, enabled: true, runs: [] }] }] },
    });
    const killedIn: Record<ScenarioName, Scenario['killedIn']> = { recheck: 'recheck', 'pull-request': 'git_record', commit: 'git_record', 'pin-file': 'git_record', postflight: 'postflight' };
    for (const name of ['recheck', 'pull-request', 'commit', 'pin-file', 'postflight'] as const) {
      const port = await freePort();
      const container = `ck-steps-${suffix}-${name}`;
      const routes = name === 'postflight' ? ['/api/catalog/', '/api/healthcheck/'].map((prefix) => ({ prefix, port: checkstackApi.port })) : [];
      const proxy = await startCheckstackProxy({ port, routes });
      scenarios.set(name, { name, killedIn: killedIn[name], target: `crash-${name}`, container, port, proxy });
      await createCheckstackContainer(engine, { name: container, image: `${image}:${FROM}`, port, restartPolicy: 'unless-stopped' });
    }
    github = await startFakeGithub({ releases: [fixtureRelease(TO, 9030), ...fixtures], repo: PIN_REPO, files: { [PR_PIN]: composeFile(FROM) } });
    github.files.put(COMMIT_BRANCH, COMMIT_PIN, composeFile(FROM), 'Pin Checkstack');
    // The mounted pin file is a FIFO until the bot has been killed: reading it blocks until a writer comes, so the
    // Git record step waits there for as long as the test needs.
    execFileSync('mkfifo', [pinFile]);
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    bot = await startBotProcess({ env: botEnv(), configYaml: configYaml() });
  }, 180_000);

  afterAll(async () => {
    await bot?.kill('SIGKILL');
    for (const s of scenarios.values()) await s.proxy.close();
    await pool?.end();
    redis?.disconnect();
    await slack?.close();
    await github?.close();
    await checkstackApi?.close();
    await database?.drop();
    await deleteQueueKeys(queuePrefix);
    for (const s of scenarios.values()) {
      await removeContainers(engine, [s.container, `${s.container}-pre-${TO}`]);
      await removeVolumes(engine, [`${s.container}-data`]);
    }
    rmSync(pinDir, { recursive: true, force: true });
    if (Object.keys(measured).length) process.stderr.write(`crash-safety-steps measurements: ${JSON.stringify(measured)}\n`);
  }, 60_000);

  /** What every killed upgrade must show once it ended: the same invariants as crash-safety.test.ts. */
  function itEndsOnceAfterTheKill(name: ScenarioName, resumed: RegExp): void {
    it(`the upgrade killed in ${name} succeeds once, with one running Checkstack on the new version`, async () => {
      const s = scenario(name);

      const status = await finalStatus(s.message!, 1_000);
      const containers = await engine.listContainers({ all: true, filters: { name: [s.container] } });

      expect(status).toBe('succeeded');
      const running = containers.filter((c) => c.State === 'running');
      expect(running.map((c) => c.Names[0])).toEqual([`/${s.container}`]);
      expect(running[0]!.Image).toBe(`${image}:${TO}`);
      for (const other of containers.filter((c) => c.State !== 'running')) expect(other.Names[0]).toBe(`/${s.container}-pre-${TO}`);
    });

    it(`the thread of the upgrade killed in ${name} says once that it resumed, finishes every step once and repeats nothing`, () => {
      const s = scenario(name);

      const texts = thread(s.message!);
      const posted = slack.calls('chat.postMessage').filter((c) => c.args.thread_ts === s.message!.ts).map((c) => String(c.args.text));

      expect(texts.filter((t) => t.startsWith('↩️ '))).toEqual([expect.stringMatching(resumed)]);
      for (const step of STEPS) expect(countMatching(texts, new RegExp(`^✅ \\*${escapeRegExp(STEP_TITLES[step])}\\* finished in`)), step).toBe(1);
      expect(countMatching(texts, /Upgrade succeeded/)).toBe(1);
      expect(countMatching(texts, /^❌|Upgrade failed|\* failed after/)).toBe(0);
      // Nothing is left saying it runs or was interrupted: the killed step ran again in its own reply.
      expect(texts.filter((t) => /^(▶️|⏳|⏸️)/.test(t))).toEqual([]);
      expect(new Set(texts).size).toBe(texts.length);
      expect(posted.filter((text, i) => posted.indexOf(text) !== i)).toEqual([]);
    });

    it(`the killed step of the upgrade killed in ${name} ran again in the reply it had started`, async () => {
      const s = scenario(name);

      const { rows } = await pool.query<{ message_ts: string }>(`SELECT message_ts FROM upgrade_steps WHERE upgrade_id = $1 AND step = $2`, [await upgradeIdOf(s), s.killedIn]);

      expect(rows[0]!.message_ts).toBe(s.stepReplyTs);
      expect(slack.message(CHANNEL, s.stepReplyTs!)!.text).toMatch(new RegExp(`^✅ \\*${escapeRegExp(STEP_TITLES[s.killedIn])}\\* finished in`));
    });

    it(`the steps of the upgrade killed in ${name} ran once each, the killed one twice`, async () => {
      const s = scenario(name);

      const { rows } = await pool.query<{ step: string; attempt: number; outcome: string }>(
        `SELECT step, attempt, outcome FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`,
        [await upgradeIdOf(s)],
      );

      expect(rows).toEqual(STEPS.map((step) => ({ step, attempt: step === s.killedIn ? 2 : 1, outcome: 'ok' })));
    });

    it(`the BullMQ job of the upgrade killed in ${name} completed once, after one stall and no failed attempt`, async () => {
      const id = await upgradeIdOf(scenario(name));
      // The job completes just after its last thread message (the follow-ups are queued first).
      await pollUntil(async () => ((await redis.zscore(`${queuePrefix}:upgrades:completed`, id)) !== null ? true : undefined), 30_000);

      const events = await queueEvents(redis, queuePrefix, 'upgrades');
      const hash = await redis.hgetall(`${queuePrefix}:upgrades:${id}`);

      expect(JSON.parse(hash.returnvalue ?? 'null')).toEqual({ outcome: 'ended' });
      expect(Number(hash.stc ?? 0)).toBe(1);
      expect(events.filter((e) => e.jobId === id && e.event === 'completed')).toHaveLength(1);
      expect(events.filter((e) => e.jobId === id && e.event === 'failed')).toHaveLength(0);
      expect(events.filter((e) => e.jobId === id && e.event === 'stalled')).toHaveLength(1);
    }, 45_000);
  }

  describe('after a SIGKILL during Re-check, Git record (a pull-request wait, reading the pin file) and Post-flight checks', () => {
    const resultTsBeforeKill = new Map<string, string>();

    beforeAll(async () => {
      const [recheck, pullRequest, pinned, postflight] = [scenario('recheck'), scenario('pull-request'), scenario('pin-file'), scenario('postflight')];
      const killed = [recheck, pullRequest, pinned, postflight];
      // Post-flight waits (up to 600 s) for the hourly health check to run after the upgrade; the other checks post.
      // Git record waits for its pull request to be merged, or to read the pin file (a FIFO). Re-check waits for the
      // held `/api/about`. None of them can finish while the test holds on. One request at a time: the checklist a
      // request posts is found as the newest top-level message.
      await approveAndStart(postflight);
      await approveAndStart(pullRequest);
      await waitForStepReply(postflight);
      const others = CHECK_NAMES.filter((n) => n !== 'healthchecks');
      await slack.waitFor(() => others.every((n) => thread(postflight.message!).some((t) => checkResult(n).test(t))), 90_000);
      await pollUntil(async () => (postflight.proxy.paths.includes('/api/healthcheck/getSystemHealthOverview') ? true : undefined), 30_000);
      for (const reply of slack.threadReplies(postflight.message!.ts)) {
        const name = CHECK_NAMES.find((n) => checkResult(n).test(reply.text ?? ''));
        if (name) resultTsBeforeKill.set(name, reply.ts);
      }
      await waitForStepReply(pullRequest);
      await slack.waitFor(() => thread(pullRequest.message!).some((t) => t.startsWith('🔀 Pull request opened')), 30_000);
      await pollUntil(async () => (github.requests.some((r) => r.method === 'GET' && r.path === `/repos/${PIN_REPO}/pulls/1`) ? true : undefined), 30_000);
      await approveAndStart(pinned);
      await waitForStepReply(pinned);
      // Re-check is held at its first look at the target (`/api/about`, then `/.checkstack/ready`); the plan is not.
      let held: ReturnType<CheckstackProxy['hold']> | undefined;
      await approveAndStart(recheck, () => (held = recheck.proxy.hold(['/api/about', '/.checkstack/ready'])));
      await waitForStepReply(recheck);
      await held!.arrived;

      const killedAt = await killBot(killed);
      expect(thread(postflight.message!).some((t) => checkResult('healthchecks').test(t))).toBe(false);
      expect(github.pulls.filter((p) => p.state === 'open')).toHaveLength(1);
      held!.release();
      // The operator's compose file, as it was: the killed bot never read it.
      rmSync(pinFile);
      writeFileSync(pinFile, composeFile(FROM));
      // While the bot is down, the health check runs: the post-flight run after the restart sees it.
      checkstackApi.addRun(SYSTEM.id, SYSTEM.check, new Date());
      const githubRequestsAtRestart = github.requests.length;

      await restartBot(killed, killedAt, 'first');
      // The resumed Git record polls the same pull request again; then someone merges it.
      await pollUntil(async () => (github.requests.slice(githubRequestsAtRestart).some((r) => r.method === 'GET' && r.path === `/repos/${PIN_REPO}/pulls/1`) ? true : undefined), 60_000);
      github.mergePull(1);
      await Promise.all(killed.map((s) => finalStatus(s.message!, 120_000)));
      measured.first_all_ended_ms_after_kill = Date.now() - killedAt;
    }, 420_000);

    itEndsOnceAfterTheKill('recheck', /^↩️ Restarting \*Re-check\* \(the worker restarted\)\.$/);
    itEndsOnceAfterTheKill('pull-request', /^↩️ Resuming after \*Re-check\* \(the worker restarted\)\.$/);
    itEndsOnceAfterTheKill('pin-file', /^↩️ Resuming after \*Re-check\* \(the worker restarted\)\.$/);
    itEndsOnceAfterTheKill('postflight', /^↩️ Resuming after \*Readiness\* \(the worker restarted\)\.$/);

    it('the upgrade killed while reading the mounted pin file pinned the new tag in it, changing nothing else and leaving no temporary file', () => {
      const s = scenario('pin-file');

      const content = readFileSync(pinFile, 'utf8');

      expect(content).toBe(composeFile(TO));
      expect(readdirSync(pinDir)).toEqual(['docker-compose.yml']);
      expect(thread(s.message!).find((t) => t.startsWith('✅ *Git record* finished'))).toContain(`${pinFile} now pins the new tag`);
    });

    it('the upgrade killed while waiting for its pull request reused it: one pull request, linked once, merged, pinning the new tag', () => {
      const s = scenario('pull-request');

      const texts = thread(s.message!);

      expect(github.pulls.map((p) => ({ head: p.head, state: p.state, merged: p.merged }))).toEqual([
        { head: `checkstack-chatops/${s.target}-${TO}`, state: 'closed', merged: true },
      ]);
      expect(countMatching(texts, /^🔀 Pull request opened/)).toBe(1);
      expect(slack.message(CHANNEL, s.stepReplyTs!)!.versions.map((v) => v.text)).toContain(
        '⏳ *Git record*: still waiting for pull request <https://github.com/enyineer/checkstack/pull/1|#1> to be merged',
      );
      expect(github.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${PIN_REPO}/pulls`)).toHaveLength(1);
      expect(github.files.get('main', PR_PIN)?.content).toBe(composeFile(TO));
    });

    it('the upgrade killed in Post-flight checks shows each check once: the results posted before the kill were updated in place', () => {
      const s = scenario('postflight');

      const texts = thread(s.message!);

      for (const name of CHECK_NAMES) expect(countMatching(texts, checkResult(name)), name).toBe(1);
      expect([...resultTsBeforeKill.keys()].sort()).toEqual(CHECK_NAMES.filter((n) => n !== 'healthchecks').sort());
      for (const [name, ts] of resultTsBeforeKill) expect(slack.message(CHANNEL, ts)!.text, name).toMatch(checkResult(name));
      expect(texts.find((t) => checkResult('healthchecks').test(t))).toMatch(/^✅ \*healthchecks\*: all 1 enabled check on 1 system ran since ready/);
    });
  });

  describe('after a SIGKILL while Git record commits the pin, the commit landing while the bot is down', () => {
    beforeAll(async () => {
      const commit = scenario('commit');
      // GitHub receives the commit, and answers only after the bot is gone: the restarted job must not commit twice.
      const held = github.holdNext((r) => r.method === 'PUT' && r.path === `/repos/${PIN_REPO}/contents/${COMMIT_PIN}`);
      await approveAndStart(commit);
      await waitForStepReply(commit);
      await held.arrived;

      const killedAt = await killBot([commit]);
      held.release();
      await pollUntil(async () => (github.files.get(COMMIT_BRANCH, COMMIT_PIN)?.content === composeFile(TO) ? true : undefined), 10_000);

      await restartBot([commit], killedAt, 'second');
      await finalStatus(commit.message!, 120_000);
      measured.second_all_ended_ms_after_kill = Date.now() - killedAt;
    }, 300_000);

    itEndsOnceAfterTheKill('commit', /^↩️ Resuming after \*Re-check\* \(the worker restarted\)\.$/);

    it('the upgrade killed while committing the pin committed it once', () => {
      const s = scenario('commit');

      const upgradeCommits = github.files.history(COMMIT_BRANCH).filter((c) => c.message.startsWith(`Upgrade Checkstack ${s.target} to ${TO}`));

      expect(upgradeCommits).toHaveLength(1);
      expect(github.files.get(COMMIT_BRANCH, COMMIT_PIN)?.content).toBe(composeFile(TO));
      expect(thread(s.message!).find((t) => t.startsWith('✅ *Git record* finished'))).toContain(`committed ${upgradeCommits[0]!.sha.slice(0, 7)}`);
    });
  });
});
