// `checkstack-chatops postflight` against the fake Checkstack, with a deployer double that only describes the instance.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { runPostflightCommand, type PostflightCommandOutput } from '../../src/postflight-command.js';
import type { DeployedInstance } from '../../src/targets/deployer.js';
import { createTargetRegistry } from '../../src/targets/registry.js';
import { FAKE_ADMIN_KEY, startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { staticDeployer } from '../support/static-deployer.js';

const STARTED_AT = new Date(Date.now() - 10 * 60_000);

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

function configFor(prodUrl: string, stagingUrl: string): Config {
  const yaml = `targets:
  - name: prod
    default: true
    baseUrl: ${prodUrl}
    apiKeyEnv: CHECKSTACK_PROD_API_KEY
    docker: { container: checkstack }
  - name: staging
    baseUrl: ${stagingUrl}
    docker: { container: checkstack-staging }
`;
  return loadConfig({
    env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'test-secret', CHECKSTACK_PROD_API_KEY: FAKE_ADMIN_KEY },
    readFile: () => yaml,
  });
}

describe('postflight command', () => {
  let prod: FakeCheckstack;
  let staging: FakeCheckstack;
  let instances: Record<string, Partial<DeployedInstance> & { tag: string }>;
  let describeCalls: string[];

  beforeEach(async () => {
    prod = await startFakeCheckstack();
    staging = await startFakeCheckstack({ state: { releaseVersion: '0.139.0' } });
    instances = {
      checkstack: { tag: '0.140.0', startedAt: STARTED_AT.toISOString() },
      'checkstack-staging': { tag: '0.139.0', startedAt: STARTED_AT.toISOString() },
    };
    describeCalls = [];
  });

  afterEach(async () => {
    await Promise.all([prod.close(), staging.close()]);
  });

  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const config = configFor(prod.url, staging.url);
    const logger = pino({ level: 'silent' });
    const targets = createTargetRegistry(
      config.targets,
      {
        docker: (target) => {
          const container = target.docker!.container!;
          const deployer = staticDeployer(instances[container]!);
          return { ...deployer, describe: async () => (describeCalls.push(container), deployer.describe()) };
        },
      },
      logger,
    );
    const out = new Capture();
    const err = new Capture();
    const code = await runPostflightCommand(args, { out, err }, { config, targets, logger, now: () => new Date(), sleep: async () => undefined });
    return { code, out: out.text, err: err.text };
  }

  it('prints the results as JSON and exits 0 when no check fails', async () => {
    const { code, out } = await run(['--target', 'prod', '--json']);

    const output = JSON.parse(out) as PostflightCommandOutput;
    expect(code).toBe(0);
    expect(output).toEqual({
      target: 'prod',
      version: '0.140.0',
      verdict: expect.stringMatching(/^succeeded/),
      results: expect.any(Array),
    });
    expect(output.results.map((r) => r.name)).toEqual(['ready', 'version', 'ui', 'plugins', 'healthchecks', 'delivery']);
    for (const result of output.results) {
      expect(result).toEqual({ name: result.name, outcome: expect.any(String), detail: expect.any(String), durationMs: expect.any(Number) });
    }
    expect(output.results.find((r) => r.name === 'version')).toMatchObject({ outcome: 'pass', detail: expect.stringContaining('0.140.0') });
    expect(output.results.find((r) => r.name === 'plugins')?.outcome).toBe('nothing_to_verify');
  });

  it('uses the default target when none is named, and prints a table', async () => {
    const { code, out } = await run([]);

    expect(code).toBe(0);
    expect(describeCalls).toEqual(['checkstack']);
    expect(out.split('\n')[0]).toMatch(/^Post-flight checks for prod \(0\.140\.0\): succeeded/);
    expect(out).toMatch(/^CHECK\s+OUTCOME\s+TIME\s+DETAIL$/m);
    expect(out).toMatch(/^ready\s+pass\s+\d+ ms\s+200 ready/m);
  });

  it('exits 1 when a check fails', async () => {
    prod.state.ready = { kind: 'not_ready', checks: [{ name: 'database', critical: true, ok: false, message: 'connection refused' }] };

    const { code, out } = await run(['--target=prod']);

    expect(code).toBe(1);
    expect(out).toMatch(/^ready\s+FAIL\s+.*database: connection refused/m);
  });

  it('fails the version check when Checkstack reports another version than the image tag', async () => {
    instances['checkstack-staging'] = { tag: '0.141.0', startedAt: STARTED_AT.toISOString() };

    const { code, out } = await run(['--target', 'staging', '--json']);

    const output = JSON.parse(out) as PostflightCommandOutput;
    expect(code).toBe(1);
    expect(output.results.find((r) => r.name === 'version')).toMatchObject({ outcome: 'fail', detail: expect.stringContaining('expected 0.141.0') });
  });

  it('refuses an unknown target with exit 2, naming the valid ones', async () => {
    const { code, out, err } = await run(['--target', 'nope']);

    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('There is no target named nope. Valid targets: prod, staging.');
    expect(prod.requests).toHaveLength(0);
  });

  it('refuses unknown arguments with exit 2 and the usage', async () => {
    for (const args of [['--verbose'], ['--target']]) {
      const { code, err } = await run(args);
      expect(code).toBe(2);
      expect(err).toContain('Usage: checkstack-chatops postflight [--target NAME] [--json]');
    }
  });
});
