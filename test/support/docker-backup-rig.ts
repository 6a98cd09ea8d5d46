// What the Docker suites of backups during upgrades share: a fake Checkstack container on the real engine (images of
// the given versions, reached through the Docker allowlist proxy), fake GitHub and Slack, the bot's database, a
// Checkstack-like database behind target `prod`, and the bot in its own process. Call it inside the suite's describe;
// its afterAll stops the bot, then checks that the database's password and URL are nowhere the bot writes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import type { GithubRelease } from '../../src/domain/release-types.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';
import { createBackupDatabase, type BackupDatabase } from './backup-database.js';
import { botProcessEnv, QUICK_STALL_DETECTION, startBotProcess, type BotProcess } from './bot-process.js';
import { createTestDatabase, randomQueuePrefix, REDIS_URL, type TestDatabase } from './database.js';
import { useDockerAllowlistProxy } from './docker-allowlist-proxy.js';
import { buildFakeCheckstackImage, createCheckstackContainer, freePort, registryFromEnv, removeContainers, removeVolumes, uniqueSuffix } from './docker-images.js';
import { dumpDatabase, dumpRedisKeys, findSecrets } from './secret-scan.js';
import { createSlackDriver, type SlackDriver } from './slack-driver.js';
import { BOT_TOKEN, deleteQueueKeys } from './test-bot.js';
import { upgradeFlow } from './upgrade-flow.js';

export interface DockerBackupRigOptions {
  engine: Dockerode;
  /** Names the repository, the container (`ck-NAME-…`) and the work folder. */
  name: string;
  /** The fake Checkstack images built; the container starts on the first. */
  versions: string[];
  releases: () => GithubRelease[];
  requester: string;
  approver: string;
  channel: string;
  /** More of the bot's environment (read at each start). */
  botEnv?: () => Record<string, string>;
}

export interface DockerBackupRig {
  readonly container: string;
  readonly image: string;
  /** A temporary folder of the suite's own, removed at the end. */
  readonly work: string;
  /** The backup folder of target `prod`. */
  readonly dir: string;
  readonly port: number;
  readonly slack: FakeSlack;
  readonly database: TestDatabase;
  readonly checkstackDb: BackupDatabase;
  /** A pool on the bot's own database. */
  readonly pool: pg.Pool;
  readonly bot: BotProcess;
  /** Starts the bot (again, after a kill), keeping the logs of the one before. */
  startBot(): Promise<void>;
  driver(): SlackDriver;
  flow(): ReturnType<typeof upgradeFlow>;
}

export function useDockerBackupRig(options: DockerBackupRigOptions): DockerBackupRig {
  const { engine } = options;
  const dockerProxy = useDockerAllowlistProxy();
  const registry = registryFromEnv();
  const suffix = uniqueSuffix();
  const repository = `ck-${options.name}-${suffix}`;
  const image = `${registry}/${repository}`;
  const container = `ck-${options.name}-${suffix}`;
  const queuePrefix = randomQueuePrefix();
  const work = mkdtempSync(join(tmpdir(), `ck-${options.name}-`));
  const dir = join(work, 'backups');
  let port = 0;
  let github: FakeGithub | undefined;
  let slack: FakeSlack | undefined;
  let database: TestDatabase | undefined;
  let checkstackDb: BackupDatabase | undefined;
  let pool: pg.Pool | undefined;
  let bot: BotProcess | undefined;
  const earlierLogs: string[] = [];
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not set up: use the rig inside its suite, after its beforeAll`);
    return value;
  };

  const configYaml = () => `approvers:
  users: [${options.requester}, ${options.approver}]
targets:
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:${port}
    image: ${image}
    docker: { host: "${dockerProxy.host}", container: ${container}, stopTimeout: 5 }
    postflight: { readyTimeout: 60, logWatch: 5, healthcheckMaxWait: 5, retention: 3600 }
    backup: { databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL, dir: ${dir}, keep: 10, maxAge: 24h }
`;

  beforeAll(async () => {
    for (const version of options.versions) await buildFakeCheckstackImage(engine, { registry, repository, version, behaviour: 'ready' });
    port = await freePort();
    await createCheckstackContainer(engine, { name: container, image: `${image}:${options.versions[0]}`, port, restartPolicy: 'unless-stopped' });
    github = await startFakeGithub({ releases: options.releases() });
    slack = await startFakeSlack({ botToken: BOT_TOKEN });
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    checkstackDb = await createBackupDatabase();
  }, 240_000);

  afterAll(async () => {
    if (bot) {
      await bot.kill('SIGKILL');
      earlierLogs.push(...bot.logs);
    }
    // The password of Checkstack's database, and its URL: nowhere the bot writes.
    if (slack && database && checkstackDb) {
      const sources: Array<[string, string]> = [
        ['bot logs', earlierLogs.join('\n')],
        ...slack.calls().map((c, i) => [`slack call ${i} ${c.method}`, JSON.stringify(c)] as [string, string]),
        ...[...(await dumpDatabase(database.url)).tables].map(([name, rows]) => [`table ${name}`, rows] as [string, string]),
        ...[...(await dumpRedisKeys(REDIS_URL, queuePrefix))].map(([key, value]) => [`redis ${key}`, value] as [string, string]),
      ];
      expect(findSecrets({ password: checkstackDb.password, url: checkstackDb.checkstackUrl }, sources)).toEqual([]);
    }
    await pool?.end();
    await slack?.close();
    await github?.close();
    await database?.drop();
    await checkstackDb?.drop();
    await deleteQueueKeys(queuePrefix);
    const all = await engine.listContainers({ all: true, filters: { name: [container] } });
    await removeContainers(engine, all.map((c) => c.Names[0]!.replace(/^\//, '')));
    await removeVolumes(engine, [`${container}-data`]);
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  const rig: DockerBackupRig = {
    container,
    image,
    work,
    dir,
    get port() {
      return port;
    },
    get slack() {
      return ready(slack, 'fake Slack');
    },
    get database() {
      return ready(database, "the bot's database");
    },
    get checkstackDb() {
      return ready(checkstackDb, "Checkstack's database");
    },
    get pool() {
      return ready(pool, 'the pool');
    },
    get bot() {
      return ready(bot, 'the bot');
    },
    async startBot() {
      if (bot) earlierLogs.push(...bot.logs);
      const github_ = ready(github, 'fake GitHub');
      bot = await startBotProcess({
        env: {
          ...botProcessEnv({ slackApiUrl: rig.slack.apiUrl, githubUrl: github_.url, databaseUrl: rig.database.url, redisUrl: REDIS_URL, queuePrefix }),
          ...QUICK_STALL_DETECTION,
          CHECKSTACK_PROD_DATABASE_URL: rig.checkstackDb.checkstackUrl,
          ...options.botEnv?.(),
        },
        configYaml: configYaml(),
      });
    },
    driver: () => createSlackDriver({ botUrl: rig.bot.url, signingSecret: 'test-signing-secret-8f3a2c', fakeSlack: rig.slack }),
    flow: () => upgradeFlow({ slack: rig.slack, channel: options.channel, requester: options.requester, approver: options.approver }),
  };
  return rig;
}
