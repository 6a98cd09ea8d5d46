// The composition root: builds the dependencies, wires handlers and jobs, starts HTTP or Socket Mode and the
// workers, and takes it all down in order on SIGTERM/SIGINT.
import type { Server } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver } from '@slack/bolt';
import { WebClientEvent } from '@slack/web-api';
import { Worker } from 'bullmq';
import { checkstackCommand } from '../handlers/checkstack-command.js';
import { helpCommand } from '../handlers/help-command.js';
import { releasesCommand } from '../handlers/releases-command.js';
import { subscribeCommand, unsubscribeCommand } from '../handlers/subscription-commands.js';
import { clickRouter } from '../handlers/block-action.js';
import { cancelAction, cancelScheduledAction, confirmAction, startAction } from '../handlers/checklist-actions.js';
import { cancelCommand, historyCommand, statusCommand } from '../handlers/target-commands.js';
import { planUpgradeAction, upgradeCommand } from '../handlers/upgrade-command.js';
import { rollbackAction, rollbackCommand } from '../handlers/rollback.js';
import { stopLogWatchAction } from '../handlers/log-watch-actions.js';
import { backupCommand } from '../handlers/backup-command.js';
import { drillCommand } from '../handlers/drill-command.js';
import { promotionOverrideAction } from '../handlers/promotion-actions.js';
import { pinVersionAction } from '../handlers/adoption-actions.js';
import { createPromotionStore } from './db/promotion-store.js';
import { createPromotionGate } from './upgrades/promotion-gate.js';
import { createScheduledUpgrades } from './upgrades/scheduled-upgrades.js';
import { scheduledUpgradeJobsProcessor } from '../jobs/scheduled-upgrade-jobs.js';
import { CANCEL_SCHEDULED_ACTION } from './slack/promotion-words.js';
import { cancelAutoUpgradeAction, resumeCommand } from '../handlers/auto-upgrade-handlers.js';
import { autoUpgradeJobsProcessor } from '../jobs/auto-upgrade-jobs.js';
import { createAutoUpgradeStore } from './db/auto-upgrade-store.js';
import { AUTO_UPGRADE_ACTOR, createAutoUpgrades } from './upgrades/auto-upgrades.js';
import { AUTO_UPGRADE_CANCEL_ACTION } from './slack/auto-upgrade-words.js';
import { doctorCommand } from '../handlers/doctor-command.js';
import { runDoctor } from './doctor/run-doctor.js';
import { backupJobsProcessor } from '../jobs/backup-jobs.js';
import { drillJobsProcessor, scheduleDrills } from '../jobs/drill-jobs.js';
import { createBackupService } from './backup/backup-service.js';
import { newestBackup } from './backup/catalog.js';
import { createDrillService } from './backup/drill-service.js';
import { createDrillStore } from './db/drill-store.js';
import { logWatchProcessor } from '../jobs/log-watch.js';
import { abandonGivenUpUpgrades, upgradeJobsProcessor } from '../jobs/upgrade-jobs.js';
import { releaseJobsProcessor, scheduleReleasePolls } from '../jobs/release-jobs.js';
import { housekeepingJobsProcessor, scheduleHousekeeping } from '../jobs/housekeeping-jobs.js';
import { createHousekeeping } from './upgrades/housekeeping.js';
import { loadConfig, type Config } from './config.js';
import { runMigrations } from './db/migrate.js';
import { createDeps, type Deps, type DepsOverrides } from './deps.js';
import { githubWebhookRoute } from './http/github-webhook-route.js';
import { checkReadiness } from './http/readiness.js';
import { QUEUE } from './queue.js';
import { createAnnouncer } from './releases/announcer.js';
import { ACTION_IDS, LINK_BUTTON_ACTIONS } from './slack/action-ids.js';
import { createUpgradeRequests, inspectTarget, threadPermalink } from './upgrades/upgrade-requests.js';
import { createGithubPinRecord } from './pin/pin-record-github.js';
import { createTargetStatus } from './upgrades/target-status.js';
import { createAdoption } from './upgrades/adoption.js';
import { createThreadReporter } from './slack/thread-reporter.js';
import { createAnnouncementPoster } from './slack/announcement-poster.js';
import { createAutoUpgradePoster } from './slack/auto-upgrade-poster.js';
import { createBackupPoster } from './slack/backup-poster.js';
import { createChecklistPoster } from './slack/checklist-poster.js';
import { createScheduledUpgradePoster } from './slack/scheduled-upgrade-poster.js';
import { createFollowUps } from './upgrades/follow-ups.js';
import { createPinRecorder } from './pin/pin-recorder.js';
import { createUpgradeRunner } from './upgrades/upgrade-runner.js';
import { createReleaseIngest } from './releases/ingest.js';
import { closeServer, createHttpServer, listen, sendJson, type RouteHandler } from './http/server.js';
import { slackLogger } from './slack/bolt-logger.js';
import { appHomeOpened } from '../handlers/app-home-opened.js';
import { homePlanUpgradeAction } from '../handlers/home-actions.js';
import { appHomeJobsProcessor } from '../jobs/app-home-jobs.js';
import { createAppHomeStore } from './db/app-home-store.js';
import { createHomePublisher } from './slack/home-publisher.js';
import { createHomeFacts } from './upgrades/home-facts.js';
import { createHomeRefresh } from './upgrades/home-refresh.js';

