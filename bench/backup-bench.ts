// Backups of a 200 MB database: the bot's backup (counts and pg_dump in one snapshot, streamed through SHA-256 into
// its file) against `pg_dump -Fc` by hand on the same database, as a ratio of medians; and how far the bot process'
// resident size rises during the dump (streamed, never buffered: it must not grow with the dump).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pgConnectionEnv } from '../src/backup/pg-connection.js';
import { runRestoreDrill } from '../src/backup/restore-drill.js';
import { createLogger, SecretRegistry } from '../src/logger.js';
import { createBackupDatabase } from '../test/support/backup-database.js';
import { ADMIN_DATABASE_URL } from '../test/support/database.js';
import { shippedEnvironment } from './child-process.js';
import { median } from './percentile.js';
import type { Report } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TARGET_BYTES = 200 * 1024 * 1024;

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Fills the database up to `targetBytes` with rows much like health check results. */
async function fill(url: string, targetBytes: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS public.results (id bigserial PRIMARY KEY, system_id int, ok boolean, at timestamptz, message text)`);
    let size = Number((await client.query<{ n: string }>(`SELECT pg_database_size(current_database()) AS n`)).rows[0]!.n);
    const done = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM public.results`)).rows[0]!.n);
    for (let batch = Math.ceil(done / 200_000); size < targetBytes && batch < 50; batch += 1) {
      await client.query(
        `INSERT INTO public.results (system_id, ok, at, message)
         SELECT g % 97, g % 5 <> 0, now() - (g || ' seconds')::interval, md5(g::text) || ' ' || md5((g * 7)::text) || ' ' || md5((g * 13)::text)
           FROM generate_series($1::bigint, $1::bigint + 199999) g`,
        [batch * 200_000],
      );
      size = Number((await client.query<{ n: string }>(`SELECT pg_database_size(current_database()) AS n`)).rows[0]!.n);
    }
    await client.query('VACUUM ANALYZE');
    return size;
  } finally {
    await client.end();
  }
}

interface BotRun {
  durationMs: number;
  rssBefore: number;
  rssPeak: number;
  rssAfterFirst16Mb: number;
  bytes: number;
}

