import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySlackRequest } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createSlackDriver, type SlackDriver } from '../support/slack-driver.js';

const SIGNING_SECRET = 'test-signing-secret-8f14e45f';

interface Captured {
  headers: IncomingHttpHeaders;
  body: string;
}

/** What Bolt's receivers hand to verifySlackRequest: the raw body and the two headers. */
function verify(request: Captured, secret = SIGNING_SECRET, nowMilliseconds?: number): void {
  verifySlackRequest({
    signingSecret: secret,
    body: request.body,
    headers: {
      'x-slack-signature': String(request.headers['x-slack-signature']),
      'x-slack-request-timestamp': Number(request.headers['x-slack-request-timestamp']),
    },
    ...(nowMilliseconds === undefined ? {} : { nowMilliseconds }),
  });
}

describe('slack driver signatures, checked by Bolt', () => {
  let slack: FakeSlack;
  let server: Server;
  let captured: Captured[];
  let driver: SlackDriver;

  beforeEach(async () => {
    slack = await startFakeSlack();
    captured = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        captured.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    driver = createSlackDriver({
      botUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      signingSecret: SIGNING_SECRET,
      fakeSlack: slack,
    });
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await slack.close();
  });

  it('signs a slash command so that verifySlackRequest accepts it, with every field Slack sends', async () => {
    await driver.slashCommand('/checkstack', 'upgrade 0.141.0', { user: 'U0REQUESTER', channel: 'C0UPGRADES', retryNum: 1 });

    const [request] = captured;
    if (!request) throw new Error('no request captured');
    expect(() => verify(request)).not.toThrow();
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers['x-slack-retry-num']).toBe('1');
    expect([...new URLSearchParams(request.body).keys()]).toEqual([
      'token', 'team_id', 'team_domain', 'channel_id', 'channel_name', 'user_id', 'user_name', 'command', 'text',
      'api_app_id', 'is_enterprise_install', 'response_url', 'trigger_id',
    ]);
    expect(new URLSearchParams(request.body).get('response_url')).toMatch(new RegExp(`^${slack.url}/response/`));
  });

  it('signs a block_actions click as a form field payload that verifySlackRequest accepts', async () => {
    const message = {
      channel: 'C0UPGRADES',
      ts: '1700000000.000100',
      text: 'approve?',
      blocks: [
        { type: 'section', block_id: 'head', text: { type: 'mrkdwn', text: 'Upgrade?' }, accessory: { type: 'button', action_id: 'details', text: { type: 'plain_text', text: 'Details' }, value: 'd' } },
        { type: 'actions', block_id: 'checks', elements: [{ type: 'button', action_id: 'confirm_backup', text: { type: 'plain_text', text: 'Backup taken' }, value: 'req-1' }] },
      ],
    };

    await driver.click(message, 'confirm_backup', { user: 'U0APPROVER1' });
    await driver.click(message, 'details', { user: 'U0APPROVER1', value: 'other' });

    const [confirm, details] = captured;
    if (!confirm || !details) throw new Error('no request captured');
    expect(() => verify(confirm)).not.toThrow();
    const payload: unknown = JSON.parse(new URLSearchParams(confirm.body).get('payload') ?? '');
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0APPROVER1', team_id: slack.teamId },
      container: { type: 'message', message_ts: message.ts, channel_id: 'C0UPGRADES', is_ephemeral: false },
      channel: { id: 'C0UPGRADES' },
      message: { ts: message.ts, blocks: message.blocks },
      actions: [{ type: 'button', action_id: 'confirm_backup', block_id: 'checks', value: 'req-1' }],
    });
    const detailsPayload: unknown = JSON.parse(new URLSearchParams(details.body).get('payload') ?? '');
    expect(detailsPayload).toMatchObject({ actions: [{ action_id: 'details', block_id: 'head', value: 'other' }] });
  });

  it('fails verification when signed with another secret', async () => {
    await driver.send('command=%2Fcheckstack&text=help', { secret: 'not-the-secret' });

    const [request] = captured;
    if (!request) throw new Error('no request captured');
    expect(() => verify(request)).toThrow(/signature mismatch/);
  });

  it('fails verification for a timestamp older than five minutes, as a replay would have', async () => {
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;

    await driver.send('command=%2Fcheckstack&text=help', { timestamp: sixMinutesAgo });

    const [request] = captured;
    if (!request) throw new Error('no request captured');
    expect(() => verify(request)).toThrow(/stale/);
    expect(() => verify(request, SIGNING_SECRET, sixMinutesAgo * 1000)).not.toThrow();
  });

  it('fails verification for a forged signature header or a tampered body', async () => {
    const body = 'command=%2Fcheckstack&text=help';
    await driver.send(body, { signature: `v0=${'0'.repeat(64)}` });
    const genuine = driver.sign(body);

    const [forged] = captured;
    if (!forged) throw new Error('no request captured');
    expect(() => verify(forged)).toThrow(/signature mismatch/);
    const tampered: Captured = {
      body: body.replace('help', 'upgrade 0.141.0'),
      headers: { 'x-slack-signature': genuine.signature, 'x-slack-request-timestamp': String(genuine.timestamp) },
    };
    expect(() => verify(tampered)).toThrow(/signature mismatch/);
  });
});
