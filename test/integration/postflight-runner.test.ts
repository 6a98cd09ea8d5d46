import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCheckstackClient } from '../../src/checkstack/client.js';
import { runPostflightChecks, type PostflightOptions } from '../../src/checkstack/postflight-runner.js';
import type { CheckName, CheckResult } from '../../src/domain/postflight.js';
import {
  FAKE_ADMIN_KEY,
  FAKE_READONLY_KEY,
  defaultFakeState,
  startFakeCheckstack,
  type FakeCheckstack,
  type FakeCheckstackState,
  type FakeDeliveryLog,
  type FakeSystem,
} from '../fakes/fake-checkstack.js';

const READY_AT = new Date('2025-06-01T12:00:00.000Z');
const at = (seconds: number) => new Date(READY_AT.getTime() + seconds * 1000);
const TARGET = '0.141.0';
const REJECTED_KEY = 'ck_00000000-0000-4000-8000-00000000dead_not-a-valid-secret';

let fakes: FakeCheckstack[] = [];
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  fakes = [];
});

/** Two systems, three enabled checks (30 s and 60 s intervals) and a disabled one; all ran before the upgrade. */
function systems(): FakeSystem[] {
  return [
    {
      id: 'sys-api',
      name: 'API',
      checks: [
        { configurationId: 'cfg-http', configurationName: 'HTTP probe', intervalSeconds: 30, enabled: true, runs: [{ id: 'r0', status: 'healthy', timestamp: at(-20) }] },
        { configurationId: 'cfg-tls', configurationName: 'TLS expiry', intervalSeconds: 60, enabled: true, runs: [{ id: 'r1', status: 'healthy', timestamp: at(-40) }] },
        { configurationId: 'cfg-old', configurationName: 'Legacy ping', intervalSeconds: 10, enabled: false, runs: [] },
      ],
    },
    {
      id: 'sys-db',
      name: 'Billing DB',
      checks: [
        { configurationId: 'cfg-pg', configurationName: 'Postgres', intervalSeconds: 60, enabled: true, runs: [{ id: 'r2', status: 'healthy', timestamp: at(-30) }] },
      ],
    },
  ];
}

function delivery(id: string, status: FakeDeliveryLog['status'], seconds: number, errorMessage?: string): FakeDeliveryLog {
  return {
    id,
    subscriptionId: 'sub-ops',
    subscriptionName: 'ops webhook',
    eventType: 'healthcheck.status_changed',
    status,
    attempts: status === 'success' ? 1 : 3,
    lastAttemptAt: at(seconds),
    createdAt: at(seconds),
    ...(errorMessage ? { errorMessage } : {}),
  };
}

/** Runs the scheduler of the fake would record: `[systemId, configurationId, secondsAfterReady]`. */
type ScheduledRun = [string, string, number];
const ALL_RUN: ScheduledRun[] = [
  ['sys-api', 'cfg-http', 5],
  ['sys-db', 'cfg-pg', 20],
  ['sys-api', 'cfg-tls', 45],
];

interface Scenario {
  state?: Partial<FakeCheckstackState>;
  apiKey?: string;
  runs?: ScheduledRun[];
  options?: Partial<PostflightOptions>;
  /** Called after each sleep, once due runs are recorded. */
  onSleep?: (fake: FakeCheckstack, sleepCount: number) => void;
}

