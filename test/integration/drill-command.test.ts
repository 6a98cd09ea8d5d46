// `checkstack-chatops drill --target NAME [--json]` as an operator runs it: the newest backup restored and counted,
// the result printed as CONTRACT.md names it, exit 1 when the drill fails, 2 for bad usage, never the password; each
// drill recorded in the bot's database as the bot's own drills are, for `/checkstack status`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { createDrillStore } from '../../src/db/drill-store.js';
import { runMigrations } from '../../src/db/migrate.js';
import { drillResultSchema } from '../../src/domain/drill.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { createBackupDatabase, type BackupDatabase } from '../support/backup-database.js';
import { ADMIN_DATABASE_URL, createTestDatabase, type TestDatabase } from '../support/database.js';
import { findSecrets } from '../support/secret-scan.js';

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
  /** The bot's own database, migrated, where the CLI records its drills. */
  let botDb: TestDatabase;
  let botPool: pg.Pool;
  const printed: string[] = [];
  const drillRows = async () =>
    (await botPool.query(`SELECT target, dump_file, passed, tables, mismatches, error FROM drills ORDER BY id`)).rows as Array<{ target: string; dump_file: string | null; passed: boolean; tables: number; mismatches: unknown[]; error: string | null }>;
  beforeAll(async () => {
    botDb = await createTestDatabase();
    await runMigrations(botDb.url, createLogger({ level: 'silent', format: 'json', secrets: new SecretRegistry() }));
    botPool = new pg.Pool({ connectionString: botDb.url, max: 1 });
    db = await createBackupDatabase();
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER ROLE ${db.role} CREATEDB`);
    await admin.end();
    dir = mkdtempSync(join(tmpdir(), 'ck-drill-cli-'));
  });
  afterAll(async () => {
    expect(findSecrets({ password: db.password, url: db.checkstackUrl }, printed.map((t, i) => [`output ${i}`, t] as [string, string]))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
    await botPool?.end();
    await botDb?.drop();
  });

  // A Kubernetes target: the drill restores and counts (the throwaway instance is Docker-only).
  const yaml = () => `targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:1
    image: ghcr.io/enyineer/checkstack
    kubernetes: { namespace: checkstack, deployment: checkstack, container: checkstack }
    backup: { databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL, dir: ${dir}, keep: 3, maxAge: 24h }
    drill: { every: 90d }
`;
  async function run(args: string[], env: Record<string, string> = {}) {
    const out = new Capture();
    const err = new Capture();
    const code = await runCli(args, { out, err }, {
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'test-secret', CHECKSTACK_PROD_DATABASE_URL: db.checkstackUrl, LOG_LEVEL: 'error', KUBERNETES_TOKEN: 'k8s-token', DATABASE_URL: botDb.url, ...env },
      readFile: () => yaml(),
    });
    printed.push(out.text, err.text);
    return { code, out: out.text, err: err.text };
  }

  it('exits 1 and says why when there is no backup yet, and records the failed drill', async () => {
    const result = await run(['drill', '--target', 'prod']);
    expect(result.err).toMatch(/no complete backup/);
    expect(result.code).toBe(1);
    expect(await drillRows()).toEqual([{ target: 'prod', dump_file: null, passed: false, tables: 0, mismatches: [], error: expect.stringMatching(/^The restore drill of target "prod" could not run: there is no complete backup in/) }]);
  });

  it('exits 2 on bad usage, and records nothing', async () => {
    const before = await drillRows();
    expect((await run(['drill', '--target'])).code).toBe(2);
    expect((await run(['drill', '--bogus'])).code).toBe(2);
    expect((await run(['drill', '--target', 'nowhere'])).code).toBe(2);
    expect(await drillRows()).toEqual(before);
  });

  it('--json prints a passing drill of the newest backup', async () => {
    expect((await run(['backup', '--target', 'prod'])).code).toBe(0);
    const result = await run(['drill', '--target', 'prod', '--json']);
    expect(result.code).toBe(0);
    const drill = drillResultSchema.parse(JSON.parse(result.out));
    expect(drill).toMatchObject({ target: 'prod', passed: true, rowsMatch: true, started: false, instanceChecked: false, mismatches: [] });
    expect(drill.restoredInto).toMatch(new RegExp(`^${db.name}_drill_[0-9a-f]{8}$`));
    // Recorded as the bot's own drills are: what `/checkstack status` reads as the newest drill of the target.
    expect((await drillRows()).at(-1)).toEqual({ target: 'prod', dump_file: drill.backup, passed: true, tables: drill.tables, mismatches: [], error: null });
    expect(await createDrillStore(botPool).latest('prod')).toMatchObject({ dumpFile: drill.backup, passed: true, error: null });
  });

  it("keeps the drill's exit code when the bot's database cannot record it, and says so", async () => {
    const before = await drillRows();
    const result = await run(['drill', '--target', 'prod'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/checkstack_chatops' });
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^Restore drill of prod passed/);
    expect(result.err).toMatch(/^The drill could not be recorded in the bot's database, so \/checkstack status will not show it: \S/m);
    expect(await drillRows()).toEqual(before);
  });
});
