// Restore drills from Slack, with the real bot, Postgres and Redis: `/checkstack drill` (approvers only, a job on the
// drills queue, the result in the channel), a scheduled drill's result in the target's channel, `drill.every` as a
// job scheduler, the drills table, `/checkstack status` with the last drill's result and age (flagged when failed
// or older than `drill.every`); the database password nowhere.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/catalog.js';
import { startBackupSlackBot, type BackupSlackBot } from '../support/backup-slack-bot.js';
import type { TestBot } from '../support/test-bot.js';

const APPROVER = 'U0APPROVER1';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';
const DRILL_CHANNEL = 'C0DRILLS';
const NINETY_DAYS_MS = 90 * 24 * 3600_000;

describe('restore drills from Slack and in /checkstack status', () => {
  let setup: BackupSlackBot | undefined;
  let dir: string;
  let t: TestBot;

  beforeAll(async () => {
    setup = await startBackupSlackBot({
      approvers: `  users: [${APPROVER}]`,
      prodExtra: `    channel: ${DRILL_CHANNEL}\n    drill: { every: 90d }\n`,
      createDb: true,
      dirPrefix: 'ck-drill-slack-',
    });
    ({ t, dir } = setup);
  });
  // The database password and URL: in no log line, Slack call, job or row of the bot.
  afterAll(() => setup?.closeFindingNoSecrets());

  const command = (text: string, user: string) => setup!.command(text, user, CHANNEL);
  const metricsText = async () => (await fetch(`${t.bot.url}/metrics`)).text();
  const nextResult = async (channel: string, pattern: RegExp, action: () => Promise<unknown>) => (await setup!.nextResult(channel, pattern, action)).text ?? '';
  const drillFromSlack = () => nextResult(CHANNEL, /Restore drill of/, async () => expect(await command('drill prod', APPROVER)).toMatch(/^Restore drill of `prod` started/));

  it('refuses a drill asked for by someone who is not an approver or of a target without backup; status says none yet', async () => {
    expect(await command('drill prod', MEMBER)).toMatch(/Only approvers can run a restore drill/);
    expect(await command('drill staging', APPROVER)).toMatch(/Target `staging` has no `backup` block/);
    const counts = await t.bot.deps.queues.drills.raw.getJobCounts('waiting', 'active', 'completed', 'failed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    expect(await command('status prod', MEMBER)).toMatch(/\n⚠️ Restore drill: none yet/);
    expect(await command('status staging', MEMBER)).not.toMatch(/Restore drill/);
    const metrics = await metricsText();
    expect(metrics).not.toMatch(/^checkstack_chatops_last_drill_age_seconds\{/m);
    expect(metrics).not.toMatch(/^checkstack_chatops_drills_total\{/m);
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
    const age = /^checkstack_chatops_last_drill_age_seconds\{target="prod"\} ([\d.e+]+)$/m.exec(await metricsText());
    expect(Number(age?.[1])).toBeGreaterThanOrEqual(91 * 86_400);
    expect(Number(age?.[1])).toBeLessThan(92 * 86_400);
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

  it('/metrics counts the drills by result and gives the age of the newest per drillable target', async () => {
    const metrics = await metricsText();
    expect(metrics).toMatch(/^checkstack_chatops_drills_total\{target="prod",result="passed"\} 1$/m);
    expect(metrics).toMatch(/^checkstack_chatops_drills_total\{target="prod",result="failed"\} 2$/m);
    // The scheduled drill just now is the newest.
    const age = /^checkstack_chatops_last_drill_age_seconds\{target="prod"\} ([\d.e+]+)$/m.exec(metrics);
    expect(Number(age?.[1])).toBeLessThan(3600);
    expect(metrics).not.toMatch(/last_drill_age_seconds\{target="staging"\}/);
  });
});
