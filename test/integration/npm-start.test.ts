// The compiled bot as operators run it (`npm start` = `node bin/checkstack-chatops.js start`), in plain Node ESM.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_GRAMMAR } from '../../src/domain/command-grammar.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/docker-images.js';
import { createSlackDriver } from '../support/slack-driver.js';
import { FIXTURE_RELEASES_PATH } from '../support/fixtures.js';
import { BOT_TOKEN, deleteQueueKeys, SIGNING_SECRET } from '../support/test-bot.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm start (the compiled bot)', () => {
  let slack: FakeSlack;
  let database: TestDatabase;
  let child: ChildProcess;
  let output = '';
  let port: number;
  const prefix = randomQueuePrefix();

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    port = await freePort();
    child = spawn(process.execPath, ['bin/checkstack-chatops.js', 'start'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        PORT: String(port),
        DATABASE_URL: database.url,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        GITHUB_API_URL: 'http://127.0.0.1:9',
        CONFIG_FILE: '/dev/null',
        LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await slack?.close();
    await database?.drop();
    await deleteQueueKeys(prefix);
  });

  it('answers /healthz and turns ready once Postgres, Redis and its migrations are', async () => {
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status, { timeout: 10_000, interval: 100 })
      .toBe(200);

    const readiness = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await readiness.json()).toEqual({
      ready: true,
      checks: { postgres: { ok: true }, redis: { ok: true }, migrations: { ok: true } },
    });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('answers a signed /checkstack help with the grammar, and refuses an unsigned one', async () => {
    const driver = createSlackDriver({ botUrl: `http://127.0.0.1:${port}`, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    const forger = createSlackDriver({ botUrl: `http://127.0.0.1:${port}`, signingSecret: 'not-the-signing-secret', fakeSlack: slack });

    const forged = await forger.slashCommand('/checkstack', 'help', { user: 'U0MEMBER1', channel: 'C0OPS' });
    const response = await driver.slashCommand('/checkstack', 'help', { user: 'U0MEMBER1', channel: 'C0OPS' });
    const reply = await slack.waitFor(() => slack.responses().find((r) => r.url === response.responseUrl), 3_000);

    expect(forged.status).toBe(401);
    expect(slack.responses().some((r) => r.url === forged.responseUrl)).toBe(false);
    expect(response.status).toBe(200);
    expect(reply.payload.text).toBe(COMMAND_GRAMMAR);
  });

  it('stops cleanly on SIGTERM, and never printed a secret', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');

    expect(await exited).toBe(0);
    expect(output).toMatch(/shut down cleanly/);
    expect(output).not.toContain(BOT_TOKEN);
    expect(output).not.toContain(SIGNING_SECRET);
  });
});

describe('the compiled CLI', () => {
  const run = (args: string[], env: Record<string, string> = {}, input?: string) => {
    try {
      const stdout = execFileSync(process.execPath, ['bin/checkstack-chatops.js', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...env },
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      }).toString();
      return { code: 0, stdout, stderr: '' };
    } catch (err) {
      const e = err as { status: number; stdout: Buffer; stderr: Buffer };
      return { code: e.status, stdout: e.stdout.toString(), stderr: e.stderr.toString() };
    }
  };

  it('summarize --json prints one element per non-draft release, newest first, in the contract shape', () => {
    const { code, stdout } = run(['summarize', FIXTURE_RELEASES_PATH, '--json']);

    expect(code).toBe(0);
    const summaries = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(summaries.map((s) => s.version)).toEqual(['0.30.0', '0.28.0', '0.27.0', '0.25.0', '0.22.0', '0.16.0', '0.10.0', '0.5.0', '0.4.0']);
    expect(summaries[0]).toEqual({
      version: '0.30.0',
      previous: '0.28.0',
      bump: 'minor',
      breaking: [expect.objectContaining({ id: '3dd1914', audience: 'plugin-author', packages: expect.arrayContaining(['@checkstack/backend-api', '@checkstack/healthcheck-backend']) })],
      migrations: false,
      encryption: false,
      destructive: false,
      truncated: false,
      url: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0',
    });
    expect(summaries.at(-1)).toMatchObject({ version: '0.4.0', previous: null, bump: 'first' });
  });

  it('summarize reads stdin with "-" and prints readable text', () => {
    const { code, stdout } = run(['summarize', '-'], {}, readFileSync(FIXTURE_RELEASES_PATH, 'utf8'));

    expect(code).toBe(0);
    expect(stdout).toMatch(/Checkstack 0\.30\.0 \(previous: 0\.28\.0\)/);
    expect(stdout).toMatch(/may contain breaking changes/);
  });

  it('summarize refuses input that is not a release list', () => {
    const { code, stderr } = run(['summarize', '-'], {}, '{"not":"a list"}');
    expect(code).toBe(1);
    expect(stderr).toMatch(/not a GitHub "list releases" array/);
  });

  it('check-config names every problem and exits 1, or summarises without secrets and exits 0', () => {
    const bad = run(['check-config'], { SLACK_BOT_TOKEN: 'xoxb-secret-value-1', PORT: 'eighty', CONFIG_FILE: '/nonexistent.yml' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/SLACK_SIGNING_SECRET/);
    expect(bad.stderr).toMatch(/PORT/);
    expect(bad.stderr).toMatch(/CONFIG_FILE/);

    const good = run(['check-config'], { SLACK_BOT_TOKEN: 'xoxb-secret-value-1', SLACK_SIGNING_SECRET: 'signing-secret-value-2', CONFIG_FILE: 'checkstack-chatops.example.yml', CHECKSTACK_PROD_API_KEY: 'ck_secret_value_3' });
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/Targets \(1\):\n {2}- prod \(default\)/);
    for (const secret of ['xoxb-secret-value-1', 'signing-secret-value-2', 'ck_secret_value_3']) expect(good.stdout).not.toContain(secret);
  });
});
