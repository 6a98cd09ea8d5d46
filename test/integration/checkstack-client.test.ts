import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckstackClient, type CheckstackClientOptions } from '../../src/checkstack/client.js';
import { waitForReady, type AwaitingInitLog, type InstanceLogs, type ReadyProgress } from '../../src/checkstack/wait-for-ready.js';
import { AppError } from '../../src/errors.js';
import {
  FAKE_ADMIN_KEY,
  FAKE_READONLY_KEY,
  startFakeCheckstack,
  type FakeCheckstack,
  type FakeCheckstackOptions,
} from '../fakes/fake-checkstack.js';
import { startLoggingPod, type LoggingPod } from '../support/logging-pod.js';

const REJECTED_KEY = 'ck_00000000-0000-4000-8000-00000000dead_not-a-valid-secret';
const ALL_KEYS = [FAKE_ADMIN_KEY, FAKE_READONLY_KEY, REJECTED_KEY];

let fakes: FakeCheckstack[] = [];
let pods: LoggingPod[] = [];
afterEach(async () => {
  await Promise.all([...fakes, ...pods].map((f) => f.close()));
  fakes = [];
  pods = [];
});

type HttpProgress = Exclude<ReadyProgress, AwaitingInitLog>;
/** The answers over HTTP, after the log line: the first report (waiting for the line) is not what these tests are about. */
const httpAnswers = (into: HttpProgress[]) => (answer: ReadyProgress) => void ('awaitingLog' in answer || into.push(answer));

/** The new instance has logged `Checkstack Core initialized` already: these tests are about what follows. */
async function initializedPod(): Promise<InstanceLogs> {
  const pod = await startLoggingPod();
  pods.push(pod);
  return pod.logs;
}

async function fake(options: FakeCheckstackOptions = {}): Promise<FakeCheckstack> {
  const f = await startFakeCheckstack(options);
  fakes.push(f);
  return f;
}

function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }), lines };
}

function clientFor(f: { url: string }, over: Partial<CheckstackClientOptions> = {}) {
  const { logger, lines } = captureLogs();
  const client = createCheckstackClient({ baseUrl: f.url, name: 'prod', logger, timeoutMs: 2_000, ...over });
  return { client, lines };
}

async function caught(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function expectNoSecrets(texts: string[]): void {
  for (const text of texts) for (const key of ALL_KEYS) expect(text).not.toContain(key);
}

/** A port nothing listens on: a fake that started and closed. */
async function closedPortUrl(): Promise<string> {
  const f = await startFakeCheckstack();
  await f.close();
  return f.url;
}

function fakeClock(start = new Date('2025-06-01T12:00:00.000Z')) {
  let t = start.getTime();
  const sleeps: number[] = [];
  let onSleep: (now: Date) => void | Promise<void> = () => {};
  return {
    now: () => new Date(t),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
      await onSleep(new Date(t));
    },
    sleeps,
    onSleep(fn: (now: Date) => void | Promise<void>) {
      onSleep = fn;
    },
  };
}

