// The client, the readiness wait and the post-flight against Checkstack as each release line really answers it:
// `current` (the platform endpoints) and `0.31` (before them; shared/checkstack-api.md "Older releases").
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckstackClient } from '../../src/checkstack/client.js';
import { runPostflightChecks } from '../../src/checkstack/postflight-runner.js';
import { waitForReady, type ReadyProgress } from '../../src/checkstack/wait-for-ready.js';
import type { CheckName } from '../../src/domain/postflight.js';
import { AppError } from '../../src/errors.js';
import {
  FAKE_ADMIN_KEY,
  defaultFakeState,
  startFakeCheckstack,
  type FakeCheckstack,
  type FakeCheckstackOptions,
  type FakeEra,
  type FakeSystem,
} from '../fakes/fake-checkstack.js';
import { INITIALIZED_LINE, startLoggingPod, type LoggingPod } from '../support/logging-pod.js';

const ERAS: FakeEra[] = ['current', '0.31'];
const WRONG_KEY = 'ck_00000000-0000-4000-8000-00000000dead_not-a-valid-secret';
const logger = pino({ level: 'silent' });

let closing: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(closing.map((c) => c.close()));
  closing = [];
});

async function fake(options: FakeCheckstackOptions): Promise<FakeCheckstack> {
  const f = await startFakeCheckstack(options);
  closing.push(f);
  return f;
}

async function loggingPod(initialized: boolean): Promise<LoggingPod> {
  const pod = await startLoggingPod({ initialized });
  closing.push(pod);
  return pod;
}

