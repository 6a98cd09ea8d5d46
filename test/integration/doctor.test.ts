// `checkstack-chatops doctor` against the fakes, a real Postgres, Redis servers of its own and (with DOCKER_HOST) the
// real engine behind an allowlisting proxy: all green first, then each single fault, named exactly.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { pino } from 'pino';
import { createCheckstackClient } from '../../src/checkstack/client.js';
import { runCli } from '../../src/cli.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { DoctorReport, Finding } from '../../src/domain/doctor.js';
import { probeCheckstack } from '../../src/doctor/checkstack-probe.js';
import { createDoctorDeps } from '../../src/doctor/doctor-deps.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { DOCKER_ENDPOINTS } from '../../src/targets/docker-endpoints.js';
import { FAKE_ADMIN_KEY, FAKE_READONLY_KEY, startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { FakeKubernetes, type RbacRule } from '../fakes/fake-kubernetes.js';
import { DEFAULT_BOT_SCOPES, startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startDockerAllowlistProxy, type DockerAllowlistProxy } from '../support/docker-allowlist-proxy.js';
import { startOwnRedis, type OwnRedis } from '../support/redis-server.js';
import { REPO_ROOT } from '../support/repo-root.js';

const BOT_TOKEN = 'xoxb-doctor-test-token';
const ANNOUNCE = 'C0ANNOUNCE';
const PRIVATE = 'G0PRIVATE';
const PIN_REPO = 'acme/infra';
const HAS_DOCKER = Boolean(process.env.DOCKER_HOST);

/** The rules of deploy/kubernetes/role.yaml: the fake enforces exactly what operators apply. */
function roleRules(): RbacRule[] {
  const [doc] = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy/kubernetes/role.yaml'), 'utf8'));
  return (doc!.toJS() as { rules: RbacRule[] }).rules;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('checkstack-chatops doctor', () => {
  let slack: FakeSlack;
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let kubernetes: FakeKubernetes;
  let database: TestDatabase;
  let redis: OwnRedis;
  let dockerProxy: DockerAllowlistProxy | null = null;
  let dir: string;

  beforeAll(async () => {
    slack = await startFakeSlack({ botToken: BOT_TOKEN, strict: true, channels: { [ANNOUNCE]: { name: 'announce' }, [PRIVATE]: { name: 'ops-private', is_private: true } } });
    github = await startFakeGithub({ repo: PIN_REPO });
    checkstack = await startFakeCheckstack();
    kubernetes = await FakeKubernetes.start({ image: 'ghcr.io/enyineer/checkstack:0.140.0', role: roleRules(), secrets: { 'checkstack-secrets': { 'encryption-master-key': 'a'.repeat(64) } } });
    database = await createTestDatabase();
    redis = await startOwnRedis({ maxmemoryPolicy: 'noeviction', appendonly: true });
    if (HAS_DOCKER) dockerProxy = await startDockerAllowlistProxy();
    dir = mkdtempSync(join(tmpdir(), 'ck-doctor-'));
    writeFileSync(join(dir, 'kubeconfig'), kubernetes.kubeconfigYaml());
  }, 60_000);

  afterAll(async () => {
    await Promise.all([slack?.close(), github?.close(), checkstack?.close(), kubernetes?.close(), redis?.close(), dockerProxy?.close()]);
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function sources(overrides: { env?: Record<string, string>; dockerHost?: string } = {}) {
    const dockerTarget = HAS_DOCKER
      ? `
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    apiKeyEnv: CHECKSTACK_PROD_API_KEY
    docker: { host: "${overrides.dockerHost ?? dockerProxy!.host}", container: checkstack }
    pin: { github: { repo: ${PIN_REPO}, path: deploy/docker-compose.yml, branch: main, mode: commit } }`
      : '';
    const yaml = `announce:
  channels: [${ANNOUNCE}, ${PRIVATE}]
targets:${dockerTarget}
  - name: cluster
    baseUrl: ${checkstack.url}
    apiKeyEnv: CHECKSTACK_PROD_API_KEY
    kubernetes: { namespace: checkstack, deployment: checkstack, container: checkstack, encryptionKeySecret: checkstack-secrets }
    pin: { github: { repo: ${PIN_REPO}, path: deploy/cluster.yml, branch: main, mode: pull-request } }
`;
    return {
      env: {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: 'doctor-signing-secret',
        SLACK_API_URL: slack.apiUrl,
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        GITHUB_API_URL: github.url,
        GITHUB_TOKEN: 'ghp_doctor_test_token',
        KUBECONFIG: join(dir, 'kubeconfig'),
        CHECKSTACK_PROD_API_KEY: FAKE_ADMIN_KEY,
        ...overrides.env,
      },
      readFile: () => yaml,
    };
  }

  async function doctor(overrides: Parameters<typeof sources>[0] = {}): Promise<DoctorReport> {
    const config: Config = loadConfig(sources(overrides));
    const deps = createDoctorDeps(config, new Capture());
    try {
      return await runDoctor(deps);
    } finally {
      await deps.close();
    }
  }

  const problems = (report: DoctorReport): Finding[] => report.findings.filter((f) => f.status === 'problem');

  it('is all green against a correct setup, and exits 0 with the findings as JSON', async () => {
    const out = new Capture();
    const err = new Capture();
    const code = await runCli(['doctor', '--json'], { out, err }, sources());
    const report = JSON.parse(out.text) as DoctorReport;
    expect(problems(report)).toEqual([]);
    for (const secret of [BOT_TOKEN, 'ghp_doctor_test_token', FAKE_ADMIN_KEY]) expect(out.text + err.text).not.toContain(secret);
    expect(code).toBe(0);
    expect(report.healthy).toBe(true);
    const checks = report.findings.map((f) => `${f.area} ${f.check}`);
    expect(checks).toEqual(expect.arrayContaining([
      'slack token (auth.test)',
      'slack scope chat:write',
      `slack channel ${ANNOUNCE}`,
      `slack channel ${PRIVATE}`,
      'github rate limit',
      `github cluster: pin repository ${PIN_REPO}`,
      'kubernetes cluster: patch deployments.apps "checkstack"',
      'kubernetes cluster: get pods/log',
      'checkstack cluster: reachable',
      'checkstack cluster: API key',
      'postgres reachable',
      'redis maxmemory-policy',
      'redis persistence',
    ]));
    if (HAS_DOCKER) {
      for (const endpoint of DOCKER_ENDPOINTS) expect(checks).toContain(`docker prod: ${endpoint.method} ${endpoint.path}`);
      // The probes went through the allowlist and changed nothing it would refuse.
      expect(dockerProxy!.takeRefused()).toEqual([]);
    }
    // Reads only: nothing was posted, committed or patched.
    expect(slack.messages()).toEqual([]);
    expect(github.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(kubernetes.requests.filter((r) => r.verb === 'patch')).toEqual([]);
  }, 60_000);

  it('names a missing Slack scope, and exits 1', async () => {
    slack.setGrantedScopes(DEFAULT_BOT_SCOPES.filter((s) => s !== 'usergroups:read'));
    try {
      const out = new Capture();
      const code = await runCli(['doctor'], { out, err: new Capture() }, sources());
      expect(code).toBe(1);
      expect(out.text).toMatch(/FAIL {2}scope usergroups:read: The token lacks `usergroups:read`/);
      expect(out.text).toMatch(/fix: Add `usergroups:read`/);
      expect(out.text).toMatch(/1 problem\(s\)/);
    } finally {
      slack.setGrantedScopes([...DEFAULT_BOT_SCOPES]);
    }
  }, 60_000);

  it('names an announce channel the bot is not in', async () => {
    slack.setBotMembership(ANNOUNCE, false);
    try {
      const report = await doctor();
      expect(problems(report).map((f) => f.check)).toEqual([`channel ${ANNOUNCE}`]);
      expect(problems(report)[0]!.fix).toMatch(/\/invite @checkstack/);
    } finally {
      slack.setBotMembership(ANNOUNCE, true);
    }
  }, 60_000);

  it.skipIf(!HAS_DOCKER)('names a Docker endpoint the socket proxy refuses (403), and only that one', async () => {
    const narrow = await startDockerAllowlistProxy({ endpoints: DOCKER_ENDPOINTS.filter((e) => e.path !== '/containers/{id}/rename') });
    try {
      const report = await doctor({ dockerHost: narrow.host });
      expect(problems(report).map((f) => f.check)).toEqual(['prod: POST /containers/{id}/rename']);
      expect(problems(report)[0]!.detail).toMatch(/Refused with 403/);
      expect(narrow.refused().map((c) => `${c.method} ${c.path.replace(/checkstack-chatops-doctor-[0-9a-f]+/, '{id}')}`)).toEqual(['POST /containers/{id}/rename']);
    } finally {
      await narrow.close();
    }
  }, 60_000);

  it('names a Kubernetes Role verb that is missing', async () => {
    const rules = roleRules().map((rule) => (rule.resources.includes('deployments') ? { ...rule, verbs: rule.verbs.filter((v) => v !== 'patch') } : rule));
    const narrow = await FakeKubernetes.start({ image: 'ghcr.io/enyineer/checkstack:0.140.0', role: rules });
    const kubeconfig = join(dir, 'kubeconfig-narrow');
    writeFileSync(kubeconfig, narrow.kubeconfigYaml());
    try {
      const report = await doctor({ env: { KUBECONFIG: kubeconfig } });
      expect(problems(report).map((f) => f.check)).toEqual(['cluster: patch deployments.apps "checkstack"']);
      expect(problems(report)[0]!.fix).toMatch(/role\.yaml/);
    } finally {
      await narrow.close();
    }
  }, 60_000);

  it('names a Redis that evicts keys (allkeys-lru)', async () => {
    const evicting = await startOwnRedis({ maxmemoryPolicy: 'allkeys-lru', appendonly: true });
    try {
      const report = await doctor({ env: { REDIS_URL: evicting.url } });
      expect(problems(report).map((f) => f.check)).toEqual(['maxmemory-policy']);
      expect(problems(report)[0]!.detail).toMatch(/`allkeys-lru`/);
    } finally {
      await evicting.close();
    }
  }, 60_000);

  it('names an API key without the rights the post-flight checks use', async () => {
    const report = await doctor({ env: { CHECKSTACK_PROD_API_KEY: FAKE_READONLY_KEY } });
    const found = problems(report);
    expect(found.map((f) => f.check)).toEqual(HAS_DOCKER ? ['prod: API key', 'cluster: API key'] : ['cluster: API key']);
    expect(found[0]!.detail).toMatch(/lacks permissions: .*Missing access: integration\.integration\.manage/);
  }, 60_000);

  it('tells a release before the platform endpoints apart, and names a key that gets none of its role\'s rules there', async () => {
    const old = await startFakeCheckstack({ state: { era: '0.31' } });
    try {
      const client = createCheckstackClient({ baseUrl: old.url, apiKey: FAKE_ADMIN_KEY, fetch: globalThis.fetch, logger: pino({ level: 'silent' }), name: 'old' });
      const facts = await probeCheckstack('old', old.url, client);
      expect(facts).toMatchObject({ reachable: true, era: 'pre-platform', version: null, apiKey: 'lacks_permissions' });
      expect(facts.apiKeyDetail).toMatch(/sees no systems where an anonymous caller sees \d+|Missing access|Access denied/);
      // The doctor asks an instance that runs, and only after its init: the old release is still alive.
      expect(old.died).toBeNull();
    } finally {
      await old.close();
    }
  }, 60_000);

  it('names a token that cannot push to the pin repository', async () => {
    github.setPermissions({ admin: false, maintain: false, push: false, triage: false, pull: true });
    try {
      const report = await doctor();
      expect(problems(report).map((f) => f.check)).toEqual(HAS_DOCKER ? [`prod: pin repository ${PIN_REPO}`, `cluster: pin repository ${PIN_REPO}`] : [`cluster: pin repository ${PIN_REPO}`]);
    } finally {
      github.setPermissions({ admin: false, maintain: false, push: true, triage: true, pull: true });
    }
  }, 60_000);
});