describe('createCheckstackClient against a current release', () => {
  it('reads the platform endpoints', async () => {
    const f = await fake();
    const { client } = clientFor(f);

    const [health, ready, about, ui] = await Promise.all([client.health(), client.ready(), client.about(), client.ui()]);

    expect(health).toEqual({ status: 200, ok: true });
    expect(ready).toMatchObject({ status: 200, ready: true, checks: [{ name: 'database', ok: true }, { name: 'queue' }, { name: 'plugins' }] });
    expect(about).toMatchObject({ releaseVersion: '0.140.0', coreVersion: '0.27.0' });
    expect(about?.plugins.map((p) => p.name)).toContain('@checkstack/healthcheck-backend');
    expect(ui).toEqual({ status: 200, isHtml: true, isCheckstack: true });
  });

  it('calls procedures through the RPC mount with a {json} body and parses dates', async () => {
    const ran = new Date('2025-06-01T11:59:00.000Z');
    const f = await fake({
      now: () => new Date('2025-06-01T12:00:00.000Z'),
      state: {
        systems: [
          {
            id: 'sys-api',
            name: 'API',
            checks: [{ configurationId: 'cfg-http', configurationName: 'HTTP', intervalSeconds: 30, enabled: true, runs: [] }],
          },
        ],
        deliveryLogs: [
          { id: 'd1', subscriptionId: 's1', eventType: 'incident.created', status: 'success', attempts: 1, createdAt: ran },
        ],
      },
    });
    f.addRun('sys-api', 'cfg-http', ran);
    const { client } = clientFor(f, { apiKey: FAKE_ADMIN_KEY });

    const systems = await client.getSystems();
    const overview = await client.getSystemHealthOverview('sys-api');
    const history = await client.getHistory('sys-api', 1);
    const logs = await client.getDeliveryLogs({ page: 1, pageSize: 20, status: 'success' });
    const stats = await client.getDeliveryStats(24);

    expect(systems).toMatchObject([{ id: 'sys-api', name: 'API' }]);
    expect(overview.checks[0]).toMatchObject({ configurationId: 'cfg-http', intervalSeconds: 30, enabled: true });
    expect(overview.checks[0]?.recentRuns[0]?.timestamp).toEqual(ran);
    expect(history).toMatchObject({ total: 1, runs: [{ configurationId: 'cfg-http', status: 'healthy', timestamp: ran }] });
    expect(logs).toMatchObject({ total: 1, logs: [{ id: 'd1', createdAt: ran }] });
    expect(stats).toMatchObject({ total: 1, successful: 1, failed: 0 });
    expect(f.requests.find((r) => r.path === '/api/healthcheck/getHistory')?.body).toEqual({
      json: { systemId: 'sys-api', limit: 1, sortOrder: 'desc' },
    });
    expect(f.requests.find((r) => r.path === '/api/integration/getDeliveryLogs')?.body).toEqual({
      json: { page: 1, pageSize: 20, status: 'success' },
    });
  });

  it('sends the API key only to procedure calls', async () => {
    const f = await fake();
    const { client } = clientFor(f, { apiKey: FAKE_ADMIN_KEY });

    await Promise.all([client.health(), client.ready(), client.about(), client.ui(), client.getSystems()]);

    for (const request of f.requests) {
      const expected = request.path.startsWith('/api/catalog/') ? `Bearer ${FAKE_ADMIN_KEY}` : undefined;
      expect({ path: request.path, authorization: request.authorization }).toEqual({ path: request.path, authorization: expected });
    }
  });

  it('reports booting and failed init with their Retry-After', async () => {
    const f = await fake({ state: { readyScript: [{ kind: 'booting' }, { kind: 'failed_init', error: 'migration failed' }] } });
    const { client } = clientFor(f);

    expect(await client.ready()).toEqual({ status: 503, ready: false, reason: 'initializing', checks: [], retryAfterSeconds: 1 });
    expect(await client.ready()).toEqual({ status: 503, ready: false, error: 'migration failed', checks: [], retryAfterSeconds: 5 });
  });

  it('answers 405 to a GET on the RPC mount (the fake speaks the protocol)', async () => {
    const f = await fake();
    const response = await fetch(`${f.url}/api/catalog/getSystems`);
    expect(response.status).toBe(405);
  });
});

describe('createCheckstackClient against an older release (0.31; more in checkstack-eras.test.ts)', () => {
  it('says readiness is unknown and has no about', async () => {
    const f = await fake({ state: { era: '0.31' } });
    const { client } = clientFor(f);

    expect(await client.ready()).toEqual({ status: 200, unknown: true, answeredWith: 'html' });
    expect(await client.about()).toBeNull();
    expect(await client.ui()).toEqual({ status: 200, isHtml: true, isCheckstack: true });
  });

  it('reports "API key lacks permissions" when a key is granted none of its rules (around 0.31)', async () => {
    const f = await fake({ state: { era: '0.31', systems: [{ id: 's', name: 'S', checks: [] }] } });
    const { client } = clientFor(f, { apiKey: FAKE_ADMIN_KEY });

    expect(await client.getSystems()).toEqual([]);
    const err = await caught(client.getSystemHealthOverview('s'));
    expect(err).toMatchObject({ code: 'checkstack_auth_failed', details: { reason: 'missing_permissions' } });
  });
});

