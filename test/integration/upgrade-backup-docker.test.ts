// The Backup step of the upgrade job on the real Docker engine, the real Postgres and a bot in its own process: a
// fresh dump of Checkstack's database on the version being left, after Pull and before anything stops; a failed
// backup fails the upgrade with the old container untouched; a bot SIGKILLed mid-dump leaves nothing that counts and
// the restarted job takes the backup again. The database password appears in no log line, Slack call, job or row.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/catalog.js';
import type { FakeMessage, FakeSlack } from '../fakes/fake-slack.js';
import type { BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL } from '../support/database.js';
import { useDockerBackupRig } from '../support/docker-backup-rig.js';
import { dockerFromEnv } from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { countMatching, waitUntilReady } from '../support/upgrade-flow.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';

describe.skipIf(!docker)('the Backup step of an upgrade on a real Docker engine', () => {
  const engine = docker as Dockerode;
  // Every Docker call of the bot goes through the allowlist of src/targets/docker-endpoints.ts; a refused one fails.
  const rig = useDockerBackupRig({
    engine,
    name: 'backup',
    versions: ['0.28.0', '0.30.0', '0.31.0', '0.32.0'],
    releases: () => [fixtureRelease('0.32.0', 9032), fixtureRelease('0.31.0', 9031), ...loadFixtureReleases()],
    requester: REQUESTER,
    approver: APPROVER,
    channel: CHANNEL,
    // pg_dump is found on the PATH: this one can be told to stall after writing the whole dump.
    botEnv: () => ({ PATH: `${wrapperDir}:${process.env.PATH}` }),
  });
  const { container, image, dir, work, driver, flow } = rig;
  const wrapperDir = join(work, 'bin');
  const stallFlag = join(work, 'stall-next-dump');
  const dumpWritten = join(work, 'dump-written');
  const stallPid = join(work, 'stall-pid');
  let port = 0;
  let slack: FakeSlack;
  let checkstackDb: BackupDatabase;
  let pool: pg.Pool;
  const startBot = () => rig.startBot();
  const texts = (m: FakeMessage) => flow().threadTexts(m);
  const inspect = () => engine.getContainer(container).inspect();
  const backups = async () => (await listBackups(dir, 'prod')).backups;
  const upgradeRow = async (m: FakeMessage) => (await pool.query(`SELECT id, status, step, pre_upgrade_backup FROM upgrades WHERE message_ts = $1`, [m.ts])).rows[0];

  async function backupFromSlack(): Promise<void> {
    const before = slack.messages(CHANNEL).filter((m) => /^✅ Backup of/.test(m.text ?? '')).length;
    await driver().slashCommand('/checkstack', 'backup prod', { user: APPROVER, channel: CHANNEL });
    await slack.waitFor(() => slack.messages(CHANNEL).filter((m) => /^✅ Backup of/.test(m.text ?? '')).length > before, 60_000);
  }

  async function upgrade(version: string): Promise<FakeMessage> {
    await waitUntilReady(`http://127.0.0.1:${port}`);
    const message = await flow().request(driver(), `upgrade ${version}`);
    await flow().confirmAndStart(driver(), message);
    return message;
  }

  beforeAll(async () => {
    ({ port, slack, checkstackDb, pool } = rig);
    execFileSync('mkdir', ['-p', wrapperDir]);
    const realPgDump = execFileSync('sh', ['-c', 'command -v pg_dump'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(wrapperDir, 'pg_dump'),
      `#!/bin/sh\nif [ -e ${stallFlag} ]; then\n  rm -f ${stallFlag}\n  echo $$ > ${stallPid}\n  ${realPgDump} "$@"\n  touch ${dumpWritten}\n  exec sleep 300\nfi\nexec ${realPgDump} "$@"\n`,
    );
    chmodSync(join(wrapperDir, 'pg_dump'), 0o755);
    await startBot();
  }, 240_000);

  afterAll(() => {
    if (existsSync(stallPid)) {
      try {
        process.kill(Number(readFileSync(stallPid, 'utf8')), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('takes a fresh dump on the version being left, after Pull and before Recreate, and names it in the thread', async () => {
    await backupFromSlack();
    const before = await backups();

    const message = await upgrade('0.30.0');

    expect(await flow().finalState(message)).toBe('succeeded');
    const thread = texts(message);
    const at = (title: string) => thread.findIndex((t) => t.startsWith(`✅ *${title}* finished in`));
    expect(at('Pull')).toBeGreaterThan(-1);
    expect(at('Backup')).toBeGreaterThan(at('Pull'));
    expect(at('Recreate')).toBeGreaterThan(at('Backup'));
    expect(thread[at('Backup')]).toMatch(/^✅ \*Backup\* finished in [\d.]+ s: `prod-0\.28\.0-\d{8}T\d{6}Z\.dump`, [\d.]+ KB, sha256 `[0-9a-f]{12}…`, taken on 0\.28\.0, 5 tables$/);

    const row = await upgradeRow(message);
    const after = await backups();
    expect(after).toHaveLength(before.length + 1);
    const taken = after[0]!.record;
    expect(row.pre_upgrade_backup).toEqual({ file: taken.file, sha256: taken.sha256, bytes: taken.bytes, version: '0.28.0', startedAt: taken.startedAt, finishedAt: taken.finishedAt });
    // Taken before anything stopped: the step ended before Recreate began.
    const { rows: steps } = await pool.query(`SELECT step, started_at, finished_at FROM upgrade_steps WHERE upgrade_id = $1`, [row.id]);
    const step = (name: string) => steps.find((s) => s.step === name)!;
    expect(step('backup').finished_at.getTime()).toBeLessThanOrEqual(step('recreate').started_at.getTime());
    expect(execFileSync('pg_restore', ['--list', taken.file], { encoding: 'utf8' })).toContain('TABLE DATA checkstack plugins');
    expect((await inspect()).Config.Image).toBe(`${image}:0.30.0`);
  }, 240_000);

  it('a failed backup fails the upgrade with the old container untouched, and says why', async () => {
    const before = await backups();
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER ROLE ${checkstackDb.role} NOLOGIN`);
    try {
      const message = await upgrade('0.31.0');

      expect(await flow().finalState(message)).toBe('failed');
      const thread = texts(message).join('\n');
      expect(thread).toMatch(/Backup\* failed/);
      expect(thread).toMatch(/the server refused the user or password in the database URL/);
      expect(thread).toMatch(/0\.30\.0` is still running/);
      const after = await inspect();
      expect(after.Config.Image).toBe(`${image}:0.30.0`);
      expect(after.State.Running).toBe(true);
      await expect(engine.getContainer(`${container}-pre-0.31.0`).inspect()).rejects.toThrow(/no such container/i);
      expect((await backups()).map((b) => b.record.file)).toEqual(before.map((b) => b.record.file));
      expect((await upgradeRow(message)).step).toBe('backup');
      expect(JSON.stringify(flow().current(message).blocks)).not.toContain('rollback_upgrade');
    } finally {
      await admin.query(`ALTER ROLE ${checkstackDb.role} LOGIN`);
      await admin.end();
    }
  }, 240_000);

  it('a bot SIGKILLed in the middle of the dump leaves no backup that counts; the restarted job takes it again and the upgrade succeeds', async () => {
    const before = await backups();
    writeFileSync(stallFlag, '');

    const message = await upgrade('0.32.0');
    await slack.waitFor(() => existsSync(dumpWritten), 120_000);
    const exit = await rig.bot.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    process.kill(Number(readFileSync(stallPid, 'utf8')), 'SIGKILL');
    expect(countMatching(texts(message), /^✅ \*Backup\* finished/)).toBe(0);
    const listing = await listBackups(dir, 'prod');
    expect(listing.backups.map((b) => b.record.file)).toEqual(before.map((b) => b.record.file));
    expect(listing.ignored.map((i) => i.reason)).toEqual(['an interrupted backup']);
    expect((await inspect()).Config.Image).toBe(`${image}:0.30.0`);

    await startBot();

    expect(await flow().finalState(message, 180_000)).toBe('succeeded');
    const thread = texts(message);
    expect(thread.filter((t) => t.startsWith('↩️ '))).toHaveLength(1);
    expect(countMatching(thread, /^✅ \*Backup\* finished in .*prod-0\.30\.0-/)).toBe(1);
    const after = await listBackups(dir, 'prod');
    expect(after.backups).toHaveLength(before.length + 1);
    const row = await upgradeRow(message);
    expect(row.pre_upgrade_backup.file).toBe(after.backups[0]!.record.file);
    expect(row.pre_upgrade_backup.version).toBe('0.30.0');
    // The killed run's half never counts, whatever remains of it.
    expect(after.ignored.every((i) => i.reason === 'an interrupted backup')).toBe(true);
    expect((await inspect()).Config.Image).toBe(`${image}:0.32.0`);
  }, 360_000);
});
