import { describe, expect, it } from 'vitest';
import {
  evaluateAccessProblem,
  evaluateDelivery,
  evaluateHealthchecks,
  evaluatePlugins,
  evaluateReady,
  evaluateUi,
  evaluateVersion,
  healthcheckDeadline,
  postflightVerdict,
  type CheckResult,
  type HealthcheckObservation,
} from '../../src/domain/postflight.js';

const READY_AT = new Date('2025-06-01T12:00:00.000Z');
const at = (seconds: number) => new Date(READY_AT.getTime() + seconds * 1000);

describe('evaluateReady', () => {
  it.each([
    {
      name: 'passes on 200 and lists the named checks',
      answer: { status: 200, ready: true, checks: [{ name: 'database', critical: true, ok: true }, { name: 'queue', critical: true, ok: true }] },
      outcome: 'pass',
      detail: /database, queue/,
    },
    {
      name: 'fails while booting',
      answer: { status: 503, ready: false, reason: 'initializing', checks: [] },
      outcome: 'fail',
      detail: /initializing/,
    },
    {
      name: 'fails after a failed init, with its error',
      answer: { status: 503, ready: false, error: 'migration 0042 failed', checks: [] },
      outcome: 'fail',
      detail: /initialisation failed: migration 0042 failed/,
    },
    {
      name: 'fails naming the failing checks',
      answer: {
        status: 503,
        ready: false,
        checks: [
          { name: 'database', critical: true, ok: false, message: 'connection refused' },
          { name: 'queue', critical: true, ok: true },
          { name: 'mail', critical: false, ok: false },
        ],
      },
      outcome: 'fail',
      detail: /failing: database: connection refused, mail \(non-critical\)$/,
    },
  ])('$name', ({ answer, outcome, detail }) => {
    const result = evaluateReady(answer);
    expect(result).toMatchObject({ name: 'ready', outcome });
    expect(result.detail).toMatch(detail);
  });

  it('says readiness is unknown for a release without the endpoint, and never passes or fails', () => {
    expect(evaluateReady({ unknown: true, answeredWith: 'html' })).toEqual({
      name: 'ready',
      outcome: 'nothing_to_verify',
      detail: 'readiness unknown: this release has no `/.checkstack/ready` (the UI answers for it)',
    });
    expect(evaluateReady({ unknown: true, answeredWith: 'not_found' })).toMatchObject({
      outcome: 'nothing_to_verify',
      detail: 'readiness unknown: this release has no `/.checkstack/ready` (it answers 404)',
    });
  });
});

describe('evaluateVersion', () => {
  it.each([
    { about: { releaseVersion: '0.141.0', coreVersion: '0.28.0' }, target: '0.141.0', outcome: 'pass' },
    { about: { releaseVersion: '0.141.0', coreVersion: '0.28.0' }, target: 'v0.141.0', outcome: 'pass' },
    { about: { releaseVersion: '0.140.0', coreVersion: '0.27.0' }, target: '0.141.0', outcome: 'fail' },
  ])('$about.releaseVersion against $target → $outcome', ({ about, target, outcome }) => {
    expect(evaluateVersion({ targetVersion: target, about })).toMatchObject({ name: 'version', outcome });
  });

  it('names both versions on a mismatch', () => {
    expect(evaluateVersion({ targetVersion: '0.141.0', about: { releaseVersion: '0.140.0' } }).detail).toMatch(/0\.140\.0.*expected 0\.141\.0/);
  });

  it('falls back to the image tag when the release has no /api/about', () => {
    expect(evaluateVersion({ targetVersion: '0.30.0', about: null, runningImageTag: '0.30.0' })).toMatchObject({ outcome: 'pass' });
    expect(evaluateVersion({ targetVersion: '0.30.0', about: null, runningImageTag: '0.29.0' })).toMatchObject({ outcome: 'fail' });
    expect(evaluateVersion({ targetVersion: '0.30.0', about: null })).toMatchObject({ outcome: 'nothing_to_verify' });
  });
});

describe('evaluateUi', () => {
  it.each([
    { answer: { status: 200, isHtml: true, isCheckstack: true }, outcome: 'pass' },
    { answer: { status: 200, isHtml: true, isCheckstack: false }, outcome: 'fail' },
    { answer: { status: 200, isHtml: false, isCheckstack: false }, outcome: 'fail' },
    { answer: { status: 502, isHtml: true, isCheckstack: false }, outcome: 'fail' },
  ])('$answer.status html=$answer.isHtml checkstack=$answer.isCheckstack → $outcome', ({ answer, outcome }) => {
    expect(evaluateUi(answer)).toMatchObject({ name: 'ui', outcome });
  });

  it("says when the page is HTML but not Checkstack's", () => {
    expect(evaluateUi({ status: 200, isHtml: true, isCheckstack: false }).detail).toBe("`GET /` answers 200 with an HTML page that is not Checkstack's");
  });
});

