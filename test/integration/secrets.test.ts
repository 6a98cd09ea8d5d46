// Secrets never leave the bot: with known bot token, signing secret, Checkstack API key, GitHub token, webhook secret and
// ENCRYPTION_MASTER_KEY, a full upgrade, a failing one whose container prints its key, refused commands and forged
// requests run on the real Docker engine; then every log line, Slack call, database row, Redis key and error is scanned.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Deployer } from '../../src/targets/deployer.js';
import { dockerDeployerFactory, type DeployerFactory } from '../../src/targets/registry.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { REDIS_URL } from '../support/database.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  fakeEncryptionKey,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeVolumes,
  uniqueSuffix,
  type FakeBehaviour,
} from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { dumpDatabase, dumpRedisKeys, errorText, findSecrets } from '../support/secret-scan.js';
import { createSlackDriver, type SlackDriver, type SlackHttpResponse } from '../support/slack-driver.js';
import { upgradeFlow } from '../support/upgrade-flow.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';
import { useDockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';
const PIN_PATH = 'deploy/docker-compose.yml';

/** Distinctive values, random per run, each in the shape the real one has. */
const SECRETS = {
  botToken: `xoxb-4242${randomDigits(9)}-${randomDigits(13)}-${randomBytes(12).toString('hex')}`,
  signingSecret: randomBytes(16).toString('hex'),
  apiKey: `ck_${randomUUID()}_${randomBytes(24).toString('base64url')}`,
  githubToken: `ghp_${randomBytes(18).toString('hex')}`,
  // Characters that URL, form and JSON encodings change, so those forms differ from the raw one.
  webhookSecret: `wh+sec/${randomBytes(12).toString('hex')}=&"`,
  masterKey: fakeEncryptionKey(),
};

function randomDigits(n: number): string {
  return [...randomBytes(n)].map((b) => String(b % 10)).join('');
}

const fixtures = loadFixtureReleases();

const VERSIONS: Record<string, FakeBehaviour> = {
  '0.28.0': 'ready',
  '0.30.0': 'ready',
  '0.31.0': 'exit-printing-secrets',
};

/** The real Docker deployer, recording the full text of every error any of its methods throws. */
function recordingDockerDeployers(errors: string[]): DeployerFactory {
  const real = dockerDeployerFactory();
  return (target, logger) => {
    const deployer = real(target, logger);
    return new Proxy(deployer, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          try {
            const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
            return result instanceof Promise
              ? result.catch((err: unknown) => {
                  errors.push(errorText(err));
                  throw err;
                })
              : result;
          } catch (err) {
            errors.push(errorText(err));
            throw err;
          }
        };
      },
    }) satisfies Deployer;
  };
}

/**
 * What the bot's `baseUrl` points at: the container itself, plus the integration API the fake image does not serve
 * (an empty delivery log), recording the Authorization header of every request so the test can see the API key used.
 */
