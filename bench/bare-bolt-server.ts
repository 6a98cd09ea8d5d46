// Bench child: the baseline, a bare Bolt app on its own HTTPReceiver that acks and replies ephemerally to the same
// signed requests the bot gets, through the same fake Slack. What the bot adds on top of it is what we measure.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver } from '@slack/bolt';
import { COMMAND_GRAMMAR } from '../src/domain/command-grammar.js';
import type { ServerReady } from './bot-server.js';
import { requiredEnv, runChild } from './child-process.js';

let server: Server | null = null;

runChild<ServerReady>({
  async start() {
    const slackApiUrl = requiredEnv('BENCH_SLACK_API_URL');
    const receiver = new HTTPReceiver({ signingSecret: requiredEnv('BENCH_SIGNING_SECRET'), endpoints: '/slack/events', processBeforeResponse: false });
    const app = new App({ token: requiredEnv('BENCH_BOT_TOKEN'), receiver, clientOptions: { slackApiUrl } });
    app.command('/checkstack', async ({ ack, respond }) => {
      await ack();
      await respond({ response_type: 'ephemeral', text: COMMAND_GRAMMAR });
    });
    // Every checklist confirmation (the ack bench clicks CLICK_ACTION_ID, the load bench all of them).
    app.action(/^confirm:/, async ({ ack, respond }) => {
      await ack();
      await respond({ response_type: 'ephemeral', replace_original: false, text: 'This upgrade request was not found.' });
    });
    server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
    return { eventsUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events` };
  },
  async stop() {
    await new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  },
});