const clientFor = (f: FakeCheckstack, apiKey?: string) => createCheckstackClient({ baseUrl: f.url, apiKey, name: 'prod', logger, timeoutMs: 2_000 });
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function caught(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('what a 0.31-era Checkstack answers, byte for byte', () => {
  it('serves the UI page on the platform paths, 500 on /api/about, and nothing on /rest', async () => {
    const f = await fake({ state: { era: '0.31' } });

    const ready = await fetch(`${f.url}/.checkstack/ready`);
    const about = await fetch(`${f.url}/api/about`);
    const rest = await fetch(`${f.url}/rest/catalog/getSystems`);

    expect(ready.status).toBe(200);
    expect(ready.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await ready.text()).toMatch(/^<!doctype html>[\s\S]*<title>Checkstack Health Monitor<\/title>/);
    expect(about.status).toBe(500);
    expect(await about.text()).toBe('{"error":"Plugin metadata not found in registry"}');
    expect(rest.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('answers 404 text/plain on the platform paths without a built UI', async () => {
    const f = await fake({ state: { era: '0.31', uiBuilt: false } });

    const ready = await fetch(`${f.url}/.checkstack/ready`);

    expect(ready.status).toBe(404);
    expect(ready.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('answers a request before `Checkstack Core initialized` and then dies of it', async () => {
    const f = await fake({ state: { era: '0.31', booting: true } });

    const first = await fetch(`${f.url}/.checkstack/ready`);

    expect(first.status).toBe(200);
    expect(await first.text()).toContain('<title>Checkstack Health Monitor</title>');
    await expect.poll(() => f.died).toMatchObject({ request: { method: 'GET', path: '/.checkstack/ready' }, error: expect.stringMatching(/matcher is already built/) });
    await expect(fetch(`${f.url}/.checkstack/ready`)).rejects.toThrow();
  });

  it('lets an anonymous caller see the systems a key without rights does not, and refuses it per resource', async () => {
    const f = await fake({ state: { era: '0.31', systems: [{ id: 'sys-api', name: 'API', checks: [] }] } });
    const call = (path: string, json: unknown, key?: string) =>
      fetch(`${f.url}/api/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ json }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { json: Record<string, unknown> } }));

    expect((await call('catalog/getSystems', {}, FAKE_ADMIN_KEY)).body.json).toEqual({ systems: [] });
    expect((await call('catalog/getSystems', {})).body.json.systems).toHaveLength(1);
    expect(await call('healthcheck/getSystemHealthOverview', { systemId: 'sys-api' }, FAKE_ADMIN_KEY)).toMatchObject({
      status: 403,
      body: { json: { code: 'FORBIDDEN', message: 'Access denied to resource catalog.system:sys-api' } },
    });
    expect(await call('integration/getDeliveryLogs', { page: 1, pageSize: 20 }, FAKE_ADMIN_KEY)).toMatchObject({
      status: 403,
      body: { json: { code: 'FORBIDDEN', message: 'Missing access: integration.integration.manage' } },
    });
    expect(await call('integration/getDeliveryLogs', { page: 1, pageSize: 20 }, WRONG_KEY)).toMatchObject({
      status: 401,
      body: { json: { code: 'UNAUTHORIZED', message: 'Authentication required' } },
    });
    expect((await call('catalog/getSystems', {}, WRONG_KEY)).body.json.systems).toHaveLength(1);
  });
});

describe('createCheckstackClient classifies what each era answers', () => {
  it.each(ERAS)('%s: readiness, about and the UI', async (era) => {
    const f = await fake({ state: { era } });
    const client = clientFor(f);

    const [ready, about, ui, health] = await Promise.all([client.ready(), client.about(), client.ui(), client.health()]);

    if (era === 'current') {
      expect(ready).toMatchObject({ status: 200, ready: true });
      expect(about).toMatchObject({ releaseVersion: '0.140.0' });
      expect(health).toEqual({ status: 200, ok: true });
    } else {
      expect(ready).toEqual({ status: 200, unknown: true, answeredWith: 'html' });
      expect(about).toBeNull();
      expect(health).toEqual({ status: 200, ok: false, unknown: true });
    }
    expect(ui).toEqual({ status: 200, isHtml: true, isCheckstack: true });
  });

  it('0.31 without a built UI: 404 on the readiness path is "no readiness endpoint" too', async () => {
    const client = clientFor(await fake({ state: { era: '0.31', uiBuilt: false } }));

    expect(await client.ready()).toEqual({ status: 404, unknown: true, answeredWith: 'not_found' });
  });

  it("recognises Checkstack's page and no other HTML", async () => {
    const page = (html: string): typeof fetch => async () => new Response(html, { headers: { 'content-type': 'text/html' } });
    const ui = (html: string) => createCheckstackClient({ baseUrl: 'http://127.0.0.1:9', name: 'prod', logger, fetch: page(html) }).ui();

    expect(await ui('<!doctype html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>')).toEqual({ status: 200, isHtml: true, isCheckstack: false });
    expect(await ui('<html><head><title>Welcome to nginx!</title></head></html>')).toMatchObject({ isCheckstack: false });
    expect(await ui('<!doctype html><html><head><title>Checkstack Health Monitor</title></head><body><div id="root"></div></body></html>')).toMatchObject({ isCheckstack: true });
    expect(await ui('<html><head><script>window.__CHECKSTACK_BOOTSTRAP__ = {};</script><title>Status</title></head></html>')).toMatchObject({ isCheckstack: true });
  });

  it('0.31: both 403 wordings mean "API key lacks permissions"', async () => {
    const f = await fake({ state: { era: '0.31', systems: [{ id: 'sys-api', name: 'API', checks: [] }] } });
    const client = clientFor(f, FAKE_ADMIN_KEY);

    const resource = await caught(client.getSystemHealthOverview('sys-api'));
    const rule = await caught(client.getDeliveryLogs({ page: 1, pageSize: 20 }));

    expect(resource).toMatchObject({
      code: 'checkstack_auth_failed',
      message: 'POST /api/healthcheck/getSystemHealthOverview on prod: API key lacks permissions: Access denied to resource catalog.system:sys-api',
      details: { reason: 'missing_permissions', status: 403 },
    });
    expect(rule).toMatchObject({ code: 'checkstack_auth_failed', details: { reason: 'missing_permissions', message: 'Missing access: integration.integration.manage' } });
  });

  it('0.31: a wrong key is anonymous where anonymous may look, and rejected by the delivery log', async () => {
    const f = await fake({ state: { era: '0.31', systems: [{ id: 'sys-api', name: 'API', checks: [] }] } });
    const client = clientFor(f, WRONG_KEY);

    expect(await client.getSystems()).toHaveLength(1);
    expect(await caught(client.getDeliveryLogs({ page: 1, pageSize: 20 }))).toMatchObject({ code: 'checkstack_auth_failed', details: { reason: 'rejected', status: 401 } });
  });

  it('0.31: a paused check stays `enabled: true` and says nothing about being paused', async () => {
    const f = await fake({
      state: { era: '0.31', systems: [{ id: 's', name: 'S', checks: [{ configurationId: 'c', configurationName: 'C', intervalSeconds: 30, enabled: true, paused: true, runs: [] }] }] },
    });

    const overview = await clientFor(f).getSystemHealthOverview('s');

    expect(overview.checks).toEqual([expect.objectContaining({ enabled: true, recentRuns: [] })]);
    expect(overview.checks[0]).not.toHaveProperty('paused');
  });
});

describe.each(ERAS)('waitForReady against a %s-era Checkstack', (era) => {
  it('sends nothing before the pod logs `Checkstack Core initialized`, then learns what the release has', async () => {
    const checkstack = await fake({ state: { era, booting: true } });
    const pod = await loggingPod(false);
    const progress: ReadyProgress[] = [];

    const waiting = waitForReady({
      client: clientFor(checkstack),
      logs: pod.logs,
      timeoutMs: 60_000,
      now: () => new Date(),
      sleep: realSleep,
      pollIntervalMs: 50,
      onProgress: (answer) => void progress.push(answer),
    });
    await pod.followed();
    expect(checkstack.requests).toEqual([]);
    checkstack.initialize();
    pod.logInitialized();
    const result = await waiting;

    expect(checkstack.died).toBeNull();
    expect(progress[0]).toMatchObject({ awaitingLog: true });
    if (era === 'current') {
      expect(result).toMatchObject({ answer: { status: 200, ready: true } });
    } else {
      expect(result).toMatchObject({ unknown: true, answer: { answeredWith: 'html' }, ui: { status: 200, isCheckstack: true } });
    }
  });

  it('blames the missing log line, not the server, when the line never comes', async () => {
    const checkstack = await fake({ state: { era, booting: true } });
    const pod = await loggingPod(false);

    const err = await caught(waitForReady({ client: clientFor(checkstack), logs: pod.logs, timeoutMs: 2_000, now: () => new Date(), sleep: realSleep, pollIntervalMs: 50 }));

    expect(err.code).toBe('readiness_timeout');
    expect(err.details.reason).toBe(
      'did not log `Checkstack Core initialized` within 2 s (1 log line since it started; it runs); nothing was asked over HTTP before that line',
    );
    expect(checkstack.requests).toEqual([]);
    expect(checkstack.died).toBeNull();
  });

  it('follows the log again when it ends before the line (the container stopped)', async () => {
    const checkstack = await fake({ state: { era, booting: true } });
    const pod = await loggingPod(false);

    const waiting = waitForReady({ client: clientFor(checkstack), logs: pod.logs, timeoutMs: 60_000, now: () => new Date(), sleep: realSleep, pollIntervalMs: 50 });
    await pod.followed();
    pod.k8s.endLogs(pod.pod);
    await pod.followed();
    checkstack.initialize();
    pod.logInitialized();

    expect(await waiting).toHaveProperty('readyAt');
    expect(pod.k8s.requestsFor('get', 'pods/log').length).toBeGreaterThanOrEqual(2);
    expect(checkstack.died).toBeNull();
  });

  it('counts an init line printed before the platform recorded the start (a fast start)', async () => {
    const checkstack = await fake({ state: { era } });
    const pod = await loggingPod(false);
    const startedAt = pod.k8s.livePods()[0]!.status!.containerStatuses![0]!.state!.running!.startedAt!;
    pod.k8s.appendLog(pod.pod, INITIALIZED_LINE, new Date(new Date(startedAt).getTime() - 5));

    const result = await waitForReady({ client: clientFor(checkstack), logs: pod.logs, timeoutMs: 30_000, now: () => new Date(), sleep: realSleep, pollIntervalMs: 50 });

    expect(result).toHaveProperty('readyAt');
  });

  it('blames the server when it logged the line but does not answer', async () => {
    const checkstack = await fake({ state: { era, down: true } });
    const pod = await loggingPod(true);

    const err = await caught(waitForReady({ client: clientFor(checkstack), logs: pod.logs, timeoutMs: 1_000, now: () => new Date(), sleep: realSleep, pollIntervalMs: 50 }));

    expect(err.code).toBe('readiness_timeout');
    expect(err.details.reason).toMatch(/^logged `Checkstack Core initialized` but was not ready within 1 s \(\d+ polls; last answer: no answer \(GET \/\.checkstack\/ready on prod: /);
  });
});

// ---------------------------------------------------------------- post-flight

const READY_AT = new Date('2025-06-01T12:00:00.000Z');
const at = (seconds: number) => new Date(READY_AT.getTime() + seconds * 1000);
const TARGET = '0.31.0';

function systems(): FakeSystem[] {
  return [
    {
      id: 'sys-api',
      name: 'API',
      checks: [
        { configurationId: 'cfg-http', configurationName: 'HTTP probe', intervalSeconds: 30, enabled: true, runs: [{ id: 'r0', status: 'healthy', timestamp: at(-20) }] },
        { configurationId: 'cfg-tls', configurationName: 'TLS expiry', intervalSeconds: 60, enabled: true, runs: [{ id: 'r1', status: 'healthy', timestamp: at(-40) }] },
      ],
    },
    {
      id: 'sys-db',
      name: 'Billing DB',
      checks: [{ configurationId: 'cfg-pg', configurationName: 'Postgres', intervalSeconds: 60, enabled: true, runs: [{ id: 'r2', status: 'healthy', timestamp: at(-30) }] }],
    },
  ];
}

/** A healthy upgraded instance of `era`: its scheduler runs every check that is not paused after ready. */
async function postflight(era: FakeEra, { apiKey, pausedCheck = false }: { apiKey?: string; pausedCheck?: boolean } = {}) {
  const staged = systems();
  if (pausedCheck) staged[1]!.checks[0]!.paused = true;
  const f = await fake({ state: { era, releaseVersion: TARGET, systems: staged } });
  const due: Array<[string, string, number]> = [
    ['sys-api', 'cfg-http', 5],
    ['sys-api', 'cfg-tls', 45],
    ...(pausedCheck ? [] : [['sys-db', 'cfg-pg', 20] as [string, string, number]]),
  ];
  let t = at(1).getTime();
  const report = await runPostflightChecks({
    client: clientFor(f, apiKey),
    targetVersion: TARGET,
    // What the re-check recorded: 0.31 has no /api/about to list the plugins.
    pluginsBefore: era === 'current' ? defaultFakeState().plugins : null,
    readyAt: READY_AT,
    now: () => new Date(t),
    sleep: async (ms) => {
      t += ms;
      for (const run of due.filter(([, , s]) => at(s).getTime() <= t)) {
        f.addRun(run[0], run[1], at(run[2]));
        due.splice(due.indexOf(run), 1);
      }
    },
    healthcheckMaxWaitMs: 10 * 60_000,
    apiKeyEnv: 'CHECKSTACK_PROD_API_KEY',
    runningImageTag: TARGET,
  });
  const byName = (name: CheckName) => report.results.find((r) => r.name === name)!;
  return { report, byName };
}

describe('runPostflightChecks on a healthy server of each era', () => {
  it.each(ERAS)('%s without an API key ends green', async (era) => {
    const { report, byName } = await postflight(era);

    expect(report.verdict).toBe('succeeded');
    expect(byName('ui')).toMatchObject({ outcome: 'pass' });
    expect(byName('healthchecks')).toMatchObject({ outcome: 'pass', detail: 'all 3 enabled checks on 2 systems ran since ready' });
    expect(byName('delivery')).toMatchObject({ outcome: 'skipped' });
    if (era === 'current') {
      expect(byName('ready')).toMatchObject({ outcome: 'pass' });
      expect(byName('version')).toMatchObject({ outcome: 'pass', detail: expect.stringMatching(/^`\/api\/about` reports 0\.31\.0/) });
    } else {
      expect(byName('ready')).toEqual({ name: 'ready', outcome: 'nothing_to_verify', detail: 'readiness unknown: this release has no `/.checkstack/ready` (the UI answers for it)' });
      expect(byName('version')).toEqual({ name: 'version', outcome: 'pass', detail: 'image tag 0.31.0 (this release has no `/api/about`)' });
      expect(byName('plugins')).toMatchObject({ outcome: 'nothing_to_verify', detail: expect.stringMatching(/^plugin comparison not available/) });
    }
  });

  it.each(ERAS)('%s with the admin key: 0.31 grants it nothing, which warns and never fails', async (era) => {
    const { report, byName } = await postflight(era, { apiKey: FAKE_ADMIN_KEY });

    if (era === 'current') {
      expect(report.verdict).toBe('succeeded');
      return;
    }
    expect(report.verdict).toBe('succeeded_with_warnings');
    expect(byName('healthchecks')).toEqual({
      name: 'healthchecks',
      outcome: 'warn',
      detail: 'API key lacks permissions: it sees no systems, anonymous callers see 2; anonymously, all 3 enabled checks on 2 systems ran since ready',
    });
    expect(byName('delivery')).toEqual({ name: 'delivery', outcome: 'warn', detail: 'API key lacks permissions: Missing access: integration.integration.manage' });
  });

  it.each(ERAS)('%s with a paused check that did not run', async (era) => {
    const { report, byName } = await postflight(era, { pausedCheck: true });

    if (era === 'current') {
      // The release says it is paused: it is not expected to run.
      expect(byName('healthchecks')).toMatchObject({ outcome: 'pass', detail: 'all 2 enabled checks on 1 system ran since ready' });
      expect(report.verdict).toBe('succeeded');
    } else {
      expect(byName('healthchecks')).toEqual({
        name: 'healthchecks',
        outcome: 'warn',
        detail: '1 check on 1 system did not run since ready; it may be paused (this release does not say): Billing DB: Postgres',
      });
      expect(report.verdict).toBe('succeeded_with_warnings');
    }
  });
});
