// The bot as the checklist suites run it through Slack's signed interaction path: approvers who must be two people,
// targets `prod` (default) and `staging` on one fake Checkstack at 0.25.0, fake GitHub with the fixture releases,
// the upgrade job left in its queue.
import pg from 'pg';
import type { DeployerFactory } from '../../src/targets/registry.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from './fixtures.js';
import { waitForQueueIdle } from './queues.js';
import { startTestBot, type TestBot } from './test-bot.js';

export interface TwoTargetBotOptions {
  requester: string;
  approver: string;
  /** The channel the checklists are posted in. */
  channel: string;
  /** More lines of target `prod` / `staging`, indented like their keys. */
  prodExtra?: string;
  stagingExtra?: string;
  docker: DeployerFactory;
}

export interface TwoTargetBot {
  t: TestBot;
  checkstack: FakeCheckstack;
  /** Runs SQL on the bot's database over a connection of its own. */
  rows(sql: string, params?: unknown[]): Promise<pg.QueryResult['rows']>;
  /** The text of the reply to the response_url of a command or click. */
  ephemeralReply(responseUrl: string | undefined): Promise<string>;
  /** The message as Slack holds it now (after the bot's updates). */
  current(message: FakeMessage): FakeMessage;
  close(): Promise<void>;
}

export const blocksText = (m: FakeMessage | undefined) => JSON.stringify(m?.blocks ?? []);

export async function startTwoTargetBot(options: TwoTargetBotOptions): Promise<TwoTargetBot> {
  let github: FakeGithub | undefined;
  let checkstack: FakeCheckstack | undefined;
  let t: TestBot | undefined;
  const close = async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
  };
  try {
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600' },
      configYaml: `approvers:
  users: [${options.requester}, ${options.approver}]
  requireSecondPerson: true
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
${options.prodExtra ?? ''}  - name: staging
    baseUrl: ${checkstack.url}
    docker: { container: checkstack-staging }
${options.stagingExtra ?? ''}`,
      deployers: { docker: options.docker },
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  } catch (err) {
    await close();
    throw err;
  }
  const bot = t;
  return {
    t: bot,
    checkstack,
    async rows(sql, params = []) {
      const client = new pg.Client({ connectionString: bot.database.url });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async ephemeralReply(responseUrl) {
      const reply = await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === responseUrl), 10_000);
      return reply.payload.text ?? '';
    },
    current: (m) => bot.slack.message(options.channel, m.ts)!,
    close,
  };
}