export interface RunningBot {
  deps: Deps;
  port: number;
  url: string;
  /** Stops taking requests, lets job steps reach a checkpoint, closes Redis and Postgres. */
  stop(): Promise<void>;
  /** What a stop in progress waits for (`job workers`, `postgres pool: 1 client checked out`, …); null otherwise. */
  stoppingAt(): string | null;
}

export interface StartOptions {
  overrides?: DepsOverrides;
  /** Host to bind; tests bind loopback only. */
  host?: string;
  /** Skip the BullMQ workers (a bot replica that only serves Slack). */
  workers?: boolean;
  /** Leave upgrade and rollback jobs in the queue for another replica (tests of the request flow use it). */
  upgradeWorker?: boolean;
}

export async function startBot(config: Config, options: StartOptions = {}): Promise<RunningBot> {
  const shutdown = new AbortController();
  const deps = createDeps(config, options.overrides, shutdown);
  const { logger } = deps;
  for (const warning of config.warnings) logger.warn({ warning }, 'configuration warning');

  await runMigrations(config.databaseUrl, logger);
  await deps.db.subscriptions.seedFromConfig(config.announce.channels);

  const boltLogger = slackLogger(logger, 'bolt');
  const socketMode = config.slack.appToken !== null;
  const receiver = socketMode
    ? new SocketModeReceiver({
        appToken: config.slack.appToken!,
        logger: boltLogger,
        // apps.connections.open goes through the bot's Slack transport, the WebSocket through the proxy's dispatcher:
        // both honour HTTPS_PROXY/NO_PROXY like every other Slack call.
        ...(deps.proxyDispatcher ? { dispatcher: deps.proxyDispatcher } : {}),
        installerOptions: { clientOptions: { slackApiUrl: config.slack.apiUrl, fetch: deps.slackTransport.fetch } },
      })
    : new HTTPReceiver({
        signingSecret: config.slack.signingSecret!,
        endpoints: '/slack/events',
        logger: boltLogger,
        processBeforeResponse: false,
        // Bolt answers 500 when a signed payload lacks what it reads itself (a block_actions without a user):
        // that is a bad request, not the bot's failure.
        processEventErrorHandler: async ({ error, response }) => {
          logger.warn({ err: error }, 'slack payload could not be processed');
          if (!response.headersSent) {
            response.writeHead(400);
            response.end();
          }
          return false;
        },
      });
  const app = new App({
    token: config.slack.botToken,
    receiver,
    logger: boltLogger,
    clientOptions: { slackApiUrl: config.slack.apiUrl, fetch: deps.slackTransport.fetch },
    // No listener reads context.conversation: without the store Bolt skips a lookup on every request.
    convoStore: false,
  });
  app.error(async (err) => {
    logger.error({ err }, 'unhandled error in a Slack listener');
  });
  const services = createServices(deps);
  registerSlackHandlers(app, deps, services);

  const workers: Worker[] = options.workers === false ? [] : await startWorkers(deps, services, { upgrades: options.upgradeWorker !== false });

  const server: Server = createHttpServer({
    slackListener: socketMode ? undefined : (receiver as InstanceType<typeof HTTPReceiver>).requestListener,
    routes: operationalRoutes(deps),
    onError: (err, req) => logger.error({ err, path: req.url }, 'http route failed'),
  });
  const port = await listen(server, config.http.port, options.host);
  if (socketMode) await app.start();
  logger.info({ port, mode: socketMode ? 'socket' : 'http' }, 'checkstack-chatops started');

  let stopping: Promise<void> | null = null;
  // What the stop waits for, so that a stop that hangs can say where.
  let phase: (() => string) | null = null;
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down');
      shutdown.abort();
      phase = () => 'the HTTP server';
      await closeServer(server);
      if (socketMode) await app.stop().catch((err: unknown) => logger.warn({ err }, 'socket mode stop failed'));
      phase = () => 'job workers (a job step reaching a checkpoint)';
      await Promise.all(workers.map((w) => w.close()));
      phase = () => 'thread updates to Slack';
      await services.reporter.flush();
      phase = () => 'the queues and Redis';
      await deps.queues.close();
      await deps.redis.quit().catch(() => deps.redis.disconnect());
      phase = () => `the postgres pool: ${deps.pool.totalCount - deps.pool.idleCount} client(s) checked out`;
      await deps.pool.end();
      deps.slackTransport.close();
      phase = null;
      logger.info('shut down cleanly');
      logger.flush?.();
    })();
    return stopping;
  };
  return { deps, port, url: `http://${options.host ?? '127.0.0.1'}:${port}`, stop, stoppingAt: () => phase?.() ?? null };
}

