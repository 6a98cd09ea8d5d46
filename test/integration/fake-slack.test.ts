import { App, LogLevel, webApi, type BlockButtonAction, type types } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createSlackDriver } from '../support/slack-driver.js';

const CHANNEL = 'C0UPGRADES';
const USER = 'U0REQUESTER';
const fastRetries = { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 20 };

describe('fake Slack with the real WebClient', () => {
  let slack: FakeSlack;
  let client: webApi.WebClient;

  beforeEach(async () => {
    slack = await startFakeSlack({ usergroups: { S0OPS: ['U0APPROVER1', 'U0APPROVER2'] }, users: { U0REQUESTER: { name: 'alice' } } });
    client = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: fastRetries, logLevel: webApi.LogLevel.ERROR });
  });

  afterEach(async () => {
    await slack.close();
  });

  it('parses form bodies, JSON-encoded blocks included, and assigns increasing ts', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Upgrade* to 0.141.0' } }];

    const first = await client.chat.postMessage({ channel: CHANNEL, text: 'Upgrade to 0.141.0', blocks });
    const second = await client.chat.postMessage({ channel: CHANNEL, text: 'second' });

    expect(first.ts).toBe('1700000000.000100');
    expect(second.ts).toBe('1700000000.000200');
    expect(first.message).toMatchObject({ text: 'Upgrade to 0.141.0', blocks, bot_id: slack.botId });
    const call = slack.calls('chat.postMessage')[0];
    expect(call?.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(call?.token).toBe(slack.botToken);
    expect(call?.args.blocks).toEqual(blocks);
    expect(slack.lastMessage(CHANNEL)?.text).toBe('second');
  });

  it('accepts JSON bodies and a token in a form field, as Slack does', async () => {
    const json = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8', Authorization: `Bearer ${slack.botToken}` },
      body: JSON.stringify({ channel: CHANNEL, text: 'json', blocks: [{ type: 'divider' }] }),
    });
    const form = await fetch(`${slack.apiUrl}auth.test`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: slack.botToken }).toString(),
    });

    expect(await json.json()).toMatchObject({ ok: true, channel: CHANNEL, message: { text: 'json', blocks: [{ type: 'divider' }] } });
    expect(await form.json()).toMatchObject({ ok: true, user_id: slack.botUserId, team_id: slack.teamId, bot_id: slack.botId });
  });

  it('answers invalid_auth to an unknown token and not_authed without one', async () => {
    const stranger = new webApi.WebClient('xoxb-stolen', { slackApiUrl: slack.apiUrl, retryConfig: fastRetries, logLevel: webApi.LogLevel.ERROR });

    await expect(stranger.auth.test()).rejects.toMatchObject({ code: webApi.ErrorCode.PlatformError, data: { error: 'invalid_auth' } });
    const anonymous = await fetch(`${slack.apiUrl}auth.test`, { method: 'POST' });
    expect(await anonymous.json()).toEqual({ ok: false, error: 'not_authed' });
  });

  it('keeps thread replies and the update history of a message', async () => {
    const parent = await client.chat.postMessage({ channel: CHANNEL, text: 'checklist v1' });
    const parentTs = String(parent.ts);

    await client.chat.postMessage({ channel: CHANNEL, thread_ts: parentTs, text: 'pulling image' });
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: parentTs, text: 'recreating container' });
    await client.chat.update({ channel: CHANNEL, ts: parentTs, text: 'checklist v2', blocks: [{ type: 'divider' }] });
    await client.chat.update({ channel: CHANNEL, ts: parentTs, text: 'checklist v3' });

    expect(slack.threadReplies(parentTs).map((m) => m.text)).toEqual(['pulling image', 'recreating container']);
    const current = slack.message(CHANNEL, parentTs);
    expect(current).toMatchObject({ text: 'checklist v3', blocks: [{ type: 'divider' }], reply_count: 2, thread_ts: parentTs });
    expect(current?.versions.map((v) => v.text)).toEqual(['checklist v1', 'checklist v2', 'checklist v3']);
    expect(slack.lastMessage(CHANNEL)?.ts).toBe(parentTs);
    await expect(client.chat.update({ channel: CHANNEL, ts: '1.000000', text: 'x' })).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
  });

  it('answers 429 with Retry-After, keeps limiting until it ends, and the WebClient waits it out', async () => {
    slack.failNext('chat.postMessage', 1, { retryAfter: 1 });

    const result = await client.chat.postMessage({ channel: CHANNEL, text: 'after the limit' });

    expect(result.ok).toBe(true);
    const [limited, accepted] = slack.calls('chat.postMessage');
    expect(limited?.status).toBe(429);
    expect(accepted?.status).toBe(200);
    expect((accepted?.time ?? 0) - (limited?.time ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('sends the Retry-After header and rate-limits early retries', async () => {
    slack.failNext('chat.update', 1, { retryAfter: 2 });
    const post = (): Promise<Response> =>
      fetch(`${slack.apiUrl}chat.update`, { method: 'POST', headers: { Authorization: `Bearer ${slack.botToken}` } });

    const first = await post();
    const early = await post();

    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('2');
    expect(early.status).toBe(429);
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('serves 5xx that the WebClient retries, and platform errors it does not', async () => {
    slack.failNext('chat.postMessage', 2, { status: 503 });
    slack.failNext('chat.postEphemeral', 1, { error: 'channel_not_found' });

    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'eventually' });
    const ephemeral = client.chat.postEphemeral({ channel: CHANNEL, user: USER, text: 'nope' });

    expect(posted.ok).toBe(true);
    expect(slack.calls('chat.postMessage').map((c) => c.status)).toEqual([503, 503, 200]);
    await expect(ephemeral).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
  });

  it('answers users, user groups, channels and ephemerals', async () => {
    const user = await client.users.info({ user: USER });
    const group = await client.usergroups.users.list({ usergroup: 'S0OPS' });
    slack.setUsergroupMembers('S0OPS', ['U0APPROVER3']);
    const changed = await client.usergroups.users.list({ usergroup: 'S0OPS' });
    const channel = await client.conversations.info({ channel: CHANNEL });
    const ephemeral = await client.chat.postEphemeral({ channel: CHANNEL, user: USER, text: 'only you' });

    expect(user.user).toMatchObject({ id: USER, name: 'alice' });
    expect(group.users).toEqual(['U0APPROVER1', 'U0APPROVER2']);
    expect(changed.users).toEqual(['U0APPROVER3']);
    expect(channel.channel).toMatchObject({ id: CHANNEL, is_member: true });
    expect(slack.ephemerals(USER)).toEqual([expect.objectContaining({ ts: ephemeral.message_ts, text: 'only you', channel: CHANNEL })]);
    await expect(client.usergroups.users.list({ usergroup: 'S0NOPE' })).rejects.toMatchObject({ data: { error: 'no_such_subteam' } });
  });

  it('records response_url payloads and applies them as Slack does', async () => {
    const original = await client.chat.postMessage({ channel: CHANNEL, text: 'approve?' });
    const commandUrl = slack.responseUrl({ channel: CHANNEL, user: USER });
    const clickUrl = slack.responseUrl({ channel: CHANNEL, user: USER, messageTs: String(original.ts) });
    const respond = (url: string, body: object): Promise<Response> =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    await respond(commandUrl, { response_type: 'ephemeral', text: 'Version `latest` is not allowed' });
    await respond(commandUrl, { response_type: 'in_channel', text: 'Upgrade requested' });
    await respond(clickUrl, { replace_original: true, text: 'approved' });

    expect(slack.responses().map((r) => r.payload.text)).toEqual(['Version `latest` is not allowed', 'Upgrade requested', 'approved']);
    expect(slack.ephemerals(USER).map((e) => e.text)).toEqual(['Version `latest` is not allowed']);
    expect(slack.lastMessage(CHANNEL)?.text).toBe('Upgrade requested');
    expect(slack.message(CHANNEL, String(original.ts))?.text).toBe('approved');
  });
});

describe('fake Slack Socket Mode with the real Bolt SocketModeReceiver', () => {
  let slack: FakeSlack;
  let app: App | undefined;

  beforeEach(async () => {
    slack = await startFakeSlack({ socketPingIntervalMs: 200 });
  });

  afterEach(async () => {
    await app?.stop();
    app = undefined;
    await slack.close();
  });

  it('connects after hello, delivers a slash command envelope and records the acknowledgement', async () => {
    app = new App({
      token: slack.botToken,
      appToken: slack.appToken,
      socketMode: true,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: slack.apiUrl },
    });
    app.command('/checkstack', async ({ command, ack }) => {
      await ack({ text: `pong ${command.text}` });
    });
    const driver = createSlackDriver({ fakeSlack: slack });

    await app.start();
    await slack.waitForSocket();
    const delivery = await driver.socket.slashCommand('/checkstack', 'status', { user: USER, channel: CHANNEL });

    expect(delivery.payload).toEqual({ text: 'pong status' });
    expect(slack.calls('apps.connections.open')[0]?.token).toBe(slack.appToken);
    expect(slack.socketAcks().map((a) => a.envelope_id)).toEqual([delivery.envelopeId]);
  });

  it('delivers a block_actions click as an interactive envelope', async () => {
    app = new App({
      token: slack.botToken,
      appToken: slack.appToken,
      socketMode: true,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: slack.apiUrl },
    });
    const clicked: string[] = [];
    app.action<BlockButtonAction>('start_upgrade', async ({ ack, action, body }) => {
      await ack();
      clicked.push(`${action.value}@${body.container.message_ts}`);
    });
    await app.start();
    await slack.waitForSocket();
    const posted = await app.client.chat.postMessage({
      channel: CHANNEL,
      text: 'ready',
      blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'start_upgrade', text: { type: 'plain_text', text: 'Start' }, value: 'req-9' }] }],
    });

    await createSlackDriver({ fakeSlack: slack }).socket.click(slack.lastMessage(CHANNEL)!, 'start_upgrade', { user: USER });

    expect(clicked).toEqual([`req-9@${posted.ts}`]);
  });

  it('reconnects through apps.connections.open after Slack sends disconnect', async () => {
    app = new App({
      token: slack.botToken,
      appToken: slack.appToken,
      socketMode: true,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: slack.apiUrl },
    });
    app.command('/checkstack', async ({ ack }) => {
      await ack();
    });
    await app.start();
    await slack.waitForSocket();

    slack.disconnectSockets('refresh_requested');
    await slack.waitFor(() => slack.calls('apps.connections.open').length === 2 && slack.socketConnections() === 1, 15_000);
    await slack.waitForSocket();
    const envelopeId = slack.sendEnvelope({
      type: 'slash_commands',
      payload: createSlackDriver({ fakeSlack: slack }).slashCommandFields('/checkstack', 'help', { user: USER, channel: CHANNEL }),
      accepts_response_payload: true,
    });

    expect(await slack.waitForAck(envelopeId)).toMatchObject({ envelope_id: envelopeId });
  }, 20_000);
});

