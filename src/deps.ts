// Builds every client the bot uses from the config; tests pass overrides instead of patching modules.
import { Octokit } from '@octokit/rest';
import webApi, { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import { secretValues } from './config.js';
import { createAuditLog, type AuditLog } from './db/audit-log.js';
import { createDrillStore } from './db/drill-store.js';
import {
  createAnnouncementStore,
  createBotState,
  createReleaseStore,
  createStagedEtagStore,
  createSubscriptionStore,
  type AnnouncementStore,
  type BotState,
  type ReleaseStore,
  type StagedEtagStore,
  type SubscriptionStore,
} from './db/release-store.js';
import { createPackageChangelogReader, type PackageChangelogReader } from './github/package-changelog.js';
import { createReleaseSource, type ReleaseSource } from './github/release-source.js';
import { createUpgradeStore, type UpgradeStore } from './db/upgrade-store.js';
import { createApproverResolver, type ApproverResolver } from './slack/approvers.js';
import { createTargetRegistry, dockerDeployerFactory, kubernetesDeployerFactory, type TargetRegistry } from './targets/registry.js';
import { createPool, type Pool } from './db/pool.js';
import { createLogger, SecretRegistry, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createQueues, type Queues } from './queue.js';
import { slackLogger } from './slack/bolt-logger.js';
import type { Dispatcher } from 'undici';
import { createProxyDispatcher, createProxyFetch } from './http/proxy-fetch.js';
import { createRegistryClient, type RegistryClient } from './registry/oci-registry.js';
import { createSlackTransport, type SlackTransport } from './slack/slack-transport.js';

/**
 * Octokit logs every answer that is not 2xx as an error, `GET /repos/… - 304 with id … in 3ms` included. A 304 is how
 * an unchanged poll ends; other statuses become errors the caller logs with what they mean. Only warnings stay.
 */
function octokitLog(logger: Logger) {
  return {
    debug: (message: string) => logger.debug({ octokit: message }, 'github request'),
    info: (message: string) => logger.debug({ octokit: message }, 'github request'),
    warn: (message: string) => logger.warn({ octokit: message }, 'github warning'),
    error: (message: string) => logger.debug({ octokit: message }, 'github request failed'),
  };
}

/** Each request of a registry lookup; a lookup makes at most `REGISTRY_MAX_REQUESTS` of them. */
const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

export interface Clock {
  now(): Date;
}

export interface Deps {
  config: Config;
  logger: Logger;
  secrets: SecretRegistry;
  clock: Clock;
  pool: Pool;
  redis: Redis;
  queues: Queues;
  /** Carries every Slack HTTP call: the WebClient's and Bolt's (`respond()`). */
  slackTransport: SlackTransport;
  /** Undici's route through the operator's proxy (NO_PROXY honoured), for Socket Mode's WebSocket; null without a proxy. */
  proxyDispatcher: Dispatcher | null;
  slack: WebClient;
  octokit: Octokit;
  audit: AuditLog;
  db: { releases: ReleaseStore; state: BotState; subscriptions: SubscriptionStore; announcements: AnnouncementStore; upgrades: UpgradeStore };
  targets: TargetRegistry;
  approvers: ApproverResolver;
  github: { releaseSource: ReleaseSource; releaseEtags: StagedEtagStore; changelogs: PackageChangelogReader };
  metrics: Metrics;
  /** The OCI registry of the targets' images: which version tag a running digest is (adopting `latest`). */
  registry: RegistryClient;
  /** Aborted when the process starts shutting down: long job steps stop at their next checkpoint. */
  shutdownSignal: AbortSignal;
}

export type DepsOverrides = Partial<Omit<Deps, 'config'>>;

export function createRedis(url: string, logger: Logger): Redis {
  // BullMQ requires maxRetriesPerRequest: null; commands wait for a reconnect instead of failing.
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: 'checkstack-chatops' });
  redis.on('error', (err) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  return redis;
}

/** The configured targets with their deployers and Checkstack clients (also used alone by the CLI). */
export function createTargets(config: Config, logger: Logger, secrets?: SecretRegistry, fetch = createProxyFetch(config.proxy)): TargetRegistry {
  const registerSecret = secrets ? (value: string) => secrets.register(value) : undefined;
  return createTargetRegistry(
    config.targets,
    { docker: dockerDeployerFactory(registerSecret), kubernetes: kubernetesDeployerFactory(config.kubeconfigPath, registerSecret) },
    logger,
    fetch,
  );
}