async function startCheckstackFront(containerPort: () => number, authHeaders: string[]): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      if (req.headers.authorization) authHeaders.push(req.headers.authorization);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      if (req.url?.startsWith('/api/integration/getDeliveryLogs')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ json: { logs: [], total: 0 } }));
        return;
      }
      const upstream = await fetch(`http://127.0.0.1:${containerPort()}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' }).end(body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe.skipIf(!docker)('secrets through a full upgrade on a real Docker engine', () => {
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const dockerProxy = useDockerAllowlistProxy();
  const engine = docker as Dockerode;
  const registry = registryFromEnv();
  const repository = `${registry}/ck-secrets-${uniqueSuffix()}`;
  const containerName = `ck-secrets-${uniqueSuffix()}`;
  let port = 0;
  let github: FakeGithub;
  let front: Awaited<ReturnType<typeof startCheckstackFront>>;
  const authHeaders: string[] = [];
  let t: TestBot;
  let driver: SlackDriver;
  /** The full text (message, stack, details, causes) of every error the deployer or a test step threw. */
  const errors: string[] = [];
  /** Every answer the bot's HTTP server gave: status, headers and body. */
  const httpAnswers: string[] = [];
  const answered = (r: SlackHttpResponse) => httpAnswers.push(`${r.status} ${JSON.stringify(r.headers)} ${r.text}`);
  /** Whatever anything printed through `console` (outside the bot's logger). */
  const consoleOutput: string[] = [];

  const current = (m: FakeMessage) => t.slack.message(CHANNEL, m.ts)!;
  const threadText = (ts: string) => t.slack.threadReplies(ts).map((m) => `${m.text ?? ''} ${JSON.stringify(m.blocks ?? [])}`).join('\n');
  const topLevel = () => t.slack.messages(CHANNEL).filter((m) => !m.thread_ts || m.thread_ts === m.ts);

  /** Runs a test step; whatever it throws is scanned too before it fails the test. */
  async function step<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      errors.push(errorText(err));
      throw err;
    }
  }

  async function targetReady(): Promise<void> {
    await pollUntil(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/.checkstack/ready`).catch(() => null);
      return res?.status === 200 ? true : undefined;
    }, 30_000);
  }

  async function command(text: string, user = REQUESTER): Promise<SlackHttpResponse> {
    const response = await driver.slashCommand('/checkstack', text, { user, channel: CHANNEL });
    answered(response);
    return response;
  }

  async function approveAndStart(version: string): Promise<FakeMessage> {
    await targetReady();
    const before = topLevel().length;
    const response = await command(`upgrade ${version} prod`);
    const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl), 20_000);
    expect(reply.payload.text).toMatch(/planned/);
    const message = await t.slack.waitFor(() => topLevel().length > before && topLevel().at(-1));
    (await driver.clickAll(message, 'confirm', { user: APPROVER })).forEach(answered);
    const ready = await t.slack.waitFor(() => JSON.stringify(current(message).blocks).includes('start_upgrade') && current(message), 10_000);
    answered(await driver.click(ready, 'start_upgrade', { user: APPROVER }));
    return message;
  }

  const finalStatus = (message: FakeMessage) => upgradeFlow({ slack: t.slack, channel: CHANNEL, requester: REQUESTER, approver: APPROVER }).finalState(message);

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[method].bind(console);
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleOutput.push(args.map((a) => (typeof a === 'string' ? a : errorText(a))).join(' '));
        original(...args);
      });
    }
    for (const [version, behaviour] of Object.entries(VERSIONS)) {
      await buildFakeCheckstackImage(engine, { registry, repository: repository.slice(registry.length + 1), version, behaviour });
    }
    github = await startFakeGithub({
      releases: [fixtureRelease('0.31.0', 9031), ...fixtures],
      files: { [PIN_PATH]: `services:\n  checkstack:\n    image: ${repository}:0.28.0\n    restart: unless-stopped\n` },
    });
    port = await freePort();
    front = await startCheckstackFront(() => port, authHeaders);
    await createCheckstackContainer(engine, {
      name: containerName,
      image: `${repository}:0.28.0`,
      port,
      env: [`ENCRYPTION_MASTER_KEY=${SECRETS.masterKey}`],
      restartPolicy: 'unless-stopped',
    });
    t = await startTestBot({
      env: {
        SLACK_BOT_TOKEN: SECRETS.botToken,
        SLACK_SIGNING_SECRET: SECRETS.signingSecret,
        CHECKSTACK_PROD_API_KEY: SECRETS.apiKey,
        GITHUB_TOKEN: SECRETS.githubToken,
        GITHUB_WEBHOOK_SECRET: SECRETS.webhookSecret,
        GITHUB_API_URL: github.url,
        RELEASE_POLL_INTERVAL: '3600',
      },
      slack: { botToken: SECRETS.botToken },
      deployers: { docker: recordingDockerDeployers(errors) },
      configYaml: `approvers:
  users: [${REQUESTER}, ${APPROVER}]
targets:
  - name: prod
    default: true
    baseUrl: ${front.url}
    apiKeyEnv: CHECKSTACK_PROD_API_KEY
    image: ${repository}
    docker: { host: "${dockerProxy.host}", container: ${containerName}, stopTimeout: 5 }
    pin: { github: { repo: enyineer/checkstack, path: ${PIN_PATH}, branch: main, mode: commit } }
    postflight: { readyTimeout: 20, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }
`,
    });
    driver = createSlackDriver({ botUrl: t.bot.url, signingSecret: SECRETS.signingSecret, fakeSlack: t.slack });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  }, 240_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    await t?.close();
    await github?.close();
    await front?.close();
    const all = await engine.listContainers({ all: true, filters: { name: [containerName] } });
    await removeContainers(engine, all.map((c) => c.Names[0]!.replace(/^\//, '')));
    await removeVolumes(engine, [`${containerName}-data`]);
  });

  it('upgrades with every secret in play: the key checked by fingerprint, the API key in the post-flight, the token in the pin', async () => {
    const message = await step(() => approveAndStart('0.30.0'));

    const status = await step(() => finalStatus(message));
    expect(status, threadText(message.ts)).toBe('succeeded');
    expect(threadText(message.ts)).toMatch(/✅ \*Post-flight checks\* finished in/);
    expect(github.files.get('main', PIN_PATH)?.content).toContain(`${repository}:0.30.0`);
    expect(github.requests.some((r) => r.headers.authorization === `token ${SECRETS.githubToken}`)).toBe(true);
    expect(authHeaders).toContain(`Bearer ${SECRETS.apiKey}`);
  }, 180_000);

  it('fails an upgrade whose new container prints its environment and key before exiting, and restores the old one', async () => {
    const message = await step(() => approveAndStart('0.31.0'));

    expect(await step(() => finalStatus(message))).toBe('failed');
    const thread = threadText(message.ts);
    expect(thread).toMatch(/Recreate\* failed/);
    expect(thread).toMatch(/stopped right after starting/);
    expect(thread).toMatch(/last output: .*refusing to start/);
    expect((await engine.getContainer(containerName).inspect()).Config.Image).toBe(`${repository}:0.30.0`);
  }, 180_000);

  it('refuses bad commands and forged requests', async () => {
    await step(targetReady);
    const refused = ['upgrade latest', 'upgrade 0.99.0', 'upgrade 0.30.0 staging', 'upgrade 0.30.0', 'frobnicate', 'rollback staging'];
    const answers: SlackHttpResponse[] = [];
    for (const text of refused) answers.push(await step(() => command(text)));
    await step(() => t.slack.waitFor(() => answers.every((a) => t.slack.responses().some((r) => r.url === a.responseUrl) || a.text.length > 0), 20_000));
    answers.push(await step(() => command('status')), await step(() => command('history')));

    const fields = driver.slashCommandFields('/checkstack', 'upgrade 0.30.0', { user: REQUESTER, channel: CHANNEL });
    const body = new URLSearchParams(fields).toString();
    const forged = [
      await driver.send(body, { secret: 'not-the-signing-secret' }),
      await driver.send(body, { timestamp: Math.floor(Date.now() / 1000) - 3600 }),
      await driver.send(body, { signature: 'v0=' }),
    ];
    forged.forEach(answered);
    const webhook = JSON.stringify({ action: 'published', release: fixtureRelease('0.34.0', 9034), repository: { full_name: 'enyineer/checkstack' } });
    const signature = `sha256=${createHmac('sha256', SECRETS.webhookSecret).update(webhook).digest('hex')}`;
    const postWebhook = (sig: string) =>
      fetch(`${t.bot.url}/github/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'release', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': sig }, body: webhook });
    const forgedHook = await postWebhook(`sha256=${createHmac('sha256', 'guessed').update(webhook).digest('hex')}`);
    const signedHook = await postWebhook(signature);
    for (const hook of [forgedHook, signedHook]) httpAnswers.push(`${hook.status} ${JSON.stringify(Object.fromEntries(hook.headers))} ${await hook.text()}`);

    expect(forged.map((r) => r.status)).toEqual([401, 401, 401]);
    expect([forgedHook.status, signedHook.status]).toEqual([401, 202]);
    expect(t.slack.messages(CHANNEL).filter((m) => /0\.99\.0|latest|staging/.test(m.text ?? ''))).toEqual([]);
  }, 60_000);

  it('leaves no secret, raw or encoded, in logs, Slack calls, messages, database rows, queued jobs or errors', async () => {
    const { queues } = t.bot.deps;
    for (const queue of [queues.upgrades, queues.logWatch, queues.releases]) await waitForQueueIdle(queue, 60_000);
    for (const path of ['/metrics', '/readyz', '/healthz']) {
      const res = await fetch(`${t.bot.url}${path}`);
      httpAnswers.push(`${path} ${res.status} ${await res.text()}`);
    }
    const { tables, rowCounts } = await dumpDatabase(t.database.url);
    const redisKeys = await dumpRedisKeys(REDIS_URL, t.queuePrefix);
    const sources: Array<[string, string]> = [
      ...t.logs.lines.map((line, i): [string, string] => [`log line ${i}`, line]),
      // The token goes to Slack as the credential (the Authorization header, or `token` in auth.test's form): not a leak.
      ...t.slack.calls().map((call, i): [string, string] => [`slack call ${i} ${call.method}`, JSON.stringify({ ...call.args, token: undefined })]),
      ...t.slack.responses().map((r, i): [string, string] => [`response_url ${i}`, JSON.stringify(r.payload)]),
      ...t.slack.messages().map((m): [string, string] => [`message ${m.channel}/${m.ts}`, JSON.stringify({ text: m.text, blocks: m.blocks, versions: m.versions, args: m.args })]),
      ...t.slack.ephemerals().map((e): [string, string] => [`ephemeral ${e.channel}/${e.ts}`, JSON.stringify({ text: e.text, blocks: e.blocks, versions: e.versions })]),
      ...[...tables].map(([table, rows]): [string, string] => [`table ${table}`, rows]),
      ...[...redisKeys].map(([key, value]): [string, string] => [`redis ${key}`, value]),
      ...httpAnswers.map((text, i): [string, string] => [`bot http answer ${i}`, text]),
      ...errors.map((text, i): [string, string] => [`error ${i}`, text]),
      ...consoleOutput.map((text, i): [string, string] => [`console ${i}`, text]),
    ];

    const findings = findSecrets(SECRETS, sources);
    // The scanner itself finds each secret embedded at any offset, raw, base64 and URL-encoded.
    for (const value of Object.values(SECRETS)) {
      for (const pad of ['', 'a', 'ab']) {
        const embedded = `${pad}${value}!`;
        for (const control of [embedded, Buffer.from(embedded).toString('base64'), Buffer.from(embedded).toString('base64url'), encodeURIComponent(embedded)]) {
          expect(findSecrets(SECRETS, [['control', control]])).not.toEqual([]);
        }
      }
    }

    expect(findings).toEqual([]);
    // What must be there, so the scan cannot pass on empty data.
    const upgrades = JSON.parse(tables.get('upgrades') ?? '[]') as Array<{ to_version: string; status: string; status_detail: string | null; key_fingerprint: string | null }>;
    const fingerprint = createHash('sha256').update(SECRETS.masterKey).digest('hex');
    expect(upgrades.find((u) => u.to_version === '0.30.0')).toMatchObject({ status: 'succeeded', key_fingerprint: fingerprint });
    expect(upgrades.find((u) => u.to_version === '0.31.0')).toMatchObject({ status: 'failed', key_fingerprint: fingerprint, status_detail: expect.stringMatching(/stopped right after starting.*refusing to start/) });
    expect(rowCounts.get('upgrade_steps')).toBeGreaterThanOrEqual(10);
    expect(rowCounts.get('audit_log') ?? 0).toBeGreaterThan(0);
    const logText = t.logs.text();
    expect(logText).toMatch(/replacement failed, restoring the previous container/);
    expect(logText).toMatch(/github webhook refused: bad signature/);
    expect(t.logs.lines.length).toBeGreaterThan(50);
    expect(httpAnswers.find((a) => a.startsWith('/metrics 200'))).toMatch(/# TYPE/);
    expect(t.slack.calls('chat.postMessage').length).toBeGreaterThan(10);
    expect(new Set(t.slack.calls().flatMap((c) => (c.args.token === undefined ? [] : [c.args.token])))).toEqual(new Set([SECRETS.botToken]));
    expect(t.slack.responses().length).toBeGreaterThanOrEqual(8);
    expect([...redisKeys.values()].filter((v) => v.includes('"data"')).length).toBeGreaterThan(3);
    expect(errors.some((e) => e.includes('recreate_failed') && e.includes('refusing to start'))).toBe(true);
  }, 120_000);
});
