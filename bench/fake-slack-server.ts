// Bench child: the fake Slack both servers answer to, in a process of its own so neither server pays for it.
// It signs the requests the parent replays and counts the replies that reach each response_url.
import { startFakeSlack, type FakeSlack } from '../test/fakes/fake-slack.js';
import { createSlackDriver } from '../test/support/slack-driver.js';
import { signedAckRequest, type AckScenario, type SignedRequest } from './ack-requests.js';
import { requiredEnv, runChild } from './child-process.js';

export interface FakeSlackReady {
  apiUrl: string;
}

export interface ReplySummary {
  count: number;
  /** The first reply's text, to show what the server said. */
  firstText: string | null;
}

let slack: FakeSlack | null = null;

runChild<FakeSlackReady>({
  async start() {
    slack = await startFakeSlack({ botToken: requiredEnv('BENCH_BOT_TOKEN') });
    return { apiUrl: slack.apiUrl };
  },
  answers: {
    request: (args): SignedRequest => {
      const driver = createSlackDriver({ signingSecret: requiredEnv('BENCH_SIGNING_SECRET'), fakeSlack: slack! });
      return signedAckRequest(driver, slack!, (args as { scenario: AckScenario }).scenario);
    },
    replies: (args): ReplySummary => {
      const url = (args as { responseUrl: string }).responseUrl;
      const replies = slack!.responses().filter((r) => r.url === url);
      return { count: replies.length, firstText: replies[0]?.payload.text ?? null };
    },
  },
  async stop() {
    await slack?.close();
  },
});
