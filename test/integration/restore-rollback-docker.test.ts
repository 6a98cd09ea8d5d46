// Restore and roll back on the real Docker engine, the real Postgres and a bot in its own process: an upgrade across a
// destructive migration takes its pre-upgrade backup; rows written after it are gone once Restore and roll back
// (confirmed by two different approvers) has stopped the new container, restored the dump and started the old one.
import type Dockerode from 'dockerode';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTION_IDS } from '../../src/slack/action-ids.js';
import type { FakeSlack } from '../fakes/fake-slack.js';
import { countTables, type BackupDatabase } from '../support/backup-database.js';
import { useDockerBackupRig } from '../support/docker-backup-rig.js';
import { dockerFromEnv } from '../support/docker-images.js';
import { fixtureRelease, loadFixtureReleases } from '../support/fixtures.js';
import { waitUntilReady } from '../support/upgrade-flow.js';

const docker = dockerFromEnv();
const REQUESTER = 'U0APPROVER1';
const APPROVER = 'U0APPROVER2';
const CHANNEL = 'C0UPGRADES';

describe.skipIf(!docker)('Restore and roll back on a real Docker engine', () => {
  const engine = docker as Dockerode;
  const destructive = { ...fixtureRelease('0.30.0', 9030), body: '# Checkstack v0.30.0 Changelog\n\n## Patch Changes\n\n### @checkstack/backend@0.9.1\n\n- 1a2b3c4: Database migration drops the old runs table (destructive, cannot be rolled back)\n' };
  const rig = useDockerBackupRig({
    engine,
    name: 'restore',
    versions: ['0.28.0', '0.30.0'],
    releases: () => [destructive, ...loadFixtureReleases().filter((r) => r.tag_name !== 'v0.30.0')],
    requester: REQUESTER,
    approver: APPROVER,
    channel: CHANNEL,
  });
  const { container, image } = rig;
  const { driver, flow } = rig;
  let port = 0;
  let slack: FakeSlack;
  let checkstackDb: BackupDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    ({ port, slack, checkstackDb, pool } = rig);
    await rig.startBot();
  }, 240_000);

  it('rows written after the pre-upgrade backup are gone after Restore and roll back, which two approvers confirmed', async () => {
    await driver().slashCommand('/checkstack', 'backup prod', { user: APPROVER, channel: CHANNEL });
    await slack.waitFor(() => slack.messages(CHANNEL).some((m) => /^✅ Backup of/.test(m.text ?? '')), 60_000);
    await waitUntilReady(`http://127.0.0.1:${port}`);
    const upgrade = await flow().request(driver(), 'upgrade 0.30.0');
    await flow().confirmAndStart(driver(), upgrade);
    expect(await flow().finalState(upgrade)).toBe('succeeded');
    const { rows: [row] } = await pool.query(`SELECT pre_upgrade_backup FROM upgrades WHERE message_ts = $1`, [upgrade.ts]);
    const atBackup = await countTables(checkstackDb.checkstackUrl);

    // Written after the backup, on the new version.
    const client = new pg.Client({ connectionString: checkstackDb.checkstackUrl });
    await client.connect();
    await client.query(`INSERT INTO public.systems (name) VALUES ('after the backup 1'), ('after the backup 2')`);
    await client.end();
    expect((await countTables(checkstackDb.checkstackUrl))['public.systems']).toBe(atBackup['public.systems']! + 2);

    await waitUntilReady(`http://127.0.0.1:${port}`);
    const rollback = await flow().request(driver(), 'rollback', /Rollback of `prod` to `0\.28\.0` planned/);
    const blocks = JSON.stringify(rollback.blocks);
    expect(blocks).toMatch(/Restore and roll back: data written since \d{4}-\d\d-\d\d \d\d:\d\d UTC \([^)]+ ago\) will be lost/);
    expect(blocks).toContain(ACTION_IDS.confirm('restore_data_loss'));

    // One approver alone cannot complete it: the last item is refused, and Start does not appear.
    await driver().clickAll(rollback, ACTION_IDS.confirmPrefix, { user: APPROVER });
    await slack.waitFor(() => JSON.stringify(flow().current(rollback).blocks).includes('3 of 4 items confirmed'), 20_000);
    expect(JSON.stringify(flow().current(rollback).blocks)).not.toContain('start_upgrade');
    await driver().clickAll(flow().current(rollback), ACTION_IDS.confirmPrefix, { user: REQUESTER });
    const ready = await slack.waitFor(() => JSON.stringify(flow().current(rollback).blocks).includes('start_upgrade') && flow().current(rollback), 20_000);
    await driver().click(ready, 'start_upgrade', { user: APPROVER });

    expect(await flow().finalState(rollback, 180_000)).toBe('succeeded');
    expect(flow().threadTexts(rollback).join('\n')).toMatch(/restored prod-0\.28\.0-\d{8}T\d{6}Z\.dump into the live database/);
    expect(row.pre_upgrade_backup.version).toBe('0.28.0');
    expect(await countTables(checkstackDb.checkstackUrl)).toEqual(atBackup);
    const after = await engine.getContainer(container).inspect();
    expect(after.Config.Image).toBe(`${image}:0.28.0`);
    expect(after.State.Running).toBe(true);
    const { rows: audited } = await pool.query(`SELECT outcome, detail FROM audit_log WHERE action = 'rollback_restore'`);
    expect(audited).toHaveLength(1);
    expect(audited[0].outcome).toBe('ok');
  }, 420_000);
});