async function run({ state, apiKey = FAKE_ADMIN_KEY, runs = ALL_RUN, options = {}, onSleep }: Scenario = {}) {
  const f = await startFakeCheckstack({
    state: {
      releaseVersion: TARGET,
      coreVersion: '0.28.0',
      systems: systems(),
      deliveryLogs: [delivery('d-old', 'failed', -3600, 'before the upgrade'), delivery('d1', 'success', 8), delivery('d2', 'success', 12)],
      ...state,
    },
  });
  fakes.push(f);
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  const client = createCheckstackClient({ baseUrl: f.url, apiKey, name: 'prod', logger, timeoutMs: 2_000 });

  // The clock starts just after ready; each sleep advances it and lets the fake's scheduler record due runs.
  let t = at(1).getTime();
  const pending = [...runs];
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    t += ms;
    for (const r of pending.filter(([, , s]) => at(s).getTime() <= t)) {
      f.addRun(r[0], r[1], at(r[2]));
      pending.splice(pending.indexOf(r), 1);
    }
    onSleep?.(f, sleeps.length);
  };
  const seen: { result: CheckResult; durationMs: number }[] = [];

  const report = await runPostflightChecks({
    client,
    targetVersion: TARGET,
    pluginsBefore: defaultFakeState().plugins,
    readyAt: READY_AT,
    now: () => new Date(t),
    sleep,
    healthcheckMaxWaitMs: 10 * 60_000,
    logger,
    onResult: (result, durationMs) => void seen.push({ result, durationMs }),
    ...options,
  });
  const byName = (name: CheckName) => report.results.find((r) => r.name === name);
  return { report, byName, seen, sleeps, lines, fake: f, finishedAt: new Date(t) };
}

