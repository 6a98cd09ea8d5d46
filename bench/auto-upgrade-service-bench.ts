// Automatic patch upgrades inside the bot, on the real Postgres and Redis: (1) a release poll's decisions for a fleet of
// 50 targets (25 staging/prod pairs) against 200 stored releases, with the facts read from the database, when nothing
// changed since the last poll: the time of the job and the rows it wrote (none expected); (2) what an automatic
// upgrade adds to the manual job, the notice aside: from the moment it is due to start to its upgrade job queued
// (the delayed job firing, the decision asked again with fresh facts, the record, the audit row, the queueing).
import type { Job } from 'bullmq';
import { startFakeGithub, type FakeGithub } from '../test/fakes/fake-github.js';
import { rowVersions } from '../test/support/db-writes.js';
import { fixtureRelease } from '../test/support/fixtures.js';
import { waitForQueueIdle } from '../test/support/queues.js';
import { staticDeployer } from '../test/support/static-deployer.js';
import { startTestBot, type TestBot } from '../test/support/test-bot.js';
import { changedRowVersions } from './poll-bench.js';
import { median } from './percentile.js';
import type { Report } from './report.js';

const DAY = 86_400_000;
const TABLES = ['releases', 'upgrades', 'audit_log', 'auto_upgrade_schedules', 'auto_upgrade_declines', 'auto_upgrade_resumes'];

/** 40 minor lines of 5 patches each, one a day, the newest yesterday. */
function fleetReleases(count: number) {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    ...fixtureRelease(`0.${100 + Math.floor(i / 5)}.${i % 5}`, 50_000 + i),
    published_at: new Date(now - (count - i) * DAY).toISOString(),
  }));
}

function fleetYaml(pairs: number): string {
  const lines = ['announce:', '  channels: [C0ANNOUNCE]', 'targets:'];
  for (let i = 0; i < pairs; i++) {
    const window = i % 2 === 0 ? '' : ', window: { days: [sat, sun], from: "02:00", to: "05:00", timeZone: Europe/Berlin }';
    lines.push(`  - name: staging-${i}`, '    baseUrl: http://127.0.0.1:9', `    docker: { container: staging-${i} }`, `    autoUpgrade: { patches: true, minimumReleaseAge: 72h, notice: 10m${window} }`);
    lines.push(`  - name: prod-${i}`, '    baseUrl: http://127.0.0.1:9', `    docker: { container: prod-${i} }`, `    promotion: { from: staging-${i}, soak: 24h }`, `    autoUpgrade: { patches: true, minimumReleaseAge: 72h, notice: 10m${window} }`);
  }
  return `${lines.join('\n')}\n`;
}

async function jobMs(t: TestBot, data: { target: string | null; reason: string }): Promise<number | null> {
  const queue = t.bot.deps.queues.autoUpgrades;
  const added = await queue.add('decide', data, { removeOnComplete: false });
  await waitForQueueIdle(queue, 60_000);
  const job = (added.id ? await queue.raw.getJob(added.id) : undefined) as Job | undefined;
  return job?.processedOn && job.finishedOn ? job.finishedOn - job.processedOn : null;
}

async function decideFleetBench(report: Report, polls: number): Promise<void> {
  let github: FakeGithub | null = null;
  let t: TestBot | null = null;
  try {
    const releases = fleetReleases(200);
    github = await startFakeGithub({ releases });
    // Staging runs the .0 of a recent line; its prod the same (patches wait on staging's proof).
    const running = (name: string) => `0.${100 + 5 + (Number(name.split('-')[1]) % 30)}.0`;
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', LOG_LEVEL: 'warn' },
      configYaml: fleetYaml(25),
      deployers: { docker: (target) => staticDeployer({ tag: running(target.name) }) },
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases, 120_000);
    // The first decisions after the startup poll schedule what is due: those writes are not the steady state.
    await jobMs(t, { target: null, reason: 'bench warm-up' });

    const before = await rowVersions(t.bot.deps.pool, TABLES);
    const times: number[] = [];
    for (let i = 0; i < polls; i++) {
      const ms = await jobMs(t, { target: null, reason: 'bench poll' });
      if (ms !== null) times.push(ms);
    }
    const writes = changedRowVersions(before, await rowVersions(t.bot.deps.pool, TABLES));
    const { rows } = await t.bot.deps.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM auto_upgrade_schedules`);
    report.add('auto_upgrade_fleet_targets', 50, 'count');
    report.add('auto_upgrade_fleet_releases', releases.length, 'count');
    report.add('auto_upgrade_fleet_scheduled', rows[0]?.n ?? 0, 'count');
    report.add('auto_upgrade_fleet_poll_ms', median(times), 'ms');
    report.add('auto_upgrade_fleet_poll_ms_max', Math.max(...times), 'ms');
    report.add('auto_upgrade_fleet_unchanged_db_writes', writes, 'count');
  } finally {
    await t?.close();
    await github?.close();
  }
}

async function startOverheadBench(report: Report, samples: number): Promise<void> {
  let github: FakeGithub | null = null;
  let t: TestBot | null = null;
  try {
    github = await startFakeGithub({ releases: [fixtureRelease('0.30.0', 60_000)] });
    const targets = Array.from({ length: samples }, (_, i) => `  - name: t${i}\n    baseUrl: http://127.0.0.1:9\n    docker: { container: t${i} }\n    autoUpgrade: { patches: true, minimumReleaseAge: 0s, notice: 1s }`);
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', LOG_LEVEL: 'warn' },
      configYaml: `announce:\n  channels: [C0ANNOUNCE]\ntargets:\n${targets.join('\n')}\n`,
      deployers: { docker: () => staticDeployer({ tag: '0.30.0' }) },
      start: { upgradeWorker: false },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases, 60_000);
    github.addRelease({ ...fixtureRelease('0.30.1', 60_001), published_at: new Date().toISOString() });
    await t.bot.deps.queues.releases.add('poll', { reason: 'manual' });
    const pool = t.bot.deps.pool;
    // The start each plan was due at, read once its notice is out (the row goes when the upgrade starts).
    const due = new Map<string, Date>();
    const deadline = Date.now() + 60_000;
    while (due.size < samples && Date.now() < deadline) {
      const { rows } = await pool.query<{ target: string; start_at: Date }>(`SELECT target, start_at FROM auto_upgrade_schedules WHERE notice_posted_at IS NOT NULL`);
      for (const row of rows) due.set(row.target, row.start_at);
      await new Promise((r) => setTimeout(r, 20));
    }
    let queued: Array<{ target: string; queued_at: Date }> = [];
    while (queued.length < due.size && Date.now() < deadline) {
      queued = (await pool.query<{ target: string; queued_at: Date }>(`SELECT target, queued_at FROM upgrades WHERE queued_at IS NOT NULL`)).rows;
      await new Promise((r) => setTimeout(r, 20));
    }
    const overheads = queued.flatMap((row) => (due.has(row.target) ? [row.queued_at.getTime() - due.get(row.target)!.getTime()] : []));
    report.add('auto_upgrade_start_samples', overheads.length, 'count');
    report.add('auto_upgrade_start_overhead_ms', median(overheads), 'ms');
    report.add('auto_upgrade_start_overhead_ms_max', Math.max(...overheads), 'ms');
  } finally {
    await t?.close();
    await github?.close();
  }
}

export async function autoUpgradeServiceBench(report: Report, options: { polls?: number; samples?: number } = {}): Promise<void> {
  await decideFleetBench(report, options.polls ?? 20);
  await startOverheadBench(report, options.samples ?? 5);
}
