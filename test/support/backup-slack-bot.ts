// The bot as the backup and drill Slack suites run it: the real bot, Postgres and Redis, a Checkstack-like database
// behind target `prod` (backup block, maxAge 6h) and a target `staging` without one, fake GitHub and Checkstack.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { createBackupDatabase, type BackupDatabase } from './backup-database.js';
import { ADMIN_DATABASE_URL, REDIS_URL } from './database.js';
import { loadFixtureReleases } from './fixtures.js';
import { waitForQueueIdle } from './queues.js';
import { dumpDatabase, dumpRedisKeys, findSecrets, type SecretFinding } from './secret-scan.js';
import { staticDeployer } from './static-deployer.js';
import { startTestBot, type TestBot } from './test-bot.js';

export interface BackupSlackBotOptions {
  /** The `approvers:` block's lines, indented by two spaces. */
  approvers: string;
  /** Extra lines of target `prod` (`channel: …`, `drill: …`), indented like its keys. */
  prodExtra?: string;
  /** Lets the database's role create databases (a drill restores into a throwaway one). */
  createDb?: boolean;
  /** The temporary backup folder's name prefix. */
  dirPrefix: string;
}

export interface BackupSlackBot {
  t: TestBot;
  db: BackupDatabase;
  /** The backup folder of target `prod`'s config. */
  dir: string;
  /** Sends `/checkstack TEXT` as `user` in `channel` and returns the text of the reply. */
  command(text: string, user: string, channel: string): Promise<string>;
  /** Runs `action` and waits for a new message in `channel` whose text matches `pattern`. */
  nextResult(channel: string, pattern: RegExp, action: () => Promise<unknown>): Promise<FakeMessage>;
  /** Where the database's password or URL shows in a log line, Slack call, table row or Redis key of the bot. */
  secretFindings(): Promise<SecretFinding[]>;
  close(): Promise<void>;
  /** Asserts that secretFindings() is empty, and closes either way. */
  closeFindingNoSecrets(): Promise<void>;
}

export async function startBackupSlackBot(options: BackupSlackBotOptions): Promise<BackupSlackBot> {
  let db: BackupDatabase | undefined;
  let dir: string | undefined;
  let github: FakeGithub | undefined;
  let checkstack: FakeCheckstack | undefined;
  let t: TestBot | undefined;
  const close = async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    db = await createBackupDatabase();
    if (options.createDb) {
      const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await admin.connect();
      await admin.query(`ALTER ROLE ${db.role} CREATEDB`);
      await admin.end();
    }
    dir = mkdtempSync(join(tmpdir(), options.dirPrefix));
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', CHECKSTACK_PROD_DATABASE_URL: db.checkstackUrl },
      configYaml: `approvers:
${options.approvers}
targets:
  - name: prod
    default: true
${options.prodExtra ?? ''}    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
    backup: { databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL, dir: ${dir}, keep: 5, maxAge: 6h }
  - name: staging
    baseUrl: ${checkstack.url}
    docker: { container: checkstack-staging }
`,
      deployers: { docker: () => staticDeployer({ tag: '0.25.0' }) },
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  } catch (err) {
    await close();
    throw err;
  }
  const bot = t;
  const database = db;
  const secretFindings = async () => {
    const sources: Array<[string, string]> = [
      ['logs', bot.logs.text()],
      ...bot.slack.calls().map((c, i) => [`slack call ${i} ${c.method}`, JSON.stringify(c)] as [string, string]),
      ...[...(await dumpDatabase(bot.database.url)).tables].map(([name, rows]) => [`table ${name}`, rows] as [string, string]),
      ...[...(await dumpRedisKeys(REDIS_URL, bot.queuePrefix))].map(([key, value]) => [`redis ${key}`, value] as [string, string]),
    ];
    return findSecrets({ password: database.password, url: database.checkstackUrl }, sources);
  };
  return {
    t: bot,
    db: database,
    dir,
    async command(text, user, channel) {
      const response = await bot.driver.slashCommand('/checkstack', text, { user, channel });
      const reply = await bot.slack.waitFor(() => bot.slack.responses().find((r) => r.url === response.responseUrl), 10_000);
      return reply.payload.text ?? '';
    },
    async nextResult(channel, pattern, action) {
      const before = bot.slack.messages(channel).filter((m) => pattern.test(m.text ?? '')).length;
      await action();
      return bot.slack.waitFor(() => {
        const results = bot.slack.messages(channel).filter((m) => pattern.test(m.text ?? ''));
        return results.length > before && results[results.length - 1];
      }, 30_000);
    },
    secretFindings,
    close,
    async closeFindingNoSecrets() {
      try {
        expect(await secretFindings()).toEqual([]);
      } finally {
        await close();
      }
    },
  };
}
