// The clients the CLI's `doctor` needs, built from the config alone (the bot's own deps are not running): no retries
// anywhere, so a service that is down is reported at once instead of after minutes of backoff.
import { Octokit } from '@octokit/rest';
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { secretValues } from '../config.js';
import { createSubscriptionStore } from '../db/release-store.js';
import { createPool } from '../db/pool.js';
import { createTargets } from '../deps.js';
import { createProxyFetch } from '../http/proxy-fetch.js';
import { createLogger, SecretRegistry } from '../logger.js';
import { slackLogger } from '../slack/bolt-logger.js';
import { createSlackTransport } from '../slack/slack-transport.js';
import type { DoctorDeps } from './run-doctor.js';

export function createDoctorDeps(config: Config, destination: NodeJS.WritableStream = process.stderr): DoctorDeps & { close(): Promise<void> } {
  const secrets = new SecretRegistry();
  secrets.register(...secretValues(config));
  // Logs go to stderr so that `--json` output on stdout stays parseable; the findings say what went wrong.
  const logger = createLogger({ level: 'error', format: 'json', secrets, destination });
  const pool = createPool(config.databaseUrl, logger);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5_000, enableOfflineQueue: true, lazyConnect: false, retryStrategy: () => null });
  redis.on('error', () => undefined); // reported by the probe
  // Through the operator's proxy, as the bot's own clients go.
  const slackTransport = createSlackTransport({ proxy: config.proxy });
  const outboundFetch = createProxyFetch(config.proxy);
  const slack = new WebClient(config.slack.botToken, { slackApiUrl: config.slack.apiUrl, fetch: slackTransport.fetch, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, logger: slackLogger(logger, 'slack-web-api') });
  const octokit = new Octokit({
    baseUrl: config.github.apiUrl,
    ...(config.github.token ? { auth: config.github.token } : {}),
    userAgent: 'checkstack-chatops',
    request: { timeout: 15_000, ...(outboundFetch === globalThis.fetch ? {} : { fetch: outboundFetch }) },
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  const subscriptions = createSubscriptionStore(pool);
  return {
    config,
    slack,
    octokit,
    pool,
    redis,
    targets: createTargets(config, logger, secrets, outboundFetch),
    secrets,
    announceChannels: async () => [...new Set([...config.announce.channels, ...(await subscriptions.activeChannels())])],
    kubeConfig: async () => (await import('../targets/kube-config.js')).loadKubeConfig({ kubeconfigPath: config.kubeconfigPath }),
    async close() {
      redis.disconnect();
      slackTransport.close();
      await pool.end().catch(() => undefined);
    },
  };
}
