// Bench child: the real bot (startTestBot: fresh database, own BullMQ prefix, workers running) answering to the
// shared fake Slack. Its first release poll against a fake GitHub finishes before it reports ready, so no job
// runs during the measurement.
import { startFakeGithub, type FakeGithub } from '../test/fakes/fake-github.js';
import { loadFixtureReleases } from '../test/support/fixtures.js';
import { waitForQueueIdle } from '../test/support/queues.js';
import { startTestBot, type TestBot } from '../test/support/test-bot.js';
import { benchLogDestination } from './bench-log.js';
import { requiredEnv, runChild } from './child-process.js';

export interface ServerReady {
  /** Where Slack's signed requests go. */
  eventsUrl: string;
}

let github: FakeGithub | null = null;
let bot: TestBot | null = null;

runChild<ServerReady>({
  async start() {
    const slackApiUrl = requiredEnv('BENCH_SLACK_API_URL');
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    bot = await startTestBot({
      // The bot's own fake Slack from startTestBot stays idle: SLACK_API_URL points at the shared one.
      env: { SLACK_API_URL: slackApiUrl, GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', LOG_LEVEL: 'info' },
      // Logs as in production: JSON written to a file descriptor, nothing kept in memory.
      logDestination: benchLogDestination(),
    });
    await waitForQueueIdle(bot.bot.deps.queues.releases, 60_000);
    return { eventsUrl: `${bot.bot.url}/slack/events` };
  },
  async stop() {
    await bot?.close();
    await github?.close();
  },
});
