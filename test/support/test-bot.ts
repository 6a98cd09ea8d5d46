// Starts the real bot (src/main.ts) against a fresh database, a random BullMQ prefix, and a fake Slack, all on loopback.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { startBot, type RunningBot, type StartOptions } from '../../src/main.js';
import { createTargetRegistry, dockerDeployerFactory, type DeployerFactory } from '../../src/targets/registry.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from '../fakes/fake-slack.js';
import { createSlackDriver, type SlackDriver } from './slack-driver.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from './database.js';

export const SIGNING_SECRET = 'test-signing-secret-8f3a2c';
export const BOT_TOKEN = 'xoxb-test-bot-token-5d1e';

/** Captures every log line the bot writes, as parsed JSON objects and raw text. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  entries(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface TestBotOptions {
  env?: Record<string, string>;
  configYaml?: string;
  slack?: FakeSlackOptions;
  start?: Omit<StartOptions, 'overrides'>;
  /** Reuse an existing database or fake Slack (e.g. a second replica). */
  database?: TestDatabase;
  fakeSlack?: FakeSlack;
  queuePrefix?: string;
  /** Deployers per platform for the configured targets (default: the real Docker deployer). */
  deployers?: { docker?: DeployerFactory; kubernetes?: DeployerFactory };
  /**
   * Where the bot's JSON log lines go instead of the in-memory `logs` capture (which then stays empty). Benches pass
   * a stream that writes and retains nothing, as production's stdout does, so a long run does not pile up lines.
   */
  logDestination?: DestinationStream;
}

export interface TestBot {
  bot: RunningBot;
  config: Config;
  slack: FakeSlack;
  driver: SlackDriver;
  database: TestDatabase;
  logs: LogCapture;
  queuePrefix: string;
  /** Stops the bot; drops the database and fake Slack unless they were passed in. */
  close(): Promise<void>;
}

export function testConfig(env: Record<string, string>, configYaml?: string): Config {
  return loadConfig({ env, readFile: () => configYaml ?? null });
}

export async function startTestBot(options: TestBotOptions = {}): Promise<TestBot> {
  const database = options.database ?? (await createTestDatabase());
  const slack = options.fakeSlack ?? (await startFakeSlack({ botToken: BOT_TOKEN, ...options.slack }));
  const queuePrefix = options.queuePrefix ?? randomQueuePrefix();
  const config = testConfig(
    {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      PORT: '0',
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: queuePrefix,
      GITHUB_API_URL: 'http://127.0.0.1:9/',
      LOG_LEVEL: 'debug',
      ...options.env,
    },
    options.configYaml,
  );
  const logs = new LogCapture();
  const secrets = new SecretRegistry();
  const logger = createLogger({ level: config.log.level, format: 'json', secrets, destination: options.logDestination ?? logs });
  const targets = options.deployers
    ? createTargetRegistry(config.targets, { docker: options.deployers.docker ?? dockerDeployerFactory((value) => secrets.register(value)), ...(options.deployers.kubernetes ? { kubernetes: options.deployers.kubernetes } : {}) }, logger)
    : undefined;
  const bot = await startBot(config, { host: '127.0.0.1', ...options.start, overrides: { logger, secrets, ...(targets ? { targets } : {}) } });
  const driver = createSlackDriver({ botUrl: bot.url, signingSecret: SIGNING_SECRET, fakeSlack: slack });
  return {
    bot,
    config,
    slack,
    driver,
    database,
    logs,
    queuePrefix,
    async close() {
      // A stop that hangs ends as a hook timeout that says nothing: this says what the bot still waits for.
      const slowStop = setInterval(() => process.stderr.write(`test-bot: the bot is still stopping, waiting for ${bot.stoppingAt() ?? 'nothing'}\n`), 15_000);
      try {
        await bot.stop();
      } finally {
        clearInterval(slowStop);
      }
      if (!options.fakeSlack) await slack.close();
      if (!options.database) await database.drop();
      if (!options.queuePrefix) await deleteQueueKeys(queuePrefix);
    },
  };
}

/** Removes every Redis key of a test's BullMQ prefix. */
export async function deleteQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