/** The bot's services, each built once from the dependencies and shared by handlers and jobs. */
function createServices(deps: Deps) {
  const { config, logger } = deps;
  const ingest = createReleaseIngest({
    releases: deps.db.releases,
    state: deps.db.state,
    changelogs: deps.github.changelogs,
    queues: deps.queues,
    logger: logger.child({ component: 'release-ingest' }),
  });
  const announcer = createAnnouncer({
    releases: deps.db.releases,
    subscriptions: deps.db.subscriptions,
    announcements: deps.db.announcements,
    poster: createAnnouncementPoster(deps.slack),
    logger: logger.child({ component: 'announcer' }),
    announcePrereleases: config.announce.prereleases,
    planUpgradeButton: config.targets.some((t) => t.default),
    // Bound late: the automatic upgrades are built below, and announcements only run once workers start.
    outlook: (release) => autoUpgrades.outlook(release),
    now: () => deps.clock.now(),
  });
  const backups = createBackupService({
    targets: deps.targets,
    logger: logger.child({ component: 'backups' }),
    now: () => deps.clock.now(),
    pool: deps.pool,
    countBackup: (target, result) => deps.metrics.backups.inc({ target, result }),
  });
  const drills = createDrillService({ targets: deps.targets, logger: logger.child({ component: 'drills' }), now: () => deps.clock.now(), pool: deps.pool, countDrill: (target, result) => deps.metrics.drills.inc({ target, result }) });
  const drillStore = createDrillStore(deps.pool);
  const promotion = createPromotionGate({ store: createPromotionStore(deps.pool), targets: deps.targets, approvers: deps.approvers, now: () => deps.clock.now() });
  const scheduled = createScheduledUpgrades({
    upgrades: deps.db.upgrades,
    queues: deps.queues,
    poster: createScheduledUpgradePoster(deps.slack),
    approvers: deps.approvers,
    targets: deps.targets,
    promotion,
    currentVersion: async (target) => (await inspectTarget(deps.targets.resolve(target), logger)).current,
    refreshMessage: (id) => upgradeRequests.refreshMessage(id),
    logger: logger.child({ component: 'scheduled-upgrades' }),
    now: () => deps.clock.now(),
    requireSecondPerson: config.approvers.requireSecondPerson,
  });
  const pins = createPinRecorder({ github: createGithubPinRecord({ octokit: deps.octokit, logger: logger.child({ component: 'pin-record' }) }), now: () => deps.clock.now(), sleep: abortableSleep });
  const adoption = createAdoption({
    onPinned: (target) => home.refresh.afterChange({ target }),
    targets: deps.targets,
    registry: deps.registry,
    pins,
    approvers: deps.approvers,
    upgrades: deps.db.upgrades,
    logger: logger.child({ component: 'adoption' }),
    now: () => deps.clock.now(),
  });
  const upgradeRequests = createUpgradeRequests({
    // Every change of a request's checklist (planned, confirmed, started, a step, its end) refreshes the Home tab.
    onChange: (upgradeId) => home.refresh.afterChange({ upgradeId }),
    upgrades: deps.db.upgrades,
    releases: deps.db.releases,
    releaseSource: deps.github.releaseSource,
    ingest,
    targets: deps.targets,
    approvers: deps.approvers,
    checklists: createChecklistPoster(deps.slack),
    queues: deps.queues,
    pool: deps.pool,
    logger: logger.child({ component: 'upgrade-requests' }),
    now: () => deps.clock.now(),
    requestTtlMs: config.upgrades.requestTtlHours * 3600_000,
    requireSecondPerson: config.approvers.requireSecondPerson,
    backups,
    promotion,
    scheduling: scheduled,
    adoption,
  });
  const targetStatus = createTargetStatus({
    upgrades: deps.db.upgrades,
    releases: deps.db.releases,
    targets: deps.targets,
    logger: logger.child({ component: 'target-status' }),
    now: () => deps.clock.now(),
    backups,
    drills: { latest: (target) => drillStore.latest(target), everyMs: (target) => config.targets.find((t) => t.name === target)?.drill?.every ?? null },
    promotion,
    adoption,
  });
  const reporter = createThreadReporter({
    client: deps.slack,
    logger: logger.child({ component: 'thread-reporter' }),
    minUpdateIntervalMs: 2_000,
    scrub: (text) => deps.secrets.scrub(text),
  });
  const followUps = createFollowUps({
    upgrades: deps.db.upgrades,
    targets: deps.targets,
    queues: deps.queues,
    reporter,
    logger: logger.child({ component: 'follow-ups' }),
    scheduleRetention: (upgrade, seconds) => housekeeping.scheduleRetention(upgrade, seconds),
  });
  const home = {
    refresh: createHomeRefresh({ store: createAppHomeStore(deps.pool), queue: deps.queues.appHome, logger: logger.child({ component: 'app-home' }), now: () => deps.clock.now() }),
    facts: createHomeFacts({
      targets: () => deps.targets.names(),
      statusOf: (target) => targetStatus.status(target),
      linkOf: threadPermalink,
      approvers: () => deps.approvers.approvers(),
      logger: logger.child({ component: 'app-home' }),
      now: () => deps.clock.now(),
    }),
    publisher: createHomePublisher({ slack: deps.slack, logger: logger.child({ component: 'app-home' }) }),
  };
  const runner = createUpgradeRunner({
    upgrades: deps.db.upgrades,
    targets: deps.targets,
    approvers: deps.approvers,
    pins,
    reporter,
    refreshMessage: (id) => upgradeRequests.refreshMessage(id),
    scheduleFollowUps: (upgrade, readyAt) => followUps.schedule(upgrade, readyAt),
    autoRollback: (upgrade, reason) => upgradeRequests.autoRollback(upgrade, reason),
    logger: logger.child({ component: 'upgrade-runner' }),
    now: () => deps.clock.now(),
    sleep: abortableSleep,
    requireSecondPerson: config.approvers.requireSecondPerson,
    metrics: deps.metrics,
    backups,
    audit: (entry) => deps.audit.record(entry),
  });
  const autoUpgrades = createAutoUpgrades({
    store: createAutoUpgradeStore(deps.pool, AUTO_UPGRADE_ACTOR),
    upgrades: deps.db.upgrades,
    releases: deps.db.releases,
    targets: deps.targets,
    approvers: deps.approvers,
    poster: createAutoUpgradePoster(deps.slack),
    queues: deps.queues,
    audit: deps.audit,
    pool: deps.pool,
    logger: logger.child({ component: 'auto-upgrades' }),
    now: () => deps.clock.now(),
    requestTtlMs: config.upgrades.requestTtlHours * 3600_000,
    noticeChannel: async (target) => config.targets.find((t) => t.name === target)?.channel ?? config.announce.channels[0] ?? (await deps.db.subscriptions.activeChannels())[0] ?? null,
    refreshMessage: (id) => upgradeRequests.refreshMessage(id),
    metrics: deps.metrics,
  });
  deps.slack.on(WebClientEvent.RATE_LIMITED, () => deps.metrics.slackRetries.inc({ reason: 'rate_limited' }));
  const housekeeping = createHousekeeping({
    upgrades: deps.db.upgrades,
    targets: deps.targets,
    queues: deps.queues,
    reporter,
    logger: logger.child({ component: 'housekeeping' }),
    expireIfDue: (upgrade) => upgradeRequests.expireIfDue(upgrade),
    refreshMessage: (id) => upgradeRequests.refreshMessage(id),
    settleStrandedRollbacks: () => runner.settleStrandedRollbacks(),
    sweepScheduled: () => scheduled.sweep(),
  });
  return { ingest, announcer, upgradeRequests, reporter, runner, backups, drills, drillStore, scheduled, autoUpgrades, housekeeping, home, targetStatus, adoption };
}