describe('slack driver against the real Bolt HTTPReceiver', () => {
  const signingSecret = 'integration-signing-secret';
  let slack: FakeSlack;
  let app: App;
  let botUrl: string;
  const seen: Array<{ text: string; retryNum: number | undefined; action?: string; value?: string }> = [];

  beforeEach(async () => {
    seen.length = 0;
    slack = await startFakeSlack();
    app = new App({ token: slack.botToken, signingSecret, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: slack.apiUrl } });
    app.command('/checkstack', async ({ command, ack, respond, context }) => {
      seen.push({ text: command.text, retryNum: context.retryNum });
      await ack();
      await respond({ response_type: 'in_channel', text: `Upgrade to ${command.text} requested`, blocks: [
        { type: 'actions', elements: [{ type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, value: 'req-7' }] },
      ] });
    });
    app.action<BlockButtonAction>('approve', async ({ ack, action, respond, context }) => {
      await ack();
      seen.push({ text: 'click', retryNum: context.retryNum, action: action.action_id, value: action.value });
      await respond({ replace_original: true, text: 'approved' });
    });
    const server = await app.start(0);
    botUrl = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  });

  afterEach(async () => {
    await app.stop();
    await slack.close();
  });

  it('clickAll clicks each matching button in the message as it stands after the previous click', async () => {
    const button = (id: string): types.Button => ({ type: 'button', action_id: id, text: { type: 'plain_text', text: id }, value: id });
    const clicks: string[] = [];
    app.action<BlockButtonAction>(/^confirm_/, async ({ ack, action, body, client }) => {
      clicks.push(action.action_id);
      const shown = (body.message?.blocks as types.ActionsBlock[] | undefined)?.[0]?.elements ?? [];
      const remaining = shown.filter((e) => 'action_id' in e && e.action_id !== action.action_id);
      await client.chat.update({ channel: CHANNEL, ts: body.container.message_ts, text: 'checklist', blocks: [{ type: 'actions', elements: remaining }] });
      await ack();
    });
    const driver = createSlackDriver({ botUrl, signingSecret, fakeSlack: slack });
    const posted = await app.client.chat.postMessage({
      channel: CHANNEL,
      text: 'checklist',
      blocks: [{ type: 'actions', elements: [button('confirm_backup'), button('confirm_notes'), button('cancel')] }],
    });
    const message = slack.message(CHANNEL, String(posted.ts))!;

    const responses = await driver.clickAll(message, 'confirm_', { user: 'U0APPROVER1' });

    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(clicks).toEqual(['confirm_backup', 'confirm_notes']);
    const buttonsLeft = slack.message(CHANNEL, String(posted.ts))?.blocks?.[0]?.elements;
    expect(buttonsLeft).toEqual([button('cancel')]);
  });

  it('delivers signed commands and clicks that Bolt accepts, and Bolt refuses forged ones', async () => {
    const driver = createSlackDriver({ botUrl, signingSecret, fakeSlack: slack });

    const command = await driver.slashCommand('/checkstack', 'upgrade 0.141.0', { user: USER, channel: CHANNEL, retryNum: 2 });
    const posted = await slack.waitFor(() => slack.lastMessage(CHANNEL));
    const click = await driver.click(posted, 'approve', { user: 'U0APPROVER1' });
    await slack.waitFor(() => slack.message(CHANNEL, posted.ts)?.text === 'approved');
    const forged = await driver.send('command=%2Fcheckstack&text=help', { secret: 'wrong' });
    const replayed = await driver.send('command=%2Fcheckstack&text=help', { timestamp: Math.floor(Date.now() / 1000) - 600 });

    expect(command.status).toBe(200);
    expect(click.status).toBe(200);
    expect(seen).toEqual([
      { text: 'upgrade 0.141.0', retryNum: 2 },
      { text: 'click', retryNum: undefined, action: 'approve', value: 'req-7' },
    ]);
    expect(slack.responses().map((r) => r.payload.text)).toEqual(['Upgrade to upgrade 0.141.0 requested', 'approved']);
    expect(forged.status).toBe(401);
    expect(replayed.status).toBe(401);
  });
});
