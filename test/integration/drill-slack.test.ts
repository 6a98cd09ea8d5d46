// Restore drills from Slack, with the real bot, Postgres and Redis: `/checkstack drill` (approvers only, a job on the
// drills queue, the result in the channel), a scheduled drill's result in the target's channel, `drill.every` as a
// job scheduler, the drills table, `/checkstack status` with the last drill's result and age (flagged when failed
// or older than `drill.every`); the database password nowhere.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/catalog.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { createBackupDatabase, type BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL, REDIS_URL } from '../support/database.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import { dumpDatabase, dumpRedisKeys, findSecrets } from '../support/secret-scan.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';

const APPROVER = 'U0APPROVER1';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';
const DRILL_CHANNEL = 'C0DRILLS';
const NINETY_DAYS_MS = 90 * 24 * 3600_000;

describe('restore drills from Slack and in /checkstack status', () => {
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let db: BackupDatabase;
  let dir: string;
  let t: TestBot;

  beforeAll(async () => {
    db = await createBackupDatabase();
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER ROLE ${db.role} CREATEDB`);
    await admin.end();
    dir = mkdtempSync(join(tmpdir(), 'ck-drill-slack-'));
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', CHECKSTACK_PROD_DATABASE_URL: db.checkstackUrl },
      configYaml: `approvers:
  users: [${APPROVER}]
targets:
  - name: prod
    default: true
    channel: ${DRILL_CHANNEL}
    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
    backup: { databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL, dir: ${dir}, keep: 5, maxAge: 6h }
    drill: { every: 90d }
  - name: staging
    baseUrl: ${checkstack.url}
    docker: { container: checkstack-staging }
`,
      deployers: { docker: () => staticDeployer({ tag: '0.25.0' }) },
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  });
  afterAll(async () => {
    if (t) {
      const secrets = { password: db.password, url: db.checkstackUrl };
      const sources: Array<[string, string]> = [
        ['logs', t.logs.text()],
        ...t.slack.calls().map((c, i) => [`slack call ${i} ${c.method}`, JSON.stringify(c)] as [string, string]),
        ...[...(await dumpDatabase(t.database.url)).tables].map(([name, rows]) => [`table ${name}`, rows] as [string, string]),
        ...[...(await dumpRedisKeys(REDIS_URL, t.queuePrefix))].map(([key, value]) => [`redis ${key}`, value] as [string, string]),
      ];
      expect(findSecrets(secrets, sources)).toEqual([]);
    }
    await t?.close();
    await checkstack?.close();
    await github?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function command(text: string, user: string): Promise<string> {
    const response = await t.driver.slashCommand('/checkstack', text, { user, channel: CHANNEL });
    const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl), 10_000);
    return reply.payload.text ?? '';
  }

  async function nextResult(channel: string, pattern: RegExp, action: () => Promise<unknown>): Promise<string> {
    const before = t.slack.messages(channel).filter((m) => pattern.test(m.text ?? '')).length;
    await action();
    const message = await t.slack.waitFor(() => {
      const results = t.slack.messages(channel).filter((m) => pattern.test(m.text ?? ''));
      return results.length > before && results[results.length - 1];
    }, 30_000);
    return message.text ?? '';
  }
  const drillFromSlack = () => nextResult(CHANNEL, /Restore drill of/, async () => expect(await command('drill prod', APPROVER)).toMatch(/^Restore drill of `prod` started/));

  it('refuses a drill asked for by someone who is not an approver or of a target without backup; status says none yet', async () => {
    expect(await command('drill prod', MEMBER)).toMatch(/Only approvers can run a restore drill/);
    expect(await command('drill staging', APPROVER)).toMatch(/Target `staging` has no `backup` block/);
    const counts = await t.bot.deps.queues.drills.raw.getJobCounts('waiting', 'active', 'completed', 'failed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    expect(await command('status prod', MEMBER)).toMatch(/\n⚠️ Restore drill: none yet/);
    expect(await command('status staging', MEMBER)).not.toMatch(/Restore drill/);
  });

  it('drill.every is a job scheduler of the target, its first drill one cadence away', async () => {
    const schedulers = await t.bot.deps.queues.drills.raw.getJobSchedulers();
    expect(schedulers.map((s) => ({ id: s.id ?? s.key, every: s.every }))).toEqual([{ id: 'drill:prod', every: NINETY_DAYS_MS }]);
    expect(schedulers[0]!.next).toBeGreaterThan(Date.now() + NINETY_DAYS_MS - 3600_000);
  });

  it('a drill without a backup fails in plain words; after a backup it passes and status shows it', async () => {
    expect(await drillFromSlack()).toMatch(new RegExp(`^❌ Restore drill of \\*prod\\* for <@${APPROVER}> failed: The restore drill of target "prod" could not run: there is no complete backup in`));
    expect(await command('status prod', MEMBER)).toMatch(/\n⚠️ Restore drill: \*failed\* (less than a minute|\d+ min) ago\./);

    await nextResult(CHANNEL, /Backup of/, async () => command('backup prod', APPROVER));
    const passed = await drillFromSlack();
    expect(passed).toMatch(new RegExp(`^✅ Restore drill of \\*prod\\* for <@${APPROVER}> passed in [\\d.]+ s: \`prod-0\\.25\\.0-\\d{8}T\\d{6}Z\\.dump\` restored, all 5 tables have the row counts of the backup\\.$`));
    expect(await command('status prod', MEMBER)).toMatch(/\nRestore drill: passed (less than a minute|\d+ min) ago\./);
    const { rows } = await t.bot.deps.pool.query(`SELECT target, dump_file, passed, tables, mismatches, error FROM drills ORDER BY id`);
    expect(rows).toMatchObject([
      { target: 'prod', dump_file: null, passed: false, tables: 0, mismatches: [] },
      { target: 'prod', passed: true, tables: 5, mismatches: [], error: null },
    ]);
  });

  it('a drill older than drill.every is flagged overdue in status', async () => {
    await t.bot.deps.pool.query(`UPDATE drills SET finished_at = now() - interval '91 days'`);
    expect(await command('status prod', MEMBER)).toMatch(/\n⚠️ Restore drill: passed 91 d ago, \*overdue\* \(older than 90 d\)\./);
  });

  it('a scheduled drill posts in the target\'s channel, and a changed count fails it naming the table', async () => {
    const [backup] = (await listBackups(dir, 'prod')).backups;
    const record = JSON.parse(readFileSync(backup!.recordPath, 'utf8')) as { tables: Record<string, number> };
    record.tables['public.health_check_runs'] = 251;
    writeFileSync(backup!.recordPath, JSON.stringify(record));
    const text = await nextResult(DRILL_CHANNEL, /Restore drill of/, () => t.bot.deps.queues.drills.add('drill', { target: 'prod' }));
    expect(text).toMatch(/^❌ Restore drill of \*prod\* \(scheduled\) failed in [\d.]+ s: `.*\.dump` restored, but 1 of 5 tables do not have the row counts of the backup:\n• `public\.health_check_runs`: backup 251 rows, restored 250 rows$/);
    const { rows } = await t.bot.deps.pool.query(`SELECT mismatches FROM drills ORDER BY id DESC LIMIT 1`);
    expect(rows[0].mismatches).toEqual([{ table: 'public.health_check_runs', expected: 251, restored: 250 }]);
  });
});