/** A timer that ends early (rejecting) when the signal aborts: long waits stop at shutdown. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type Services = ReturnType<typeof createServices>;

function registerSlackHandlers(app: InstanceType<typeof App>, deps: Deps, { upgradeRequests, targetStatus, adoption, backups, drills, autoUpgrades, home }: Services): void {
  // Stamps when Bolt hands a verified request to the listeners, for the acknowledgement latency metric.
  app.use(async ({ context, next }) => {
    context.receivedAt = performance.now();
    await next();
  });
  app.command(
    '/checkstack',
    checkstackCommand(deps, {
      help: helpCommand(),
      subscribe: subscribeCommand(deps.db.subscriptions),
      unsubscribe: unsubscribeCommand(deps.db.subscriptions),
      releases: releasesCommand(deps.db.releases, deps.config.announce.prereleases),
      upgrade: upgradeCommand(upgradeRequests),
      status: statusCommand(targetStatus, autoUpgrades),
      cancel: cancelCommand(upgradeRequests),
      history: historyCommand(targetStatus),
      rollback: rollbackCommand(upgradeRequests),
      backup: backupCommand({ backups, approvers: deps.approvers, queues: deps.queues }),
      drill: drillCommand({ drills, approvers: deps.approvers, queues: deps.queues }),
      resume: resumeCommand(autoUpgrades),
      doctor: doctorCommand({
        approvers: deps.approvers,
        runDoctor: () =>
          runDoctor({
            config: deps.config,
            slack: deps.slack,
            octokit: deps.octokit,
            pool: deps.pool,
            redis: deps.redis,
            targets: deps.targets,
            secrets: deps.secrets,
            announceChannels: async () => [...new Set([...deps.config.announce.channels, ...(await deps.db.subscriptions.activeChannels())])],
            kubeConfig: async () => (await import('./targets/kube-config.js')).loadKubeConfig({ kubeconfigPath: deps.config.kubeconfigPath }),
          }),
      }),
    }),
  );
  const clicks = clickRouter(deps, [
    { actionId: { prefix: ACTION_IDS.confirmPrefix }, action: 'confirm', handler: confirmAction(upgradeRequests) },
    { actionId: ACTION_IDS.start, action: 'start', handler: startAction(upgradeRequests) },
    { actionId: ACTION_IDS.cancel, action: 'cancel', handler: cancelAction(upgradeRequests) },
    { actionId: ACTION_IDS.rollback, action: 'rollback', handler: rollbackAction(upgradeRequests) },
    { actionId: ACTION_IDS.stopLogWatch, action: 'stop_log_watch', handler: stopLogWatchAction(deps) },
    { actionId: ACTION_IDS.planUpgrade, action: 'plan_upgrade', handler: planUpgradeAction(upgradeRequests) },
    { actionId: ACTION_IDS.promotionOverride, action: 'promotion_override', handler: promotionOverrideAction(upgradeRequests) },
    { actionId: ACTION_IDS.pinVersion, action: 'pin_version', handler: pinVersionAction(adoption) },
    { actionId: CANCEL_SCHEDULED_ACTION, action: 'cancel', handler: cancelScheduledAction(upgradeRequests) },
    { actionId: AUTO_UPGRADE_CANCEL_ACTION, action: 'auto_upgrade_cancel', handler: cancelAutoUpgradeAction(autoUpgrades) },
  ], LINK_BUTTON_ACTIONS, {
    // The Home tab's buttons (src/slack/app-home.ts).
    routes: [
      { actionId: ACTION_IDS.homePlanUpgrade, action: 'home_plan_upgrade', handler: homePlanUpgradeAction(upgradeRequests) },
      { actionId: ACTION_IDS.pinVersion, action: 'pin_version', handler: pinVersionAction(adoption) },
    ],
    channelFor: async (target) => deps.config.targets.find((t) => t.name === target)?.channel ?? deps.config.announce.channels[0] ?? (await deps.db.subscriptions.activeChannels())[0] ?? null,
    afterClick: (userId) => home.refresh.publishFor(userId),
  });
  app.action(clicks.actionIds, clicks.listener);
  app.event('app_home_opened', appHomeOpened({ refresh: home.refresh, logger: deps.logger.child({ component: 'app-home' }) }));
}

async function startWorkers(deps: Deps, { ingest, announcer, upgradeRequests, reporter, runner, backups, drills, drillStore, scheduled, autoUpgrades, housekeeping, home }: Services, run: { upgrades: boolean }): Promise<Worker[]> {
  const { config, logger } = deps;
  const backupPoster = createBackupPoster(deps.slack);
  const releaseWorker = new Worker(
    QUEUE.releases,
    releaseJobsProcessor({
      source: deps.github.releaseSource,
      etags: deps.github.releaseEtags,
      ingest,
      announcer,
      state: deps.db.state,
      queues: deps.queues,
      logger: logger.child({ component: 'release-jobs' }),
      now: () => deps.clock.now(),
      countPoll: (outcome) => deps.metrics.releasePolls.inc({ outcome }),
      afterReleases: (event) => autoUpgrades.decideAll(event),
    }),
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 1 },
  );
  releaseWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'release job failed'));
  const upgradeWorker = new Worker(
    QUEUE.upgrades,
    upgradeJobsProcessor({
      runner,
      upgrades: deps.db.upgrades,
      targets: deps.targets,
      reporter,
      pool: deps.pool,
      logger: logger.child({ component: 'upgrade-jobs' }),
      shutdownSignal: deps.shutdownSignal,
      onEnded: (upgradeId) => autoUpgrades.upgradeEnded(upgradeId),
      retention: (upgradeId) => housekeeping.retention(upgradeId),
    }),
    // Several targets at once; the per-target lock keeps one job per target.
    {
      connection: deps.redis,
      prefix: config.queuePrefix,
      concurrency: Math.max(1, deps.targets.names().length),
      autorun: run.upgrades,
      lockDuration: config.jobs.lockSeconds * 1000,
      stalledInterval: config.jobs.stalledCheckSeconds * 1000,
      // Steps are resumable and idempotent, so a job whose worker died is worth resuming more than once.
      maxStalledCount: 3,
    },
  );
  const abandon = abandonGivenUpUpgrades(runner, logger);
  upgradeWorker.on('failed', (job, err) => {
    logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'upgrade job failed');
    abandon(job, err);
  });
  const logWatchWorker = new Worker(
    QUEUE.logWatch,
    logWatchProcessor({
      upgrades: deps.db.upgrades,
      targets: deps.targets,
      reporter,
      logger: logger.child({ component: 'log-watch' }),
      now: () => deps.clock.now(),
      shutdownSignal: deps.shutdownSignal,
      whoStopped: (upgradeId) => deps.audit.lastActor(upgradeId, 'stop_log_watch'),
      scrub: (text) => deps.secrets.scrub(text),
    }),
    // Watches mostly wait on log streams: many can run at once.
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 20 },
  );
  const backupWorker = new Worker(
    QUEUE.backups,
    backupJobsProcessor({
      backups,
      poster: backupPoster,
      logger: logger.child({ component: 'backup-jobs' }),
      shutdownSignal: deps.shutdownSignal,
      onBackupTaken: (target) => upgradeRequests.refreshActive(target),
    }),
    // One backup per target at a time is the service's advisory lock; a few targets may dump at once.
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 2, lockDuration: config.jobs.lockSeconds * 1000, stalledInterval: config.jobs.stalledCheckSeconds * 1000 },
  );
  backupWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'backup job failed'));
  const scheduledWorker = new Worker(
    QUEUE.scheduledUpgrades,
    scheduledUpgradeJobsProcessor({ scheduled, logger: logger.child({ component: 'scheduled-upgrade-jobs' }) }),
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 2, lockDuration: config.jobs.lockSeconds * 1000, stalledInterval: config.jobs.stalledCheckSeconds * 1000 },
  );
  scheduledWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'scheduled upgrade job failed'));
  const autoUpgradeWorker = new Worker(
    QUEUE.autoUpgrades,
    autoUpgradeJobsProcessor({ autoUpgrades }),
    // Decisions are short and serialised per target by an advisory lock.
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 4, lockDuration: config.jobs.lockSeconds * 1000, stalledInterval: config.jobs.stalledCheckSeconds * 1000 },
  );
  autoUpgradeWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'automatic upgrade job failed'));
  // What a drill killed with the bot left (a database, a container) goes before anything else can drill.
  void drills
    .sweepLeftovers()
    .catch((err: unknown) => logger.warn({ err }, 'could not sweep the leftovers of interrupted drills'));
  const drillWorker = new Worker(
    QUEUE.drills,
    drillJobsProcessor({
      drills,
      store: drillStore,
      poster: backupPoster,
      logger: logger.child({ component: 'drill-jobs' }),
      now: () => deps.clock.now(),
      shutdownSignal: deps.shutdownSignal,
      channelFor: async (target) => config.targets.find((t) => t.name === target)?.channel ?? config.announce.channels[0] ?? (await deps.db.subscriptions.activeChannels())[0] ?? null,
    }),
    // One drill per target at a time is the service's advisory lock; drills restore a whole database, so one at a time here.
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 1, lockDuration: config.jobs.lockSeconds * 1000, stalledInterval: config.jobs.stalledCheckSeconds * 1000 },
  );
  drillWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'drill job failed'));
  await scheduleDrills(deps.queues, config.targets.map((t) => ({ name: t.name, every: t.drill?.every ?? null })), async (target) => (await drillStore.latest(target))?.finishedAt ?? null, deps.clock.now());
  const housekeepingWorker = new Worker(
    QUEUE.housekeeping,
    housekeepingJobsProcessor(housekeeping),
    // A sweep a minute and the odd retention: one at a time.
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 1, lockDuration: config.jobs.lockSeconds * 1000, stalledInterval: config.jobs.stalledCheckSeconds * 1000 },
  );
  housekeepingWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err }, 'housekeeping job failed'));
  const appHomeWorker = new Worker(
    QUEUE.appHome,
    appHomeJobsProcessor({ facts: home.facts, publisher: home.publisher, refresh: home.refresh, logger: logger.child({ component: 'app-home-jobs' }) }),
    // One at a time, so one user's publishes go out in order; the limiter, shared by every replica through Redis,
    // keeps views.publish under Slack's Tier 4 (100+ a minute) with room for a retry.
    { connection: deps.redis, prefix: config.queuePrefix, concurrency: 1, limiter: { max: 90, duration: 60_000 } },
  );
  appHomeWorker.on('failed', (job, err) => logger.warn({ job: job?.name, jobId: job?.id, err }, 'home tab job failed'));
  for (const worker of [releaseWorker, upgradeWorker, backupWorker, drillWorker, scheduledWorker, autoUpgradeWorker, housekeepingWorker, appHomeWorker]) {
    worker.on('active', (job) => {
      if (job.processedOn && job.timestamp) deps.metrics.jobWait.observe({ queue: worker.name }, Math.max(0, job.processedOn - job.timestamp - (job.delay ?? 0)) / 1000);
    });
  }
  await scheduleReleasePolls(deps.queues, config.github.pollIntervalSeconds);
  await scheduleHousekeeping(deps.queues);
  // One poll right away; replicas starting in the same minute share it.
  await deps.queues.releases.add('poll', { reason: 'startup' }, { jobId: `startup-poll-${Math.floor(Date.now() / 60_000)}` });
  return [releaseWorker, upgradeWorker, logWatchWorker, backupWorker, drillWorker, scheduledWorker, autoUpgradeWorker, housekeepingWorker, appHomeWorker];
}

function operationalRoutes(deps: Deps): Record<string, RouteHandler> {
  const { config } = deps;
  const webhook: Record<string, RouteHandler> = config.github.webhookSecret
    ? {
        'POST /github/webhook': githubWebhookRoute({
          secret: config.github.webhookSecret,
          repository: `${config.github.repo.owner}/${config.github.repo.name}`,
          queues: deps.queues,
          logger: deps.logger.child({ component: 'github-webhook' }),
        }),
      }
    : {};
  return {
    ...webhook,
    'GET /healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
    'GET /readyz': async (_req, res) => {
      const report = await checkReadiness(deps.pool, deps.redis);
      sendJson(res, report.ready ? 200 : 503, report);
    },
    'GET /metrics': async (_req, res) => {
      await Promise.all([recordQueueDepth(deps), recordBackupAge(deps)]);
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
    },
  };
}

/** The age of each target's newest backup, for alerts on backups that stopped (read from the files at scrape time). */
async function recordBackupAge(deps: Deps): Promise<void> {
  deps.metrics.backupAge.reset();
  for (const target of deps.config.targets) {
    if (!target.backup) continue;
    try {
      const newest = await newestBackup(target.backup.dir, target.name);
      if (newest) deps.metrics.backupAge.set({ target: target.name }, Math.max(0, deps.clock.now().getTime() - Date.parse(newest.record.finishedAt)) / 1000);
    } catch (err) {
      deps.logger.warn({ err, target: target.name }, 'backup age unavailable for metrics');
    }
  }
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

async function recordQueueDepth(deps: Deps): Promise<void> {
  for (const queue of [deps.queues.releases, deps.queues.upgrades, deps.queues.logWatch, deps.queues.backups, deps.queues.scheduledUpgrades, deps.queues.autoUpgrades, deps.queues.drills, deps.queues.housekeeping, deps.queues.appHome]) {
    try {
      const counts = await queue.raw.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) deps.metrics.queueDepth.set({ queue: queue.raw.name, state }, counts[state] ?? 0);
    } catch (err) {
      deps.logger.warn({ err, queue: queue.raw.name }, 'queue depth unavailable for metrics');
    }
  }
}

/** `checkstack-chatops start`: load the config, start, and stop cleanly on SIGTERM/SIGINT. */
export async function runMain(): Promise<void> {
  const config = loadConfig();
  const bot = await startBot(config);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      bot.deps.logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    const timer = setTimeout(() => {
      bot.deps.logger.error({ timeoutSeconds: config.shutdownTimeoutSeconds, waitingFor: bot.stoppingAt() }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    timer.unref();
    bot.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        bot.deps.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