/** One backup by the bot's code in a process of its own, as the image runs it. */
async function botBackup(databaseUrl: string, dir: string): Promise<BotRun> {
  const child = await run(process.execPath, ['--expose-gc', join(HERE, 'backup-bench-child.js')], {
    ...(process.env as Record<string, string>),
    // The bot as the image runs it (MALLOC_ARENA_MAX, NODE_ENV).
    ...shippedEnvironment(),
    BACKUP_BENCH_INPUT: JSON.stringify({ databaseUrl, dir }),
  });
  if (child.code !== 0) throw new Error(`the bot's backup failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as BotRun;
}

export async function backupBench(report: Report, rounds = 5): Promise<void> {
  const db = await createBackupDatabase();
  const work = mkdtempSync(join(tmpdir(), 'ck-backup-bench-'));
  try {
    // A quarter of the size first: if the dump were buffered, the resident size would grow four times as much below.
    await fill(db.checkstackUrl, TARGET_BYTES / 4);
    const quarter = [await botBackup(db.checkstackUrl, join(work, 'bot')), await botBackup(db.checkstackUrl, join(work, 'bot'))];
    report.add('backup_quarter_dump_size', Math.round(quarter[0]!.bytes / 1024 / 1024), 'MB');
    report.add('backup_quarter_bot_rss_growth_max', Math.max(...quarter.map((r) => (r.rssPeak - r.rssBefore) / 1024 / 1024)), 'MB');

    const size = await fill(db.checkstackUrl, TARGET_BYTES);
    report.add('backup_database_size', Math.round(size / 1024 / 1024), 'MB');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...pgConnectionEnv(db.checkstackUrl, 'bench') };
    const byHand: number[] = [];
    const bot: number[] = [];
    const rssGrowth: number[] = [];
    const rssGrowthAfter16Mb: number[] = [];
    let dumpBytes = 0;
    for (let round = 0; round < rounds; round += 1) {
      const file = join(work, `by-hand-${round}.dump`);
      const started = performance.now();
      const hand = await run('pg_dump', ['-Fc', '-f', file], env);
      if (hand.code !== 0) throw new Error(`pg_dump by hand failed: ${hand.stderr}`);
      byHand.push(performance.now() - started);
      rmSync(file, { force: true });

      const result = await botBackup(db.checkstackUrl, join(work, 'bot'));
      bot.push(result.durationMs);
      rssGrowth.push((result.rssPeak - result.rssBefore) / 1024 / 1024);
      rssGrowthAfter16Mb.push((result.rssPeak - result.rssAfterFirst16Mb) / 1024 / 1024);
      dumpBytes = result.bytes;
    }
    report.add('backup_dump_size', Math.round(dumpBytes / 1024 / 1024), 'MB');
    report.add('backup_pg_dump_by_hand_median', Math.round(median(byHand)), 'ms');
    report.add('backup_bot_median', Math.round(median(bot)), 'ms');
    report.add('backup_vs_pg_dump_ratio', median(bot) / median(byHand), 'x');
    report.add('backup_bot_rss_growth_max', Math.max(...rssGrowth), 'MB');
    report.add('backup_bot_rss_growth_after_first_16mb_max', Math.max(...rssGrowthAfter16Mb), 'MB');
    report.note('backup_rounds', { byHandMs: byHand, botMs: bot, rssGrowthMb: rssGrowth, rssGrowthAfter16MbMb: rssGrowthAfter16Mb });
    // A dedicated role needs CREATEDB for drills (README); the drill and the restore by hand both create a database.
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER ROLE ${db.role} CREATEDB`).finally(() => admin.end());
    await drillBench(report, db.checkstackUrl, join(work, 'bot'), env);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  }
}

/**
 * The drill of the newest dump (checksum, restore into a throwaway database, every table counted and compared, the
 * database dropped) against `createdb` + `pg_restore` + `dropdb` by hand on the same dump, as a ratio of medians.
 */
async function drillBench(report: Report, databaseUrl: string, dir: string, env: Record<string, string>, rounds = 3): Promise<void> {
  const logger = createLogger({ level: 'warn', format: 'json', secrets: new SecretRegistry(), destination: process.stderr });
  const dump = readdirSync(join(dir, 'bench')).filter((f) => f.endsWith('.dump')).sort().pop();
  if (!dump) throw new Error('drill bench: no dump of the backup bench to restore');
  const file = join(dir, 'bench', dump);
  const byHand: number[] = [];
  const bot: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const scratch = `bench_restore_by_hand_${round}`;
    const admin = { ...env, PGDATABASE: 'postgres' };
    const started = performance.now();
    for (const [cmd, args] of [['createdb', [scratch]], ['pg_restore', ['--exit-on-error', '--no-owner', '--dbname', scratch, file]], ['dropdb', [scratch]]] as const) {
      const out = await run(cmd, [...args], admin);
      if (out.code !== 0) throw new Error(`${cmd} by hand failed: ${out.stderr}`);
    }
    byHand.push(performance.now() - started);

    const drillStarted = performance.now();
    const result = await runRestoreDrill({ target: 'bench', databaseUrl, dir }, { logger, now: () => new Date() });
    if (!result.passed) throw new Error(`drill bench: the drill failed: ${JSON.stringify(result.failure ?? result.mismatches)}`);
    bot.push(performance.now() - drillStarted);
  }
  report.add('drill_pg_restore_by_hand_median', Math.round(median(byHand)), 'ms');
  report.add('drill_bot_median', Math.round(median(bot)), 'ms');
  report.add('drill_restore_ratio', median(bot) / median(byHand), 'x');
  report.note('drill_rounds', { byHandMs: byHand, botMs: bot });
}
