// The log watch on the real Docker engine: a fake Checkstack that logs errors and fatal lines and crashes, a real
// BullMQ worker on Redis, a real Postgres database, and the thread reporter against the fake Slack.
import { randomUUID } from 'node:crypto';
import { webApi } from '@slack/bolt';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { logWatchProcessor, type LogWatchDeps } from '../../jobs/log-watch.js';
import { stopLogWatch } from '../../src/upgrades/log-watch-control.js';
import { runMigrations } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createUpgradeStore, type UpgradeStore } from '../../src/db/upgrade-store.js';
import { QUEUE } from '../../src/queue.js';
import { createThreadReporter, type ThreadReporter } from '../../src/slack/thread-reporter.js';
import type { Deployer } from '../../src/targets/deployer.js';
import { createDockerDeployer } from '../../src/targets/docker.js';
import type { TargetRegistry, TargetRuntime } from '../../src/targets/registry.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from '../support/database.js';
import { deleteQueueKeys } from '../support/test-bot.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  fakeEncryptionKey,
  freePort,
  pollUntil,
  registryFromEnv,
  removeContainers,
  removeImages,
  removeVolumes,
  uniqueSuffix,
} from '../support/docker-images.js';

const docker = dockerFromEnv();
const CHANNEL = 'C0UPGRADES';
const STOPPER = 'U0APPROVER1';
const CRASHING = '0.141.0';
const NOISY = '0.141.1';

