// `checkstack-chatops drill --target NAME [--json]` as an operator runs it: after a backup, the drill restores it and
// passes (exit 0); a changed count fails it (exit 1) naming the table; no backup or a bad target are said plainly.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { backupRecordSchema } from '../../src/domain/backup.js';
import { createBackupDatabase, KNOWN_TABLES, type BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL } from '../support/database.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('the drill command', () => {
  let db: BackupDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createBackupDatabase();
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER ROLE ${db.role} CREATEDB`);
    await admin.end();
    dir = mkdtempSync(join(tmpdir(), 'ck-drill-cli-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const yaml = () => `targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:1
    image: ghcr.io/enyineer/checkstack
    docker: { host: "tcp://127.0.0.1:1", container: checkstack }
    backup: { databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL, dir: ${dir}, keep: 3, maxAge: 24h }
    drill: { every: 90d }
  - name: staging
    baseUrl: http://127.0.0.1:1
    docker: { host: "tcp://127.0.0.1:1", container: checkstack-staging }
`;
  async function run(args: string[]) {
    const out = new Capture();
    const err = new Capture();
    const code = await runCli(args, { out, err }, {
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'test-secret', CHECKSTACK_PROD_DATABASE_URL: db.checkstackUrl, LOG_LEVEL: 'error' },
      readFile: () => yaml(),
    });
    return { code, out: out.text, err: err.text };
  }

  it('exits 1 when there is no backup yet, and 2 for bad usage or a target without backup', async () => {
    const none = await run(['drill', '--target', 'prod']);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^The restore drill of target "prod" failed: there is no complete backup of it/);
    const staging = await run(['drill', '--target', 'staging']);
    expect(staging.code).toBe(2);
    expect(staging.err).toMatch(/Target `staging` has no `backup` block/);
    expect((await run(['drill', '--bogus'])).code).toBe(2);
  });

  it('--json prints the drill as CONTRACT.md names it, and exits 0 when it passes', async () => {
    expect((await run(['backup', '--target', 'prod'])).code).toBe(0);
    const result = await run(['drill', '--target', 'prod', '--json']);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.out) as Record<string, unknown>;
    expect(Object.keys(printed).sort()).toEqual(['backup', 'durationMs', 'mismatches', 'passed', 'restoredInto', 'rowsMatch', 'started', 'tables', 'target']);
    expect(printed).toMatchObject({ target: 'prod', tables: Object.keys(KNOWN_TABLES).length, rowsMatch: true, mismatches: [], passed: true });
    expect(result.out).not.toContain(db.password);
  });

  it('exits 1 naming the table whose count differs', async () => {
    const backup = JSON.parse((await run(['backup', '--target', 'prod', '--json'])).out) as unknown;
    const record = backupRecordSchema.parse(backup);
    const recordPath = record.file.replace(/\.dump$/, '.json');
    const changed = JSON.parse(readFileSync(recordPath, 'utf8')) as { tables: Record<string, number> };
    changed.tables['checkstack.plugins'] = 4;
    writeFileSync(recordPath, JSON.stringify(changed));
    const result = await run(['drill', '--target', 'prod']);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^Restore drill of prod FAILED in [\d.]+ s: .*\.dump restored, but 1 of 5 tables differ from the backup's counts:\n {2}checkstack\.plugins: backup 4, restored 3\n$/);
  });
});
