// The compiled bot as operators run it (`npm start` = `node bin/checkstack-chatops.js start`), in plain Node ESM.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_GRAMMAR } from '../../src/domain/command-grammar.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/docker-images.js';
import { createSlackDriver } from '../support/slack-driver.js';
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

  it('answers /healthz and, within 10 s, /readyz', async () => {
    const started = Date.now();
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status, { timeout: 10_000, interval: 100 })
      .toBe(200);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('answers a signed /checkstack help with the grammar within 3 s', async () => {
    const driver = createSlackDriver({ botUrl: `http://127.0.0.1:${port}`, signingSecret: SIGNING_SECRET, fakeSlack: slack });
    const started = Date.now();

    const response = await driver.slashCommand('/checkstack', 'help', { user: 'U0MEMBER1', channel: 'C0OPS' });
    const reply = await slack.waitFor(() => slack.responses().find((r) => r.url === response.responseUrl), 3_000);

    expect(response.status).toBe(200);
    expect(reply.payload.text).toBe(COMMAND_GRAMMAR);
    expect(Date.now() - started).toBeLessThan(3_000);
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