/**
 * The bot's Slack Web API client, and the one layer that retries Slack calls: a 429 pauses its queue for the
 * Retry-After seconds and sends the call again; 5xx answers and network errors are retried with backoff. Nothing
 * on top of it (the thread reporter, the runner) retries a call again.
 */
export function createSlackClient(slack: Pick<Config['slack'], 'botToken' | 'apiUrl'>, transport: SlackTransport, logger: Logger): WebClient {
  return new WebClient(slack.botToken, {
    slackApiUrl: slack.apiUrl,
    fetch: transport.fetch,
    logger: slackLogger(logger, 'slack-web-api'),
    retryConfig: webApi.retryPolicies.fiveRetriesInFiveMinutes,
    rejectRateLimitedCalls: false,
  });
}

export function createDeps(config: Config, overrides: DepsOverrides = {}, shutdown = new AbortController()): Deps {
  const secrets = overrides.secrets ?? new SecretRegistry();
  secrets.register(...secretValues(config));
  const logger = overrides.logger ?? createLogger({ level: config.log.level, format: config.log.format, secrets });
  const pool = overrides.pool ?? createPool(config.databaseUrl, logger);
  const redis = overrides.redis ?? createRedis(config.redisUrl, logger);
  const outboundFetch = createProxyFetch(config.proxy);
  const proxyDispatcher = createProxyDispatcher(config.proxy);
  const octokit =
    overrides.octokit ??
    new Octokit({
      baseUrl: config.github.apiUrl,
      ...(config.github.token ? { auth: config.github.token } : {}),
      userAgent: 'checkstack-chatops',
      request: { timeout: 15_000, ...(outboundFetch === globalThis.fetch ? {} : { fetch: outboundFetch }) },
      // Octokit logs each request to the console by default; ours go through pino at debug.
      log: octokitLog(logger.child({ component: 'octokit' })),
    });
  const state = createBotState(pool);
  const releaseEtags = createStagedEtagStore(state);
  const repo = `${config.github.repo.owner}/${config.github.repo.name}`;
  const slackTransport = overrides.slackTransport ?? createSlackTransport({ proxy: config.proxy });
  const slack = overrides.slack ?? createSlackClient(config.slack, slackTransport, logger);
  const clock = overrides.clock ?? { now: () => new Date() };
  const drillStore = createDrillStore(pool);
  return {
    config,
    logger,
    secrets,
    clock,
    pool,
    redis,
    queues: overrides.queues ?? createQueues(redis, config.queuePrefix),
    slackTransport,
    proxyDispatcher,
    slack,
    octokit,
    audit: overrides.audit ?? createAuditLog(pool),
    db: {
      releases: createReleaseStore(pool),
      state,
      subscriptions: createSubscriptionStore(pool),
      announcements: createAnnouncementStore(pool),
      upgrades: createUpgradeStore(pool),
    },
    targets: overrides.targets ?? createTargets(config, logger, secrets, outboundFetch),
    approvers:
      overrides.approvers ??
      createApproverResolver({ slack, users: config.approvers.users, usergroup: config.approvers.usergroup, logger: logger.child({ component: 'approvers' }) }),
    github: {
      releaseSource: createReleaseSource({ octokit, repo, etags: releaseEtags, logger: logger.child({ component: 'release-source' }) }),
      releaseEtags,
      changelogs: createPackageChangelogReader({ octokit, repo, logger: logger.child({ component: 'package-changelog' }) }),
    },
    metrics:
      overrides.metrics ??
      createMetrics({
        drillTargets: config.targets.filter((t) => t.backup).map((t) => t.name),
        lastDrillAt: (target) =>
          drillStore.latest(target).then(
            (drill) => drill?.finishedAt ?? null,
            (err: unknown) => {
              logger.warn({ err, target }, 'last drill age unavailable for metrics');
              return null;
            },
          ),
        now: () => clock.now(),
      }),
    registry:
      overrides.registry ??
      createRegistryClient({
        baseUrl: config.registry.baseUrl,
        maxRequests: config.registry.maxRequests,
        // One registry that stops answering must not hold a status reply for ever.
        fetch: (url, init) => outboundFetch(url, { ...init, signal: AbortSignal.timeout(REGISTRY_REQUEST_TIMEOUT_MS) }),
      }),
    shutdownSignal: overrides.shutdownSignal ?? shutdown.signal,
  };
}
