// `checkstack-chatops backup --target NAME [--json]` as an operator runs it: the config file and environment name the
// target's database; the record printed is the one on disk; a failure says why and exits 1, without the password.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { backupRecordSchema } from '../../src/domain/backup.js';
import { createBackupDatabase, KNOWN_TABLES, type BackupDatabase } from '../support/backup-database.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('the backup command', () => {
  let db: BackupDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createBackupDatabase();
    dir = mkdtempSync(join(tmpdir(), 'ck-backup-cli-'));
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
  - name: staging
    baseUrl: http://127.0.0.1:1
    docker: { host: "tcp://127.0.0.1:1", container: checkstack-staging }
`;
  async function run(args: string[], databaseUrl: string) {
    const out = new Capture();
    const err = new Capture();
    const code = await runCli(args, { out, err }, {
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'test-secret', CHECKSTACK_PROD_DATABASE_URL: databaseUrl, LOG_LEVEL: 'error' },
      readFile: () => yaml(),
    });
    return { code, out: out.text, err: err.text };
  }

  it('--json prints the record written beside the dump', async () => {
    const result = await run(['backup', '--target', 'prod', '--json'], db.checkstackUrl);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const record = backupRecordSchema.parse(JSON.parse(result.out));
    expect(record).toMatchObject({ target: 'prod', version: 'unknown', tables: KNOWN_TABLES });
    expect(JSON.parse(readFileSync(record.file.replace(/\.dump$/, '.json'), 'utf8'))).toEqual(record);
  });

  it('says what it took in words without --json', async () => {
    const result = await run(['backup', '--target', 'prod'], db.checkstackUrl);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^Backup of prod \(unknown\) taken in [\d.]+ s: .*\.dump\n {2}[\d.]+ KB, sha256 [0-9a-f]{64}, 5 tables, 262 rows, server \d+/);
  });

  it('exits 1 with the reason when the backup fails, and 2 for a target without backup', async () => {
    const unreachable = new URL(db.checkstackUrl);
    unreachable.port = '1';
    const failed = await run(['backup', '--target', 'prod'], unreachable.toString());
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/^The backup of target "prod" failed: the database server did not answer/);
    expect(failed.err + failed.out).not.toContain(db.password);
    expect(failed.err + failed.out).not.toContain(encodeURIComponent(db.password));

    const none = await run(['backup', '--target', 'staging'], db.checkstackUrl);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/Target `staging` has no `backup` block/);
    expect((await run(['backup', '--bogus'], db.checkstackUrl)).code).toBe(2);
  });
});