describe('evaluatePlugins', () => {
  const before = [{ name: '@checkstack/catalog-backend' }, { name: 'acme-ldap-sync' }];

  it('passes when every plugin from before is loaded again, noting new ones', () => {
    const result = evaluatePlugins({ before, after: [...before, { name: '@checkstack/maintenance-backend' }] });
    expect(result).toMatchObject({ outcome: 'pass', detail: expect.stringMatching(/all 2 plugins.*new: @checkstack\/maintenance-backend/) });
  });

  it('warns naming a plugin that is missing after the upgrade', () => {
    const result = evaluatePlugins({ before, after: [{ name: '@checkstack/catalog-backend' }] });
    expect(result).toMatchObject({ outcome: 'warn', detail: expect.stringContaining('acme-ldap-sync') });
  });

  it('says the comparison is not available when either list is unknown', () => {
    expect(evaluatePlugins({ before: null, after: before })).toMatchObject({ outcome: 'nothing_to_verify', detail: expect.stringMatching(/^plugin comparison not available: /) });
    expect(evaluatePlugins({ before, after: null })).toMatchObject({
      outcome: 'nothing_to_verify',
      detail: 'plugin comparison not available: this release has no `/api/about`',
    });
  });
});

describe('evaluateHealthchecks', () => {
  const check = (over: Partial<HealthcheckObservation>): HealthcheckObservation => ({
    systemId: 'sys-api',
    systemName: 'API',
    configurationId: 'cfg-http',
    configurationName: 'HTTP probe',
    intervalSeconds: 60,
    enabled: true,
    // A current release says whether a check is paused; 0.31 leaves the field out.
    paused: false,
    newestRunAt: null,
    ...over,
  });
  const MAX = 10 * 60_000;

  it('passes when every enabled check ran after readyAt', () => {
    const evaluation = evaluateHealthchecks({
      checks: [check({ newestRunAt: at(5) }), check({ systemId: 'sys-db', systemName: 'DB', configurationId: 'cfg-pg', newestRunAt: at(30) })],
      readyAt: READY_AT,
      now: at(31),
      maxWaitMs: MAX,
    });
    expect(evaluation).toEqual({
      state: 'done',
      result: { name: 'healthchecks', outcome: 'pass', detail: 'all 2 enabled checks on 2 systems ran since ready' },
    });
  });

  it('keeps waiting for a check within twice its interval', () => {
    const evaluation = evaluateHealthchecks({ checks: [check({ newestRunAt: at(-50) })], readyAt: READY_AT, now: at(119), maxWaitMs: MAX });
    expect(evaluation).toMatchObject({ state: 'waiting', nextDeadline: at(120), detail: expect.stringContaining('API: HTTP probe') });
  });

  it('fails naming the systems and checks that did not run by their deadline', () => {
    const evaluation = evaluateHealthchecks({
      checks: [
        check({ newestRunAt: at(-50) }),
        check({ systemId: 'sys-db', systemName: 'DB', configurationId: 'cfg-pg', configurationName: 'Postgres', newestRunAt: at(10) }),
      ],
      readyAt: READY_AT,
      now: at(120),
      maxWaitMs: MAX,
    });
    expect(evaluation).toMatchObject({ state: 'done', result: { outcome: 'fail', detail: '1 check on 1 system did not run since ready: API: HTTP probe' } });
  });

  it('warns, not fails, that a check which did not run may be paused when the release does not say (0.31)', () => {
    const evaluation = evaluateHealthchecks({
      checks: [check({ paused: undefined, newestRunAt: at(-50) }), check({ configurationId: 'cfg-ok', paused: undefined, newestRunAt: at(30) })],
      readyAt: READY_AT,
      now: at(120),
      maxWaitMs: MAX,
    });
    expect(evaluation).toEqual({
      state: 'done',
      result: {
        name: 'healthchecks',
        outcome: 'warn',
        detail: '1 check on 1 system did not run since ready; it may be paused (this release does not say): API: HTTP probe',
      },
    });
  });

  it('fails a check the release vouches is not paused, and still mentions those that may be', () => {
    const evaluation = evaluateHealthchecks({
      checks: [check({ newestRunAt: at(-50) }), check({ configurationId: 'cfg-tls', configurationName: 'TLS', paused: null })],
      readyAt: READY_AT,
      now: at(120),
      maxWaitMs: MAX,
    });
    expect(evaluation).toMatchObject({
      state: 'done',
      result: { outcome: 'fail', detail: '1 check on 1 system did not run since ready: API: HTTP probe; 1 more check did not run and may be paused' },
    });
  });

  it('does not count a run exactly at readyAt as a run after it', () => {
    const evaluation = evaluateHealthchecks({ checks: [check({ newestRunAt: READY_AT })], readyAt: READY_AT, now: at(200), maxWaitMs: MAX });
    expect(evaluation).toMatchObject({ state: 'done', result: { outcome: 'fail' } });
  });

  it('bounds the wait for a long interval by the configured maximum', () => {
    const daily = check({ intervalSeconds: 86_400 });
    expect(healthcheckDeadline(daily, READY_AT, MAX)).toEqual(at(600));
    expect(evaluateHealthchecks({ checks: [daily], readyAt: READY_AT, now: at(600), maxWaitMs: MAX })).toMatchObject({
      state: 'done',
      result: { outcome: 'fail' },
    });
  });

  it('ignores disabled and paused checks', () => {
    const evaluation = evaluateHealthchecks({
      checks: [check({ enabled: false }), check({ configurationId: 'cfg-paused', paused: true }), check({ configurationId: 'cfg-ok', newestRunAt: at(1) })],
      readyAt: READY_AT,
      now: at(500),
      maxWaitMs: MAX,
    });
    expect(evaluation).toMatchObject({ state: 'done', result: { outcome: 'pass' } });
  });

  it('has nothing to verify without enabled checks', () => {
    expect(evaluateHealthchecks({ checks: [], readyAt: READY_AT, now: READY_AT, maxWaitMs: MAX })).toMatchObject({
      state: 'done',
      result: { outcome: 'nothing_to_verify' },
    });
  });
});