describe('createCheckstackClient errors', () => {
  it('names the endpoint and the target when the connection is refused', async () => {
    const { client } = clientFor({ url: await closedPortUrl() });

    const err = await caught(client.about());

    expect(err.code).toBe('checkstack_unreachable');
    expect(err.message).toBe('GET /api/about on prod: connection refused');
  });

  it('times out a request that gets no answer', async () => {
    const f = await fake();
    f.hold('/api/about');
    const { client } = clientFor(f, { timeoutMs: 100 });

    const err = await caught(client.about());

    expect(err).toMatchObject({ code: 'checkstack_unreachable', message: 'GET /api/about on prod: no answer within 100 ms' });
  });

  it('needs a key for a procedure that is not public', async () => {
    const f = await fake();
    const { client } = clientFor(f);

    const err = await caught(client.getDeliveryLogs({ page: 1, pageSize: 20 }));

    expect(err).toMatchObject({ code: 'checkstack_auth_failed', details: { status: 401, code: 'UNAUTHORIZED', reason: 'missing_key' } });
    expect(err.message).toMatch(/^POST \/api\/integration\/getDeliveryLogs on prod: needs an API key/);
  });

  it('says "API key rejected" on 401 with a key', async () => {
    const f = await fake();
    const { client } = clientFor(f, { apiKey: REJECTED_KEY });

    const err = await caught(client.getSystems());

    expect(err).toMatchObject({ code: 'checkstack_auth_failed', message: 'POST /api/catalog/getSystems on prod: API key rejected (401)' });
    expect(err.details).toMatchObject({ reason: 'rejected', status: 401 });
  });

  it('says "API key lacks permissions" on 403 Missing access', async () => {
    const f = await fake();
    const { client } = clientFor(f, { apiKey: FAKE_READONLY_KEY });

    const err = await caught(client.getDeliveryStats(24));

    expect(err).toMatchObject({
      code: 'checkstack_auth_failed',
      message: 'POST /api/integration/getDeliveryStats on prod: API key lacks permissions: Missing access: integration.integration.manage',
      details: { reason: 'missing_permissions', status: 403, code: 'FORBIDDEN' },
    });
  });

  it('reports any other error envelope with its status, code and message', async () => {
    const f = await fake();
    const { client } = clientFor(f);

    const err = await caught(client.getSystemHealthOverview(''));

    expect(err).toMatchObject({
      code: 'checkstack_api_error',
      message: 'POST /api/healthcheck/getSystemHealthOverview on prod: answered 400 BAD_REQUEST: Input validation failed',
      details: { status: 400, code: 'BAD_REQUEST' },
    });
  });

  it('refuses an answer that does not match the schema, and tolerates unknown fields', async () => {
    const f = await fake();
    const stub: typeof fetch = async (input) => {
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      if (path === '/api/about') return Response.json({ releaseVersion: 141, plugins: [] });
      return Response.json({ ready: true, checks: [], extra: { anything: 1 } });
    };
    const { client } = clientFor(f, { fetch: stub });

    expect(await client.ready()).toMatchObject({ status: 200, ready: true });
    const err = await caught(client.about());
    expect(err.code).toBe('checkstack_api_error');
    expect(err.message).toMatch(/^GET \/api\/about on prod: unexpected answer \(releaseVersion: /);
  });

  it('treats a 405 on /api/about as an older release without it', async () => {
    const stub: typeof fetch = async () => new Response('', { status: 405 });
    const { client } = clientFor({ url: 'http://127.0.0.1:9' }, { fetch: stub });
    expect(await client.about()).toBeNull();
  });

  it('never puts the API key into an error message, its details or a log line', async () => {
    const f = await fake({ state: { systems: [{ id: 's', name: 'S', checks: [] }] } });
    const texts: string[] = [];
    const run = async (apiKey: string, url: string, call: (c: ReturnType<typeof clientFor>['client']) => Promise<unknown>) => {
      const { client, lines } = clientFor({ url }, { apiKey });
      const err = await call(client).then(
        () => undefined,
        (e: unknown) => e as AppError,
      );
      if (err) texts.push(err.message, JSON.stringify(err.details), String(err.stack));
      texts.push(...lines);
      return lines;
    };

    const lines = await run(FAKE_ADMIN_KEY, f.url, (c) => c.getSystems());
    await run(REJECTED_KEY, f.url, (c) => c.getSystems());
    await run(FAKE_READONLY_KEY, f.url, (c) => c.getDeliveryLogs({ page: 1, pageSize: 10 }));
    await run(FAKE_ADMIN_KEY, await closedPortUrl(), (c) => c.getSystems());

    expect(lines.length).toBeGreaterThan(0);
    expect(texts.length).toBeGreaterThan(8);
    expectNoSecrets(texts);
  });
});

describe('waitForReady', () => {
  it('polls while booting, honouring Retry-After, and resolves on 200', async () => {
    const f = await fake({ state: { readyScript: [{ kind: 'booting' }, { kind: 'booting' }] } });
    const { client } = clientFor(f);
    const clock = fakeClock();
    const progress: HttpProgress[] = [];

    const outcome = await waitForReady({ client, logs: await initializedPod(), timeoutMs: 60_000, now: clock.now, sleep: clock.sleep, onProgress: httpAnswers(progress) });

    expect(outcome).toMatchObject({ readyAt: new Date('2025-06-01T12:00:02.000Z'), answer: { status: 200, ready: true } });
    expect(clock.sleeps).toEqual([1000, 1000]);
    expect(progress).toMatchObject([{ reason: 'initializing' }, { reason: 'initializing' }]);
  });

  it('waits 2 s between polls without Retry-After', async () => {
    const notReady = { kind: 'not_ready' as const, checks: [{ name: 'database', critical: true, ok: false, message: 'ECONNREFUSED' }] };
    const f = await fake({ state: { readyScript: [notReady, notReady] } });
    const { client } = clientFor(f);
    const clock = fakeClock();

    await waitForReady({ client, logs: await initializedPod(), timeoutMs: 60_000, now: clock.now, sleep: clock.sleep });

    expect(clock.sleeps).toEqual([2000, 2000]);
  });

  it('keeps polling through connection errors while the container restarts', async () => {
    const f = await fake({ state: { readyScript: [{ kind: 'drop' }, { kind: 'booting' }] } });
    const { client } = clientFor(f);
    const clock = fakeClock();
    const progress: HttpProgress[] = [];

    const outcome = await waitForReady({ client, logs: await initializedPod(), timeoutMs: 60_000, now: clock.now, sleep: clock.sleep, onProgress: httpAnswers(progress) });

    expect(outcome).toHaveProperty('readyAt');
    expect(progress[0]).toMatchObject({ status: null, ready: false, unreachable: expect.stringMatching(/^GET \/\.checkstack\/ready on prod: /) });
    expect(progress[1]).toMatchObject({ status: 503, reason: 'initializing' });
  });

  it('keeps polling while the port is closed and the new container comes up on it', async () => {
    const first = await startFakeCheckstack();
    const port = first.port;
    await first.close();
    const { client } = clientFor(first);
    const clock = fakeClock();
    clock.onSleep(async () => {
      if (fakes.length === 0) await fake({ port, state: { readyScript: [{ kind: 'booting' }] } });
    });
    const progress: HttpProgress[] = [];

    const outcome = await waitForReady({ client, logs: await initializedPod(), timeoutMs: 60_000, now: clock.now, sleep: clock.sleep, onProgress: httpAnswers(progress) });

    expect(outcome).toHaveProperty('readyAt');
    expect(progress.map((p) => ('unreachable' in p ? p.unreachable : p.reason))).toEqual([
      'GET /.checkstack/ready on prod: connection refused',
      'initializing',
    ]);
  });

  it('times out after a failed init with the last answer', async () => {
    const f = await fake({ state: { ready: { kind: 'failed_init', error: 'relation "plugin_artifacts" does not exist' } } });
    const { client } = clientFor(f);
    const clock = fakeClock();

    const err = await caught(waitForReady({ client, logs: await initializedPod(), timeoutMs: 12_000, now: clock.now, sleep: clock.sleep }));

    expect(err.code).toBe('readiness_timeout');
    expect(err.message).toMatch(/^prod logged `Checkstack Core initialized` but was not ready within 12 s .*init failed: relation "plugin_artifacts" does not exist/);
    expect(err.details.lastAnswer).toMatchObject({ status: 503, error: 'relation "plugin_artifacts" does not exist' });
    expect(clock.sleeps).toEqual([5000, 5000, 2000]);
  });

  it('resolves as unknown for an older release once `GET /` answers, and lets the caller fall back', async () => {
    const f = await fake({ state: { era: '0.31' } });
    const { client } = clientFor(f);
    const clock = fakeClock();
    const progress: ReadyProgress[] = [];

    const outcome = await waitForReady({ client, logs: await initializedPod(), timeoutMs: 60_000, now: clock.now, sleep: clock.sleep, onProgress: (a) => void progress.push(a) });

    expect(outcome).toEqual({
      unknown: true,
      readyAt: clock.now(),
      answer: { status: 200, unknown: true, answeredWith: 'html' },
      ui: { status: 200, isHtml: true, isCheckstack: true },
    });
    expect(progress).toEqual([expect.objectContaining({ awaitingLog: true })]);
    expect(f.requests.map((r) => r.path)).toEqual(['/.checkstack/ready', '/']);
  });

  it('resolves on the first 200 even when readiness flaps afterwards', async () => {
    const down = { kind: 'not_ready' as const, checks: [{ name: 'queue', critical: true, ok: false }] };
    const f = await fake({ state: { readyScript: [down, { kind: 'ready' }, down] } });
    const { client } = clientFor(f);
    const clock = fakeClock();

    const outcome = await waitForReady({ client, logs: await initializedPod(), timeoutMs: 60_000, now: clock.now, sleep: clock.sleep });

    expect(outcome).toMatchObject({ answer: { status: 200 } });
    expect(await client.ready()).toMatchObject({ status: 503, ready: false });
  });

  it('does not stop waiting when reporting progress fails', async () => {
    const f = await fake({ state: { readyScript: [{ kind: 'booting' }] } });
    const { client } = clientFor(f);
    const clock = fakeClock();
    const { logger, lines } = captureLogs();

    const outcome = await waitForReady({
      client,
      logs: await initializedPod(),
      timeoutMs: 60_000,
      now: clock.now,
      sleep: clock.sleep,
      logger,
      onProgress: () => Promise.reject(new Error('slack down')),
    });

    expect(outcome).toHaveProperty('readyAt');
    expect(lines.join('')).toContain('readiness progress report failed');
  });
});
