import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_GRAMMAR } from '../../src/domain/command-grammar.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { startRecordingProxy, type RecordingProxy } from '../support/recording-proxy.js';
import { BOT_TOKEN, startTestBot, type TestBot } from '../support/test-bot.js';

describe('Socket Mode', () => {
  let slack: FakeSlack;
  let t: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack({ botToken: BOT_TOKEN, appToken: 'xapp-1-test-app-token' });
    t = await startTestBot({ fakeSlack: slack, env: { SLACK_APP_TOKEN: 'xapp-1-test-app-token' } });
    await slack.waitForSocket(10_000);
  });
  afterAll(async () => {
    await t?.close();
    await slack?.close();
  });

  it('opens the connection through apps.connections.open with the app-level token', () => {
    const opens = slack.calls('apps.connections.open');
    expect(opens.length).toBeGreaterThanOrEqual(1);
    expect(opens[0]?.token).toBe('xapp-1-test-app-token');
  });

  it('acknowledges a slash-command envelope and replies with the grammar', async () => {
    const delivery = await t.driver.socket.slashCommand('/checkstack', 'help', { user: 'U0MEMBER1', channel: 'C0OPS' });

    expect(delivery.envelopeId).toBeTruthy();
    const reply = await slack.waitFor(() => slack.responses().find((r) => r.url === delivery.responseUrl));
    expect(reply.payload).toMatchObject({ response_type: 'ephemeral', text: COMMAND_GRAMMAR });
  });

  it('acknowledges an app_home_opened envelope and publishes the Home tab of the user who opened it', async () => {
    const delivery = await t.driver.socket.event({ type: 'app_home_opened', user: 'U0MEMBER1', channel: 'D0MEMBER1', tab: 'home' });

    expect(delivery.envelopeId).toBeTruthy();
    const published = await slack.waitFor(() => slack.homeViews('U0MEMBER1').at(-1), 10_000);
    expect(published.view.type).toBe('home');
    expect(JSON.stringify(published.view.blocks)).toContain('Checkstack targets');
  });

  it('still serves /healthz on its own HTTP port', async () => {
    expect((await fetch(`${t.bot.url}/healthz`)).status).toBe(200);
  });
});

describe('Socket Mode behind the operator proxy', () => {
  let slack: FakeSlack | null = null;
  let proxy: RecordingProxy | null = null;
  let t: TestBot | null = null;

  afterEach(async () => {
    await t?.close();
    await slack?.close();
    await proxy?.close();
    t = null;
    slack = null;
    proxy = null;
  });

  async function startBehind(env: Record<string, string>) {
    slack = await startFakeSlack({ botToken: BOT_TOKEN, appToken: 'xapp-1-test-app-token' });
    proxy = await startRecordingProxy();
    const slackHost = new URL(slack.url).host;
    t = await startTestBot({ fakeSlack: slack, env: { SLACK_APP_TOKEN: 'xapp-1-test-app-token', HTTP_PROXY: proxy.url, ...env } });
    await slack.waitForSocket(10_000);
    return { slack, proxy, t, slackHost };
  }

  it('opens the connection and its WebSocket through HTTP_PROXY, and works through it', async () => {
    const { slack, proxy, t, slackHost } = await startBehind({});
    const tunnels = proxy.tunnelled.filter((line) => line.startsWith(`${slackHost} `));
    // apps.connections.open through the bot's Slack transport, and the WebSocket's upgrade through the proxy dispatcher.
    expect(tunnels).toContainEqual(`${slackHost} POST /api/apps.connections.open HTTP/1.1`);
    expect(tunnels.some((line) => line.endsWith('(websocket)'))).toBe(true);
    const delivery = await t.driver.socket.slashCommand('/checkstack', 'help', { user: 'U0MEMBER1', channel: 'C0OPS' });
    const reply = await slack.waitFor(() => slack.responses().find((r) => r.url === delivery.responseUrl));
    expect(reply.payload).toMatchObject({ text: COMMAND_GRAMMAR });
  });

  it('goes direct when NO_PROXY names the Slack host', async () => {
    const { proxy, slackHost } = await startBehind({ NO_PROXY: '127.0.0.1' });
    expect(proxy.seen.filter((line) => line.includes(slackHost))).toEqual([]);
  });
});