describe('evaluateDelivery', () => {
  const log = (status: string, seconds: number, errorMessage?: string) => ({
    status,
    createdAt: at(seconds),
    lastAttemptAt: at(seconds),
    ...(errorMessage ? { errorMessage } : {}),
    subscriptionName: 'ops-webhook',
  });

  it('passes when every delivery since the upgrade succeeded', () => {
    expect(evaluateDelivery({ logs: [log('success', 20), log('success', 10), log('failed', -100, 'old')], since: READY_AT })).toMatchObject({
      outcome: 'pass',
      detail: '2 deliveries since the upgrade, none failed',
    });
  });

  it('warns with the count and the first error message after the upgrade', () => {
    const result = evaluateDelivery({
      logs: [log('failed', 30, 'HTTP 500 from hooks.example'), log('retrying', 20, 'ECONNREFUSED\nat socket'), log('success', 10)],
      since: READY_AT,
    });
    expect(result).toEqual({
      name: 'delivery',
      outcome: 'warn',
      detail: '1 failed, 1 retrying of 3 deliveries since the upgrade; first error (ops-webhook): ECONNREFUSED at socket',
    });
  });

  it('never passes on an empty window', () => {
    expect(evaluateDelivery({ logs: [log('success', -5)], since: READY_AT })).toMatchObject({
      outcome: 'nothing_to_verify',
      detail: 'no deliveries since the upgrade',
    });
    expect(evaluateDelivery({ logs: [log('pending', 5)], since: READY_AT }).outcome).toBe('nothing_to_verify');
  });

  it('counts an older delivery retried after the upgrade', () => {
    const retried = { status: 'failed', createdAt: at(-600), lastAttemptAt: at(15), errorMessage: 'timeout' };
    expect(evaluateDelivery({ logs: [retried], since: READY_AT })).toMatchObject({ outcome: 'warn' });
  });
});

describe('evaluateAccessProblem', () => {
  it('skips a check without an API key and says what to configure', () => {
    expect(evaluateAccessProblem('delivery', { kind: 'missing_key' }, { accessRule: 'integration.integration.manage' })).toEqual({
      name: 'delivery',
      outcome: 'skipped',
      detail: 'needs an API key: set `apiKeyEnv` on the target to a variable holding an application API key with access `integration.integration.manage`',
    });
    expect(evaluateAccessProblem('delivery', { kind: 'missing_key' }, { apiKeyEnv: 'CHECKSTACK_PROD_API_KEY' }).detail).toContain(
      '`CHECKSTACK_PROD_API_KEY`',
    );
  });

  it('fails on a rejected key and warns on a key lacking permissions', () => {
    expect(evaluateAccessProblem('healthchecks', { kind: 'rejected' })).toMatchObject({ outcome: 'fail', detail: expect.stringMatching(/^API key rejected/) });
    expect(
      evaluateAccessProblem('delivery', { kind: 'missing_permissions', message: 'Missing access: integration.integration.manage' }),
    ).toEqual({ name: 'delivery', outcome: 'warn', detail: 'API key lacks permissions: Missing access: integration.integration.manage' });
  });
});

describe('postflightVerdict', () => {
  const r = (outcome: CheckResult['outcome']): CheckResult => ({ name: 'ui', outcome, detail: '' });
  it.each([
    { outcomes: ['pass', 'pass'], verdict: 'succeeded' },
    { outcomes: ['pass', 'skipped', 'nothing_to_verify'], verdict: 'succeeded' },
    { outcomes: ['pass', 'warn'], verdict: 'succeeded_with_warnings' },
    { outcomes: ['warn', 'fail'], verdict: 'failed' },
  ] as const)('$outcomes → $verdict', ({ outcomes, verdict }) => {
    expect(postflightVerdict(outcomes.map(r))).toBe(verdict);
  });
});

it('keeps every detail on one line', () => {
  const result = evaluateReady({ status: 503, ready: false, error: 'line one\nline two', checks: [] });
  expect(result.detail).not.toMatch(/\n/);
});
