// The doctor's pure evaluation: which facts are problems, which are warnings, and that each names its fix.
import { describe, expect, it } from 'vitest';
import { evaluateDoctor, type DoctorFacts, type Finding } from '../../src/domain/doctor.js';

function healthy(): DoctorFacts {
  return {
    slack: {
      auth: { team: 'acme', botUserId: 'U0BOT' },
      grantedScopes: ['chat:write', 'commands'],
      neededScopes: new Map([['chat:write', ['chat.postMessage']], ['commands', ['the /checkstack slash command']]]),
      channels: [{ id: 'C0A', answer: { name: 'announce', isPrivate: false, isMember: true } }],
    },
    github: { apiUrl: 'https://api.github.com', tokenSet: true, rateLimit: { limit: 5000, remaining: 4990, resetAt: '2026-12-04T20:00:00.000Z' }, pinRepos: [{ target: 'prod', repo: 'acme/infra', answer: { push: true } }] },
    docker: [{ target: 'prod', host: 'tcp://docker-proxy:2375', probes: [{ endpoint: 'GET /events', writes: false, status: 200, message: '' }, { endpoint: 'POST /containers/{id}/stop', writes: true, status: 404, message: 'No such container' }] }],
    kubernetes: [{ target: 'k8s', namespace: 'checkstack', probes: [{ permission: 'list pods', allowed: true, reason: 'RBAC: allowed' }] }],
    checkstack: [{ target: 'prod', baseUrl: 'http://checkstack:3000', reachable: true, era: 'platform', version: '0.140.0', apiKey: 'ok' }],
    postgres: { reachable: true, serverVersion: '16.6' },
    redis: { reachable: true, maxmemoryPolicy: 'noeviction', appendonly: 'yes', save: '' },
  };
}

const flagged = (facts: DoctorFacts): Pick<Finding, 'area' | 'check' | 'status'>[] =>
  evaluateDoctor(facts).findings.filter((f) => f.status !== 'ok').map(({ area, check, status }) => ({ area, check, status }));

describe('evaluateDoctor', () => {
  it('finds nothing wrong in a healthy setup', () => {
    const report = evaluateDoctor(healthy());
    expect(report).toMatchObject({ problems: 0, warnings: 0, healthy: true });
    expect(report.findings.every((f) => f.fix === undefined)).toBe(true);
  });

  it.each<[string, (f: DoctorFacts) => void, Pick<Finding, 'area' | 'check' | 'status'>[]]>([
    ['a scope not granted', (f) => void (f.slack.grantedScopes = ['commands']), [{ area: 'slack', check: 'scope chat:write', status: 'problem' }]],
    ['no x-oauth-scopes header', (f) => void (f.slack.grantedScopes = null), [{ area: 'slack', check: 'scopes', status: 'warning' }]],
    ['the bot outside a channel', (f) => void (f.slack.channels[0]!.answer = { name: 'announce', isPrivate: false, isMember: false }), [{ area: 'slack', check: 'channel C0A', status: 'problem' }]],
    ['a token that cannot push', (f) => void (f.github.pinRepos[0]!.answer = { push: false }), [{ area: 'github', check: 'prod: pin repository acme/infra', status: 'problem' }]],
    ['a pin repository without a token', (f) => void (f.github.tokenSet = false), [{ area: 'github', check: 'prod: pin repository acme/infra', status: 'problem' }]],
    ['a proxy refusing a method (405)', (f) => void (f.docker[0]!.probes![1]!.status = 405), [{ area: 'docker', check: 'prod: POST /containers/{id}/stop', status: 'problem' }]],
    ['a write probe that the engine did something unexpected with', (f) => void (f.docker[0]!.probes![1]!.status = 500), [{ area: 'docker', check: 'prod: POST /containers/{id}/stop', status: 'warning' }]],
    ['a Docker host that does not answer', (f) => void (f.docker[0] = { target: 'prod', host: 'tcp://docker-proxy:2375', probes: null, error: 'ECONNREFUSED' }), [{ area: 'docker', check: 'prod: Docker at tcp://docker-proxy:2375', status: 'problem' }]],
    ['an access review that failed', (f) => void (f.kubernetes[0]!.probes[0] = { permission: 'list pods', allowed: null, reason: 'HTTP 401' }), [{ area: 'kubernetes', check: 'k8s: list pods', status: 'problem' }]],
    ['a key that is rejected', (f) => void (f.checkstack[0]!.apiKey = 'rejected'), [{ area: 'checkstack', check: 'prod: API key', status: 'problem' }]],
    ['no key at all', (f) => void (f.checkstack[0]!.apiKey = 'none_configured'), [{ area: 'checkstack', check: 'prod: API key', status: 'warning' }]],
    ['Redis refusing CONFIG GET', (f) => void (f.redis = { reachable: true, maxmemoryPolicy: null, appendonly: null, save: null, configError: 'unknown command' }), [{ area: 'redis', check: 'maxmemory-policy', status: 'warning' }, { area: 'redis', check: 'persistence', status: 'warning' }]],
    ['Redis without any persistence', (f) => void (f.redis = { reachable: true, maxmemoryPolicy: 'noeviction', appendonly: 'no', save: '' }), [{ area: 'redis', check: 'persistence', status: 'problem' }]],
    ['Redis with RDB snapshots only', (f) => void (f.redis = { reachable: true, maxmemoryPolicy: 'noeviction', appendonly: 'no', save: '3600 1' }), [{ area: 'redis', check: 'persistence', status: 'warning' }]],
    ['Postgres down', (f) => void (f.postgres = { reachable: false, error: 'ECONNREFUSED' }), [{ area: 'postgres', check: 'reachable', status: 'problem' }]],
  ])('flags %s, and only that, with a fix', (_name, breakIt, expected) => {
    const facts = healthy();
    breakIt(facts);
    expect(flagged(facts)).toEqual(expected);
    const report = evaluateDoctor(facts);
    for (const finding of report.findings.filter((f) => f.status !== 'ok')) expect(finding.fix).toBeTruthy();
    expect(report.healthy).toBe(!expected.some((e) => e.status === 'problem'));
  });
});