describe('runPostflightChecks', () => {
  it('passes every check on a healthy upgrade', async () => {
    const { report, seen, sleeps, finishedAt } = await run();

    expect(report.verdict).toBe('succeeded');
    expect(report.results).toEqual([
      { name: 'ready', outcome: 'pass', detail: '200 ready: database, queue, plugins' },
      { name: 'version', outcome: 'pass', detail: '`/api/about` reports 0.141.0 (core 0.28.0)' },
      { name: 'ui', outcome: 'pass', detail: "`GET /` answers 200 with Checkstack's page" },
      { name: 'plugins', outcome: 'pass', detail: 'all 3 plugins loaded again' },
      { name: 'healthchecks', outcome: 'pass', detail: 'all 3 enabled checks on 2 systems ran since ready' },
      { name: 'delivery', outcome: 'pass', detail: '2 deliveries since the upgrade, none failed' },
    ]);
    expect(seen).toHaveLength(6);
    expect(sleeps.every((ms) => ms <= 10_000)).toBe(true);
    expect(finishedAt.getTime()).toBeLessThanOrEqual(at(60).getTime());
  });

  it('fails naming a check that stopped running, once its deadline of two intervals has passed', async () => {
    const { report, byName, finishedAt } = await run({ runs: ALL_RUN.filter(([, cfg]) => cfg !== 'cfg-pg') });

    expect(byName('healthchecks')).toEqual({
      name: 'healthchecks',
      outcome: 'fail',
      detail: '1 check on 1 system did not run since ready: Billing DB: Postgres',
    });
    expect(report.verdict).toBe('failed');
    expect(finishedAt).toEqual(at(120));
  });

  it('asks again only about systems with a check still pending', async () => {
    const { fake } = await run({ runs: [['sys-api', 'cfg-http', 5], ['sys-api', 'cfg-tls', 5], ['sys-db', 'cfg-pg', 50]] });

    const overviews = fake.requests.filter((r) => r.path === '/api/healthcheck/getSystemHealthOverview');
    const forApi = overviews.filter((r) => (r.body as { json: { systemId: string } }).json.systemId === 'sys-api');
    expect(forApi.length).toBeLessThan(overviews.length - forApi.length);
  });

  it('rides out a moment without an answer while waiting for runs', async () => {
    const { byName } = await run({
      onSleep: (fake, count) => {
        fake.state.down = count === 1;
      },
    });

    expect(byName('healthchecks')?.outcome).toBe('pass');
  });

  it('warns about delivery failures since the upgrade with the count and the first error', async () => {
    const { report, byName } = await run({
      state: {
        deliveryLogs: [
          delivery('d1', 'success', 5),
          delivery('d2', 'failed', 10, 'Slack webhook answered 404 no_service'),
          delivery('d3', 'failed', 20, 'Slack webhook answered 404 no_service'),
        ],
      },
    });

    expect(byName('delivery')).toEqual({
      name: 'delivery',
      outcome: 'warn',
      detail: '2 failed of 3 deliveries since the upgrade; first error (ops webhook): Slack webhook answered 404 no_service',
    });
    expect(report.verdict).toBe('succeeded_with_warnings');
  });

  it('has nothing to verify when nothing was delivered since the upgrade', async () => {
    const { report, byName } = await run({ state: { deliveryLogs: [delivery('d-old', 'success', -60)] } });

    expect(byName('delivery')).toMatchObject({ outcome: 'nothing_to_verify', detail: 'no deliveries since the upgrade' });
    expect(report.verdict).toBe('succeeded');
  });

  it('pages back through a busy delivery log until it reaches the upgrade', async () => {
    const logs = Array.from({ length: 7 }, (_, i) => delivery(`d${i}`, 'success', 100 - i * 10));
    const { byName, fake } = await run({ state: { deliveryLogs: logs }, options: { deliveryPageSize: 3 } });

    expect(byName('delivery')?.detail).toBe('7 deliveries since the upgrade, none failed');
    expect(fake.requests.filter((r) => r.path === '/api/integration/getDeliveryLogs')).toHaveLength(3);
  });

  it('fails ready when readiness flaps after the wait', async () => {
    const flap = { kind: 'not_ready' as const, checks: [{ name: 'queue', critical: true, ok: false, message: 'redis: connection reset' }] };
    const { report, byName } = await run({ state: { readyScript: [flap] } });

    expect(byName('ready')).toEqual({ name: 'ready', outcome: 'fail', detail: '503 not ready; failing: queue: redis: connection reset' });
    expect(report.verdict).toBe('failed');
  });

  it('fails version when another release is running', async () => {
    const { byName, report } = await run({ state: { releaseVersion: '0.140.0' } });

    expect(byName('version')).toEqual({ name: 'version', outcome: 'fail', detail: '`/api/about` reports 0.140.0 (core 0.28.0), expected 0.141.0' });
    expect(report.verdict).toBe('failed');
  });

  it('warns naming a plugin that did not come back', async () => {
    const { byName } = await run({ state: { plugins: defaultFakeState().plugins.slice(0, 2) } });

    expect(byName('plugins')).toMatchObject({ outcome: 'warn', detail: expect.stringContaining('@checkstack/integration-backend') });
  });

  it('skips the delivery check without an API key and says what to configure', async () => {
    const { report, byName, fake } = await run({ apiKey: '', options: { apiKeyEnv: 'CHECKSTACK_PROD_API_KEY' } });

    expect(byName('healthchecks')?.outcome).toBe('pass');
    expect(byName('delivery')).toEqual({
      name: 'delivery',
      outcome: 'skipped',
      detail: 'needs an API key: put an application API key with access `integration.integration.manage` in `CHECKSTACK_PROD_API_KEY`',
    });
    expect(report.verdict).toBe('succeeded');
    expect(fake.requests.some((r) => r.path.startsWith('/api/integration/'))).toBe(false);
    expect(fake.requests.every((r) => r.authorization === undefined)).toBe(true);
  });

  it('skips the health checks too when the instance does not make them public', async () => {
    const { byName } = await run({ apiKey: '', state: { publicAccess: [] } });

    expect(byName('healthchecks')).toMatchObject({ outcome: 'nothing_to_verify' });
  });

  it('fails the checks that need the key when it is rejected, and never leaks it', async () => {
    const { report, byName, lines } = await run({ apiKey: REJECTED_KEY, options: { apiKeyEnv: 'CHECKSTACK_PROD_API_KEY' } });

    expect(byName('healthchecks')).toEqual({
      name: 'healthchecks',
      outcome: 'fail',
      detail: 'API key rejected (`CHECKSTACK_PROD_API_KEY`): check it is current',
    });
    expect(byName('delivery')?.outcome).toBe('fail');
    expect(report.verdict).toBe('failed');
    for (const text of [...lines, JSON.stringify(report)]) expect(text).not.toContain(REJECTED_KEY);
  });

  it('warns when the key lacks permissions', async () => {
    const { report, byName } = await run({ apiKey: FAKE_READONLY_KEY });

    expect(byName('healthchecks')?.outcome).toBe('pass');
    expect(byName('delivery')).toEqual({
      name: 'delivery',
      outcome: 'warn',
      detail: 'API key lacks permissions: Missing access: integration.integration.manage',
    });
    expect(report.verdict).toBe('succeeded_with_warnings');
  });

  it('reports "lacks permissions", not a failed upgrade, when a key gets none of its rules (around 0.31)', async () => {
    const { report, byName } = await run({ state: { era: '0.31' }, options: { pluginsBefore: null, runningImageTag: TARGET } });

    expect(byName('healthchecks')).toMatchObject({ outcome: 'warn', detail: expect.stringMatching(/^API key lacks permissions: it sees no systems, anonymous callers see 2; /) });
    expect(byName('delivery')).toMatchObject({ outcome: 'warn', detail: expect.stringMatching(/^API key lacks permissions/) });
    expect(report.verdict).toBe('succeeded_with_warnings');
  });

  it('has nothing to verify when neither the key nor anonymous callers see a system', async () => {
    const { byName } = await run({ state: { era: '0.31', publicAccess: [] }, options: { pluginsBefore: null, runningImageTag: TARGET } });

    expect(byName('healthchecks')).toMatchObject({ outcome: 'nothing_to_verify', detail: expect.stringContaining('API key without access rules') });
  });

  it('falls back to the image tag on an older release without ready and about', async () => {
    const { report, byName } = await run({ apiKey: '', state: { era: '0.31' }, options: { pluginsBefore: null, runningImageTag: TARGET } });

    expect(byName('ready')).toMatchObject({ outcome: 'nothing_to_verify', detail: expect.stringContaining('readiness unknown') });
    expect(byName('version')).toMatchObject({ outcome: 'pass', detail: 'image tag 0.141.0 (this release has no `/api/about`)' });
    expect(byName('plugins')).toMatchObject({ outcome: 'nothing_to_verify', detail: expect.stringMatching(/^plugin comparison not available/) });
    expect(report.verdict).toBe('succeeded');
  });

  it('fails every check that cannot reach the instance, naming what failed', async () => {
    const { report, byName } = await run({ state: { down: true }, runs: [] });

    expect(byName('version')?.detail).toMatch(/^GET \/api\/about on prod: /);
    expect(report.results.every((r) => r.outcome === 'fail')).toBe(true);
  });

  it('hands over each result the moment its check finishes, in completion order', async () => {
    const f = await startFakeCheckstack({ state: { releaseVersion: TARGET, systems: [], deliveryLogs: [delivery('d1', 'success', 3)] } });
    fakes.push(f);
    const client = createCheckstackClient({ baseUrl: f.url, apiKey: FAKE_ADMIN_KEY, logger: pino({ level: 'silent' }) });
    const releases = {
      ui: f.hold('/'),
      delivery: f.hold('/api/integration/getDeliveryLogs'),
      ready: f.hold('/.checkstack/ready'),
      healthchecks: f.hold('/api/catalog/getSystems'),
      about: f.hold('/api/about'),
    };
    const seen: CheckName[] = [];
    const clock = () => READY_AT;

    const running = runPostflightChecks({
      client,
      targetVersion: TARGET,
      pluginsBefore: [],
      readyAt: READY_AT,
      now: clock,
      sleep: async () => {},
      healthcheckMaxWaitMs: 60_000,
      onResult: (result) => void seen.push(result.name),
    });
    for (const [step, release] of Object.entries(releases)) {
      await vi.waitFor(() => expect(f.requests.length).toBeGreaterThanOrEqual(5));
      release();
      const expected = step === 'about' ? 6 : seen.length + 1;
      await vi.waitFor(() => expect(seen).toHaveLength(expected));
    }
    const report = await running;

    expect(seen).toEqual(['ui', 'delivery', 'ready', 'healthchecks', 'version', 'plugins']);
    expect(report.results.map((r) => r.name)).toEqual(['ready', 'version', 'ui', 'plugins', 'healthchecks', 'delivery']);
  });

  it('keeps going when reporting one result fails', async () => {
    const { report, lines } = await run({
      options: {
        onResult: (result) => (result.name === 'ui' ? Promise.reject(new Error('slack down')) : undefined),
      },
    });

    expect(report.results).toHaveLength(6);
    expect(lines.join('')).toContain('post-flight result report failed');
  });
});
