// Bench child: the fake Slack the servers answer to, in a process of its own so no server pays for it. It signs the
// requests the parent replays, counts the replies that reach each response_url, and (for the job and load benches)
// plays the people in the channel: plans an upgrade, confirms and starts it with signed clicks, and reads how it ended.
import { startFakeSlack, type FakeMessage, type FakeSlack } from '../test/fakes/fake-slack.js';
import { createSlackDriver, type SlackDriver } from '../test/support/slack-driver.js';
import { BENCH_CHANNEL, BENCH_USER, signedAckRequest, signedRequest, type AckScenario, type SignedRequest } from './ack-requests.js';
import { requiredEnv, runChild } from './child-process.js';

export interface FakeSlackReady {
  apiUrl: string;
}

export interface ReplySummary {
  count: number;
  /** The first reply's text, to show what the server said. */
  firstText: string | null;
}

/** A signed request of the load mix: a slash command's text, or a click on a checklist button. */
export type LoadRequest = { botUrl: string; command: string } | { botUrl: string; click: { channel: string; ts: string; actionId: string; user: string } };

export interface PlannedUpgrade {
  channel: string;
  ts: string;
  /** The checklist's confirmation buttons. */
  confirmActionIds: string[];
}

let slack: FakeSlack | null = null;
/** Checklists as first posted, before any confirmation: what a double click clicks. */
const asPosted = new Map<string, FakeMessage>();

function driverFor(botUrl?: string): SlackDriver {
  return createSlackDriver({ signingSecret: requiredEnv('BENCH_SIGNING_SECRET'), fakeSlack: slack!, ...(botUrl ? { botUrl } : {}) });
}

function topLevel(channel: string): FakeMessage[] {
  return slack!.messages(channel).filter((m) => !m.thread_ts || m.thread_ts === m.ts);
}

function actionIds(message: FakeMessage): string[] {
  return (message.blocks ?? []).flatMap((block) => {
    const elements = [...(Array.isArray(block.elements) ? (block.elements as { action_id?: string }[]) : []), ...(block.accessory ? [block.accessory as { action_id?: string }] : [])];
    return elements.map((e) => e.action_id ?? '').filter(Boolean);
  });
}

runChild<FakeSlackReady>({
  async start() {
    slack = await startFakeSlack({ botToken: requiredEnv('BENCH_BOT_TOKEN') });
    return { apiUrl: slack.apiUrl };
  },
  answers: {
    request: (args): SignedRequest => signedAckRequest(driverFor(), slack!, (args as { scenario: AckScenario }).scenario),
    loadRequest: (args): SignedRequest => {
      const a = args as LoadRequest;
      const driver = driverFor(a.botUrl);
      if ('command' in a) return signedRequest(driver, slack!, { command: a.command });
      const message = asPosted.get(a.click.ts) ?? slack!.message(a.click.channel, a.click.ts);
      if (!message) throw new Error(`no message ${a.click.ts} in ${a.click.channel}`);
      return signedRequest(driver, slack!, { click: { message, actionId: a.click.actionId, user: a.click.user } });
    },
    replies: (args): ReplySummary => {
      const url = (args as { responseUrl: string }).responseUrl;
      const replies = slack!.responses().filter((r) => r.url === url);
      return { count: replies.length, firstText: replies[0]?.payload.text ?? null };
    },
    /** `/checkstack upgrade …` as the requester, then every confirmation by the approver, and Start unless told not to. */
    planUpgrade: async (args): Promise<PlannedUpgrade> => {
      const a = args as { botUrl: string; text: string; requester: string; approver: string; channel: string; start: boolean };
      const driver = driverFor(a.botUrl);
      const before = topLevel(a.channel).length;
      const response = await driver.slashCommand('/checkstack', a.text, { user: a.requester, channel: a.channel });
      const reply = await slack!.waitFor(() => slack!.responses().find((r) => r.url === response.responseUrl), 30_000);
      if (!/planned/.test(reply.payload.text ?? '')) throw new Error(`the upgrade was not planned: ${reply.payload.text}`);
      const message = await slack!.waitFor(() => topLevel(a.channel).length > before && topLevel(a.channel).at(-1), 30_000);
      asPosted.set(message.ts, structuredClone(message));
      const confirmActionIds = actionIds(message).filter((id) => id.startsWith('confirm'));
      await driver.clickAll(message, 'confirm', { user: a.approver });
      if (a.start) {
        const ready = await slack!.waitFor(() => {
          const now = slack!.message(a.channel, message.ts)!;
          return JSON.stringify(now.blocks).includes('start_upgrade') && now;
        }, 30_000);
        await driver.click(ready, 'start_upgrade', { user: a.approver });
      }
      return { channel: a.channel, ts: message.ts, confirmActionIds };
    },
    /** The checklist's fallback text, which ends with its state (`…: succeeded`). */
    messageText: (args) => {
      const a = args as { channel: string; ts: string };
      return slack!.message(a.channel, a.ts)?.text ?? null;
    },
    replyCount: () => slack!.responses().length,
  },
  async stop() {
    await slack?.close();
  },
});

export { BENCH_CHANNEL, BENCH_USER };