describe.skipIf(!docker)('log watch on the real engine', () => {
  const engine = docker!;
  const registry = registryFromEnv();
  const repository = `checkstack-logwatch-${uniqueSuffix()}`;
  const logger = pino({ level: 'silent' });
  const containers: string[] = [];
  const images: string[] = [];
  let database: TestDatabase;
  let pool: Pool;
  let upgrades: UpgradeStore;
  let slack: FakeSlack;
  let client: webApi.WebClient;
  let reporter: ThreadReporter;
  let redis: Redis;
  let prefix: string;
  let queue: Queue;
  let workers: Worker[] = [];

  beforeAll(async () => {
    images.push(await buildFakeCheckstackImage(engine, { registry, repository, version: CRASHING, behaviour: 'noisy', crashAfterSeconds: 3, push: false }));
    images.push(await buildFakeCheckstackImage(engine, { registry, repository, version: NOISY, behaviour: 'noisy', push: false }));
    database = await createTestDatabase();
    await runMigrations(database.url, logger);
    pool = createPool(database.url, logger);
    upgrades = createUpgradeStore(pool);
    slack = await startFakeSlack();
    client = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, logLevel: webApi.LogLevel.ERROR });
    reporter = createThreadReporter({ client, logger, minUpdateIntervalMs: 100 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    prefix = randomQueuePrefix();
    queue = new Queue(QUEUE.logWatch, { connection: redis, prefix });
  });

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close()));
    workers = [];
  });

  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await deleteQueueKeys(prefix);
    await pool?.end();
    await database?.drop();
    await slack?.close();
    await removeContainers(engine, containers);
    await removeVolumes(engine, containers.map((name) => `${name}-data`));
    await removeImages(engine, images);
  });

  /** The new Checkstack as the upgrade left it, with the operator's restart policy. */
  async function runContainer(version: string, key: string): Promise<{ name: string; deployer: Deployer }> {
    const name = `ck-logwatch-${uniqueSuffix()}`;
    containers.push(name);
    await createCheckstackContainer(engine, {
      name,
      image: `${registry}/${repository}:${version}`,
      port: await freePort(),
      env: [`ENCRYPTION_MASTER_KEY=${key}`],
      restartPolicy: 'on-failure',
    });
    return { name, deployer: createDockerDeployer({ docker: engine, target: { container: name }, logger }) };
  }

  /** A succeeded upgrade with its thread, as the upgrade job leaves it before enqueuing the watch. */
  async function succeededUpgrade(target: string, until: Date): Promise<{ id: string; threadTs: string }> {
    const id = randomUUID();
    const threadTs = String((await client.chat.postMessage({ channel: CHANNEL, text: `Upgrade ${target}` })).ts);
    await pool.query(
      `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, channel_id, message_ts, status, plan, items, automatic,
         expires_at, ready_at, log_watch_until, outcome, finished_at)
       VALUES ($1, 'upgrade', $2, '0.140.0', $3, 'U0REQUESTER', $4, $5, 'succeeded', '{}', '[]', '[]', now() + interval '1 day', now(), $6, 'succeeded', now())`,
      [id, target, CRASHING, CHANNEL, threadTs, until],
    );
    return { id, threadTs };
  }

  function startWorker(deployer: Deployer, shutdownSignal: AbortSignal, extra: Partial<LogWatchDeps> = {}): Worker {
    const targets: Pick<TargetRegistry, 'resolve'> = { resolve: () => ({ deployer }) as unknown as TargetRuntime };
    const processor = logWatchProcessor({
      upgrades,
      targets,
      reporter,
      logger,
      now: () => new Date(),
      shutdownSignal,
      statePollMs: 400,
      progressSaveMs: 500,
      ...extra,
    });
    const worker = new Worker(QUEUE.logWatch, processor, { connection: redis, prefix, concurrency: 1 });
    workers.push(worker);
    return worker;
  }

  async function finished(job: Job, timeoutMs: number): Promise<Record<string, unknown>> {
    return pollUntil(
      async () => {
        const state = await job.getState();
        if (state === 'failed') throw new Error(`job failed: ${(await queue.getJob(job.id!))?.failedReason}`);
        if (state !== 'completed') return undefined;
        return (await queue.getJob(job.id!))!.returnvalue as Record<string, unknown>;
      },
      timeoutMs,
      200,
    );
  }

  const texts = (threadTs: string) => slack.threadReplies(threadTs).map((m) => m.text ?? '');

  it('alerts the thread on a fatal line and on restarts, and summarises the counts when the time is up', async () => {
    const key = fakeEncryptionKey();
    const { deployer } = await runContainer(CRASHING, key);
    const start = Math.floor(Date.now() / 1000) - 2;
    const until = start + 14;
    const { id, threadTs } = await succeededUpgrade('prod', new Date(until * 1000));
    startWorker(deployer, new AbortController().signal);

    const job = await queue.add('watch', { upgradeId: id, since: start, until });
    const result = await finished(job, 40_000);

    const replies = texts(threadTs);
    const fatal = replies.filter((t) => t.startsWith('🚨'));
    expect(fatal[0]).toMatch(/FATAL: cannot decrypt plugin secrets with ENCRYPTION_MASTER_KEY=•••/);
    expect(replies.join('\n')).not.toContain(key);
    expect(replies).toContainEqual(expect.stringMatching(/^🔁 `prod` restarted \(\d+ times? since the upgrade\)/));
    const summary = replies.at(-1)!;
    const counts = result.counts as { warn: number; error: number; fatal: number };
    expect(summary).toMatch(
      new RegExp(
        `^🔎 Log watch ended after less than a minute: ${counts.warn} warnings?, ${counts.error} errors, ${counts.fatal} fatal; ` +
          `restarted ${result.restarts} times?`,
      ),
    );
    // Every run logs a start error, a FATAL and an uncaught exception, plus a tick each second; at least two runs.
    expect(result.restarts).toBeGreaterThanOrEqual(1);
    expect(counts.error).toBeGreaterThanOrEqual(4);
    expect(counts.fatal).toBeGreaterThanOrEqual(2);
    expect(counts.warn).toBeGreaterThanOrEqual(2); // `warning: this is a fake Checkstack`, once per run
  }, 60_000);

  it('ends early with a summary naming who stopped it', async () => {
    const { deployer } = await runContainer(NOISY, fakeEncryptionKey());
    const start = Math.floor(Date.now() / 1000) - 1;
    const until = start + 600;
    const { id, threadTs } = await succeededUpgrade('staging', new Date(until * 1000));
    startWorker(deployer, new AbortController().signal, { whoStopped: async () => STOPPER });
    const job = await queue.add('watch', { upgradeId: id, since: start, until });
    await pollUntil(async () => ((await queue.getJob(job.id!))?.data.counts?.error >= 2 ? true : undefined), 20_000);

    expect(await stopLogWatch(upgrades, id, () => new Date())).toBe('stopped');
    const result = await finished(job, 10_000);

    expect(result.outcome).toBe('stopped');
    // It ended because it was stopped, long before the time it was set to watch until.
    expect((await queue.getJob(job.id!))!.finishedOn!).toBeLessThan(until * 1000);
    expect(texts(threadTs).at(-1)).toMatch(
      new RegExp(`^🔎 Log watch stopped by <@${STOPPER}> after less than a minute: \\d+ warnings?, \\d+ errors, 1 fatal; no restarts$`),
    );
    expect(await stopLogWatch(upgrades, id, () => new Date())).toBe('not_running');
  }, 60_000);

  it('goes back to the queue on shutdown with its place saved, and the next run counts no line twice', async () => {
    const { name, deployer } = await runContainer(NOISY, fakeEncryptionKey());
    const start = Math.floor(Date.now() / 1000) - 1;
    const until = start + 600;
    const { id, threadTs } = await succeededUpgrade('edge', new Date(until * 1000));
    const shutdown = new AbortController();
    const first = startWorker(deployer, shutdown.signal);
    const job = await queue.add('watch', { upgradeId: id, since: start, until });
    await pollUntil(async () => ((await queue.getJob(job.id!))?.data.counts?.error >= 3 ? true : undefined), 20_000);

    shutdown.abort();
    await pollUntil(async () => ((await job.getState()) === 'delayed' ? true : undefined), 10_000);
    await first.close();
    const saved = (await queue.getJob(job.id!))!.data as { since: number; lastTimestamp: string; counts: { error: number } };
    expect(saved.since).toBeGreaterThan(start);
    expect(Date.parse(saved.lastTimestamp)).toBeGreaterThanOrEqual(saved.since * 1000);
    expect(['delayed', 'waiting']).toContain(await job.getState());

    // The container goes on logging while no bot watches (wait for two error lines the saved place has not seen);
    // then it stops, so its whole log is known.
    const errorLinesOf = async () =>
      (await engine.getContainer(name).logs({ stdout: true, stderr: true, follow: false }))
        .toString('utf8')
        .split('\n')
        .filter((line) => /error: (tick \d+|Failed to deliver)/.test(line)).length;
    await pollUntil(async () => ((await errorLinesOf()) >= saved.counts.error + 2 ? true : undefined), 20_000);
    await engine.getContainer(name).stop({ t: 1 });
    const errorLines = await errorLinesOf();
    startWorker(deployer, new AbortController().signal);
    await pollUntil(async () => {
      const data = (await queue.getJob(job.id!))?.data as { lastTimestamp?: string } | undefined;
      return data?.lastTimestamp && data.lastTimestamp !== saved.lastTimestamp ? true : undefined;
    }, 20_000);
    // Wait until the resumed run has saved a count that reaches the end of the stopped container's log, then stop it.
    await pollUntil(async () => {
      const data = (await queue.getJob(job.id!))?.data as { counts?: { error: number } } | undefined;
      return (data?.counts?.error ?? 0) >= errorLines ? true : undefined;
    }, 20_000);
    await stopLogWatch(upgrades, id, () => new Date());
    const result = await finished(job, 15_000);

    expect((result.counts as { error: number }).error).toBe(errorLines);
    expect((result.counts as { error: number }).error).toBeGreaterThan(saved.counts.error);
    const fatalAlerts = texts(threadTs).filter((t) => t.startsWith('🚨'));
    expect(fatalAlerts).toHaveLength(1);
    expect(texts(threadTs)).toContainEqual(expect.stringMatching(/^🛑 `edge` exited with code \d+/));
  }, 90_000);
});
