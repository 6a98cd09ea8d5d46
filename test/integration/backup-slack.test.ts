// Backups from Slack, with the real bot, Postgres and Redis: `/checkstack backup` (approvers only, a job on the backups
// queue, the result in the channel), the checklist's backup item checked by the bot (satisfied only by a backup newer
// than maxAge; nobody can tick it; Start refused without one), `/checkstack status`; the database password nowhere.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/catalog.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { startBackupSlackBot, type BackupSlackBot } from '../support/backup-slack-bot.js';
import type { TestBot } from '../support/test-bot.js';

const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';

describe('backups from Slack and the checklist backup item', () => {
  let setup: BackupSlackBot | undefined;
  let dir: string;
  let t: TestBot;

  beforeAll(async () => {
    setup = await startBackupSlackBot({ approvers: `  users: [${REQUESTER}, ${APPROVER}]\n  requireSecondPerson: true`, dirPrefix: 'ck-backup-slack-' });
    ({ t, dir } = setup);
  });
  // The database password and URL: in no log line, Slack call, job or row of the bot.
  afterAll(() => setup?.closeFindingNoSecrets());

  const blocksText = (m: FakeMessage | undefined) => JSON.stringify(m?.blocks ?? []);
  const current = (m: FakeMessage) => t.slack.message(CHANNEL, m.ts)!;

  const command = (text: string, user: string) => setup!.command(text, user, CHANNEL);
  const backupFromSlack = (): Promise<FakeMessage> =>
    setup!.nextResult(CHANNEL, /Backup of/, async () => expect(await command('backup prod', APPROVER)).toMatch(/^Backup of `prod` started/));

  /** Makes every backup look `hours` old (their records say so; the dumps are untouched, so they still count). */
  async function ageBackups(hours: number): Promise<void> {
    for (const backup of (await listBackups(dir, 'prod')).backups) {
      const record = JSON.parse(readFileSync(backup.recordPath, 'utf8')) as Record<string, string>;
      const at = new Date(Date.now() - hours * 3600_000).toISOString();
      writeFileSync(backup.recordPath, JSON.stringify({ ...record, startedAt: at, finishedAt: at }));
    }
  }

  it('refuses a backup asked for by someone who is not an approver, and queues nothing', async () => {
    expect(await command('backup prod', MEMBER)).toMatch(/Only approvers can take a backup/);
    expect(await command('backup staging', APPROVER)).toMatch(/Target `staging` has no `backup` block/);
    const counts = await t.bot.deps.queues.backups.raw.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('the backup item is the bot\'s: without a fresh backup nobody can tick it and Start is not offered; a backup from Slack satisfies it', async () => {
    const response = await t.driver.slashCommand('/checkstack', 'upgrade 0.30.0', { user: REQUESTER, channel: CHANNEL });
    await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl && /planned/.test(r.payload.text ?? '')), 10_000);
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).find((m) => /^Upgrade/.test(m.text ?? '') && !m.thread_ts));

    expect(blocksText(message)).not.toContain('confirm:backup');
    expect(blocksText(message)).not.toContain('confirm:automatic_checks_ack');
    expect(blocksText(message)).toMatch(/❌ A recent database backup exists: no backup yet: type `\/checkstack backup prod`/);
    // A forged click on the backup item: it is not a person's to confirm.
    const [{ id }] = (await t.bot.deps.pool.query(`SELECT id FROM upgrades WHERE message_ts = $1`, [message.ts])).rows;
    const forged = { ...message, blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'confirm:backup', value: `${id}:backup`, text: { type: 'plain_text', text: 'x' } }] }] };
    const forgedClick = await t.driver.click(forged, 'confirm:backup', { user: APPROVER, stale: true });
    const forgedAnswer = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === forgedClick.responseUrl), 10_000);
    expect(forgedAnswer.payload.text).toMatch(/not on this checklist/);
    expect((await t.bot.deps.pool.query(`SELECT item_id FROM confirmations WHERE upgrade_id = $1`, [id])).rows).toEqual([]);

    await t.driver.clickAll(message, 'confirm', { user: APPROVER });
    await t.slack.waitFor(() => /Every item is confirmed|items confirmed/.test(blocksText(current(message))) && !blocksText(current(message)).includes('confirm:'));
    expect(blocksText(current(message))).not.toContain('start_upgrade');

    const result = await backupFromSlack();
    expect(result.text).toMatch(new RegExp(`^✅ Backup of \\*prod\\* \\(\`0\\.25\\.0\`\\) taken for <@${APPROVER}> in [\\d.]+ s: \`prod-0\\.25\\.0-\\d{8}T\\d{6}Z\\.dump\`, [\\d.]+ KB, sha256 \`[0-9a-f]{12}…\`, 5 tables, 262 rows\\.$`));
    const [stored] = (await listBackups(dir, 'prod')).backups;
    expect(result.text).toContain(stored!.record.sha256.slice(0, 12));

    // The checklist is refreshed: the item holds, with the backup's age, size and checksum; Start is offered.
    await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade'), 15_000);
    expect(blocksText(current(message))).toMatch(/✅ A recent database backup exists: the newest is (less than a minute|\d+ min) old: `prod-0\.25\.0-.*\.dump`, [\d.]+ KB, sha256 `[0-9a-f]{12}…`/);
    const withStart = current(message);

    // A backup older than maxAge (6 h) no longer satisfies it: Start is refused, nothing is queued.
    await ageBackups(7);
    const click = await t.driver.click(withStart, 'start_upgrade', { user: APPROVER, stale: true });
    const refusal = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === click.responseUrl), 10_000);
    expect(refusal.payload.text).toMatch(/^Nothing started: the checklist's backup item needs a backup newer than 6 h, and the newest backup is 7 h old/);
    const [row] = (await t.bot.deps.pool.query(`SELECT status FROM upgrades WHERE message_ts = $1`, [message.ts])).rows;
    expect(row.status).toBe('confirming');
    await t.slack.waitFor(() => !blocksText(current(message)).includes('start_upgrade') && /older than the 6 h allowed/.test(blocksText(current(message))));

    // A fresh one again, and Start queues the upgrade.
    await backupFromSlack();
    await t.slack.waitFor(() => blocksText(current(message)).includes('start_upgrade'), 15_000);
    await t.driver.click(current(message), 'start_upgrade', { user: APPROVER });
    await t.slack.waitFor(() => /Queued/.test(blocksText(current(message))));
  });

  it('/checkstack status shows the newest backup\'s age, and flags it when stale', async () => {
    expect(await command('status prod', MEMBER)).toMatch(/\nBackup: (less than a minute|\d+ min) old \(`prod-0\.25\.0-.*\.dump`, [\d.]+ KB, sha256 `[0-9a-f]{12}…`\)\./);
    await ageBackups(30);
    expect(await command('status prod', MEMBER)).toMatch(/\n⚠️ Backup: 30 h old, \*stale\* \(older than 6 h; /);
    expect(await command('status staging', MEMBER)).not.toMatch(/Backup/);
  });

  it('/metrics gives the newest backup\'s age per target and counts the backups taken', async () => {
    const text = await (await fetch(`${t.bot.url}/metrics`)).text();
    const age = /^checkstack_chatops_backup_age_seconds\{target="prod"\} ([\d.e+]+)$/m.exec(text);
    expect(Number(age?.[1])).toBeGreaterThanOrEqual(30 * 3600);
    expect(text).not.toMatch(/backup_age_seconds\{target="staging"\}/);
    expect(text).toMatch(/^checkstack_chatops_backups_total\{target="prod",result="taken"\} 2$/m);
  });

  it('a failed backup is reported in the channel in plain words', async () => {
    const folder = join(dir, 'prod');
    // The folder cannot be written: the dump cannot be created.
    rmSync(folder, { recursive: true, force: true });
    writeFileSync(folder, 'not a folder');
    try {
      const result = await backupFromSlack();
      expect(result.text).toMatch(new RegExp(`^❌ Backup of \\*prod\\* for <@${APPROVER}> failed: The backup of target "prod" failed: the backup folder .* cannot be created \\(EEXIST\\)`));
    } finally {
      rmSync(folder, { force: true });
    }
  });
});
