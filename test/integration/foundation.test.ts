import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_GRAMMAR } from '../../src/domain/command-grammar.js';
import { SIGNING_SECRET, startTestBot, type TestBot } from '../support/test-bot.js';

const USER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';

describe('the running bot (HTTP mode)', () => {
  let t: TestBot;

  beforeAll(async () => {
    t = await startTestBot();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function auditRows() {
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      return (await client.query('SELECT user_id, kind, action, outcome, error_code, detail FROM audit_log ORDER BY id')).rows;
    } finally {
      await client.end();
    }
  }

  it('answers /healthz and /readyz with 200 once migrations are applied', async () => {
    const health = await fetch(`${t.bot.url}/healthz`);
    const ready = await fetch(`${t.bot.url}/readyz`);
    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { postgres: { ok: true }, redis: { ok: true }, migrations: { ok: true } } });
  });

  it('answers a signed `/checkstack help` with the command grammar, ephemerally, and audits it', async () => {
    const response = await t.driver.slashCommand('/checkstack', 'help', { user: USER, channel: CHANNEL });

    expect(response.status).toBe(200);
    const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl));
    expect(reply.payload).toMatchObject({ response_type: 'ephemeral', text: COMMAND_GRAMMAR });
    await expect.poll(auditRows).toContainEqual(expect.objectContaining({ user_id: USER, kind: 'command', action: 'help', outcome: 'ok' }));
  });

  it('answers an unknown subcommand with "unknown subcommand" and the grammar, and records the refusal', async () => {
    const response = await t.driver.slashCommand('/checkstack', 'deploy-everything now', { user: USER, channel: CHANNEL });

    const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl));
    expect(reply.payload.response_type).toBe('ephemeral');
    expect(reply.payload.text).toMatch(/unknown subcommand/i);
    expect(reply.payload.text).toContain('/checkstack upgrade <version>');
    await expect.poll(auditRows).toContainEqual(
      expect.objectContaining({ user_id: USER, action: 'unknown', outcome: 'refused', error_code: 'unknown_subcommand' }),
    );
  });

  it.each([
    ['no signature', { signature: '' }],
    ['a wrong signature', { secret: 'another-secret' }],
    ['a timestamp older than 5 minutes', { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }],
  ])('refuses a request with %s with 401 and reaches no listener', async (_name, forgery) => {
    const responsesBefore = t.slack.responses().length;
    const auditBefore = (await auditRows()).length;
    const fields = t.driver.slashCommandFields('/checkstack', 'help', { user: USER, channel: CHANNEL });
    const body = new URLSearchParams(fields).toString();

    const response = await t.driver.send(body, forgery);

    expect(response.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.slack.responses().length).toBe(responsesBefore);
    expect((await auditRows()).length).toBe(auditBefore);
  });

  it('logs refused signatures without ever printing the signing secret or the bot token', async () => {
    await t.driver.send('command=%2Fcheckstack&text=help', { secret: 'another-secret' });

    await expect.poll(() => t.logs.text()).toMatch(/verify|signature|authenticity/i);
    expect(t.logs.text()).not.toContain(SIGNING_SECRET);
    expect(t.logs.text()).not.toContain(t.config.slack.botToken);
  });

  it('serves Prometheus metrics including the acknowledgement latency', async () => {
    await t.driver.slashCommand('/checkstack', 'help', { user: USER, channel: CHANNEL });

    const text = await (await fetch(`${t.bot.url}/metrics`)).text();
    expect(text).toMatch(/checkstack_chatops_ack_latency_seconds_count\{kind="command"\} [1-9]/);
  });
});
