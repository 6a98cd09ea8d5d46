// The only reader of the environment and of the YAML config file: Zod-parsed, frozen, every problem named.
import { existsSync, readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { z } from 'zod';
import { autoUpgradeSchema } from './domain/auto-upgrade.js';
import { backupConfigSchema, drillConfigSchema } from './domain/backup.js';
import { promotionChainProblems, promotionSchema } from './domain/promotion.js';
import type { ProxyConfig } from './domain/proxy-route.js';

export const DEFAULT_CONFIG_FILE = './checkstack-chatops.yml';
export const DEFAULT_IMAGE = 'ghcr.io/enyineer/checkstack';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const positiveInt = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').positive('must be positive');

const proxyUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) proxy URL such as http://proxy.example:3128' }).optional();

const envSchema = z.object({
  SLACK_BOT_TOKEN: z.string({ error: 'is required (the bot token, xoxb-…)' }).min(1, 'is required (the bot token, xoxb-…)'),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'must be an app-level token starting with xapp-').optional(),
  SLACK_API_URL: z.url().default('https://slack.com/api/'),
  PORT: z.coerce.number({ error: 'must be a port number' }).int('must be a port number').min(0, 'must be a port number').max(65535, 'must be a port number').default(3000),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://postgres@127.0.0.1:5432/checkstack_chatops'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _.:- only').default('checkstack-chatops'),
  GITHUB_API_URL: z.url().default('https://api.github.com'),
  GITHUB_TOKEN: z.string().min(1).optional(),
  GITHUB_WEBHOOK_SECRET: z.string().min(1).optional(),
  CHECKSTACK_REPO: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name').default('enyineer/checkstack'),
  RELEASE_POLL_INTERVAL: positiveInt.default(300),
  CONFIG_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  // Outbound proxy as curl and Node operators set it; the lowercase name wins when both are set.
  https_proxy: proxyUrl,
  HTTPS_PROXY: proxyUrl,
  http_proxy: proxyUrl,
  HTTP_PROXY: proxyUrl,
  no_proxy: z.string().optional(),
  NO_PROXY: z.string().optional(),
  SHUTDOWN_TIMEOUT: positiveInt.default(25),
  KUBECONFIG: z.string().min(1).optional(),
  CHECKSTACK_REGISTRY_URL: z.url().optional(),
  REGISTRY_MAX_REQUESTS: positiveInt.default(40),
  JOB_LOCK_SECONDS: positiveInt.default(30),
  JOB_STALLED_CHECK_SECONDS: positiveInt.default(30),
});

const slackId = (what: string) => z.string().regex(/^[A-Z0-9]{2,32}$/, `must be a Slack ${what} id such as U0123ABCD`);
const targetName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'letters, digits, - and _ only (at most 63)');

const dockerSchema = z
  .object({
    host: z.string().regex(/^(unix|tcp|http|https|npipe):\/\//, 'must be unix://…, tcp://… or http(s)://…').default('unix:///var/run/docker.sock'),
    container: z.string().min(1).optional(),
    composeProject: z.string().min(1).optional(),
    composeService: z.string().min(1).optional(),
    stopTimeout: positiveInt.default(30),
  })
  .strict()
  .refine((d) => Boolean(d.container) !== Boolean(d.composeProject && d.composeService), {
    message: 'set either `container` or both `composeProject` and `composeService`',
  });

const kubernetesSchema = z
  .object({
    namespace: z.string().min(1),
    deployment: z.string().min(1),
    container: z.string().min(1),
    encryptionKeySecret: z.string().min(1).optional(),
  })
  .strict();

const pinSchema = z
  .object({
    github: z
      .object({
        repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name'),
        path: z.string().min(1),
        branch: z.string().min(1).default('main'),
        mode: z.enum(['commit', 'pull-request']).default('commit'),
        mergeTimeout: positiveInt.default(3600),
      })
      .strict()
      .optional(),
    file: z.string().min(1).optional(),
  })
  .strict()
  .refine((p) => Boolean(p.github) !== Boolean(p.file), { message: 'set exactly one of `github` or `file`' });

const postflightSchema = z
  .object({
    readyTimeout: positiveInt.default(300),
    logWatch: positiveInt.default(3600),
    autoRollback: z.boolean().default(false),
    healthcheckMaxWait: positiveInt.default(900),
    retention: positiveInt.default(86_400),
  })
  .strict();

const targetSchema = z
  .object({
    name: targetName,
    default: z.boolean().default(false),
    baseUrl: z.url(),
    apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name').optional(),
    image: z.string().regex(/^[a-z0-9][\w./:-]*$/, 'must be an image repository without a tag').refine((s) => !/:[^/]*$/.test(s.replace(/^[^/]+:\d+\//, '')), 'must not include a tag: the tag is the version').default(DEFAULT_IMAGE),
    docker: dockerSchema.optional(),
    kubernetes: kubernetesSchema.optional(),
    pin: pinSchema.optional(),
    postflight: postflightSchema.default(() => postflightSchema.parse({})),
    promotion: promotionSchema.optional(),
    autoUpgrade: autoUpgradeSchema.optional(),
    /** Where the bot posts about this target by itself (automatic upgrade notices); default: the first announce channel. */
    channel: slackId('channel').optional(),
    backup: backupConfigSchema.optional(),
    drill: drillConfigSchema.optional(),
  })
  .strict()
  .refine((t) => Boolean(t.docker) !== Boolean(t.kubernetes), { message: 'set exactly one of `docker` or `kubernetes`' })
  .refine((t) => !t.drill || Boolean(t.backup), { message: '`drill` restores the backups of `backup`: configure `backup` too', path: ['drill'] });

const fileSchema = z
  .object({
    announce: z
      .object({
        channels: z.array(slackId('channel')).default([]),
        prereleases: z.boolean().default(false),
      })
      .strict()
      .default({ channels: [], prereleases: false }),
    approvers: z
      .object({
        users: z.array(slackId('user')).default([]),
        usergroup: slackId('user group').optional(),
        requireSecondPerson: z.boolean().default(true),
      })
      .strict()
      .default({ users: [], requireSecondPerson: true }),
    upgrades: z
      .object({ requestTtlHours: positiveInt.default(24) })
      .strict()
      .default({ requestTtlHours: 24 }),
    targets: z
      .array(targetSchema)
      .default([])
      .superRefine((targets, ctx) => {
        const seen = new Set<string>();
        targets.forEach((t, i) => {
          if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate target name "${t.name}"` });
          seen.add(t.name);
        });
        if (targets.filter((t) => t.default).length > 1) ctx.addIssue({ code: 'custom', message: 'at most one target may be `default: true`' });
        for (const p of promotionChainProblems(targets)) ctx.addIssue({ code: 'custom', path: [p.index, 'promotion', 'from'], message: p.message });
      }),
  })
  .strict();

type FileConfig = z.infer<typeof fileSchema>;
type RawTarget = z.infer<typeof targetSchema>;

export interface TargetConfig extends Omit<RawTarget, 'apiKeyEnv'> {
  apiKeyEnv: string | null;
  /** The API key's value, read from `apiKeyEnv`; never printed. */
  apiKey: string | null;
  /** Checkstack's database URL, read from `backup.databaseUrlEnv`; never printed, logged or stored. */
  backupDatabaseUrl: string | null;
}

export type { ProxyConfig };

export interface Config {
  slack: { botToken: string; signingSecret: string | null; appToken: string | null; apiUrl: string };
  http: { port: number };
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  github: {
    apiUrl: string;
    token: string | null;
    webhookSecret: string | null;
    repo: { owner: string; name: string };
    pollIntervalSeconds: number;
  };
  log: { level: (typeof LOG_LEVELS)[number]; format: 'json' | 'pretty' | null };
  /** The outbound proxy for Slack, GitHub and Checkstack calls (HTTPS_PROXY, HTTP_PROXY, NO_PROXY); all null: none. */
  proxy: ProxyConfig;
  shutdownTimeoutSeconds: number;
  /** How fast a job whose worker died is noticed and resumed (BullMQ lock and stalled check). */
  jobs: { lockSeconds: number; stalledCheckSeconds: number };
  /** A kubeconfig file for Kubernetes targets; in-cluster service-account auth when null. */
  kubeconfigPath: string | null;
  /** Where the running image's digest is matched to a version tag; `baseUrl` null derives it from the image. */
  registry: { baseUrl: string | null; maxRequests: number };
  configFile: string | null;
  announce: FileConfig['announce'];
  approvers: { users: string[]; usergroup: string | null; requireSecondPerson: boolean };
  upgrades: { requestTtlHours: number };
  targets: TargetConfig[];
  /** Warnings that do not stop start-up (an API key variable that is unset, …). */
  warnings: string[];
}

export interface ConfigProblem {
  /** `SLACK_BOT_TOKEN`, or a path in the file such as `targets[0].docker.container`. */
  key: string;
  message: string;
  /** The config file and line, when the problem is in the file. */
  location?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map(formatProblem).join('\n')}`);
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `  - ${p.key}: ${p.message}${p.location ? ` (${p.location})` : ''}`;
}

export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  readFile?: (path: string) => string | null;
}

function readFileIfExists(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

/** Loads and validates everything; throws ConfigError listing every problem at once. */
export function loadConfig({ env = process.env, readFile = readFileIfExists }: ConfigSources = {}): Config {
  const problems: ConfigProblem[] = [];
  const envResult = envSchema.safeParse(env);
  if (!envResult.success) {
    for (const issue of envResult.error.issues) problems.push({ key: issue.path.join('.') || 'environment', message: issue.message });
  }

  const configFile = env.CONFIG_FILE ?? DEFAULT_CONFIG_FILE;
  const fileText = readFile(configFile);
  if (fileText === null && env.CONFIG_FILE) {
    problems.push({ key: 'CONFIG_FILE', message: `file not found: ${configFile}` });
  }
  const fileConfig = fileText === null ? fileSchema.parse({}) : parseConfigFile(fileText, configFile, env, problems);

  if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) {
    problems.push({ key: 'SLACK_SIGNING_SECRET', message: 'is required in HTTP mode (set it, or set SLACK_APP_TOKEN for Socket Mode)' });
  }
  if (!envResult.success || !fileConfig || problems.length > 0) throw new ConfigError(problems);
  const e = envResult.data;

  const warnings: string[] = [];
  const targets = fileConfig.targets.map((t, i, all): TargetConfig => {
    const apiKey = t.apiKeyEnv ? env[t.apiKeyEnv] || null : null;
    if (t.apiKeyEnv && !apiKey) warnings.push(`targets[${i}].apiKeyEnv: ${t.apiKeyEnv} is not set; post-flight checks that need the API key will be skipped`);
    const backupDatabaseUrl = t.backup ? env[t.backup.databaseUrlEnv] || null : null;
    if (t.backup && !backupDatabaseUrl) warnings.push(`targets[${i}].backup.databaseUrlEnv: ${t.backup.databaseUrlEnv} is not set; backups of ${t.name} will fail until it is`);
    return { ...t, default: t.default || all.length === 1, apiKeyEnv: t.apiKeyEnv ?? null, apiKey, backupDatabaseUrl };
  });
  const [owner = '', name = ''] = e.CHECKSTACK_REPO.split('/');

  return deepFreeze({
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET ?? null,
      appToken: e.SLACK_APP_TOKEN ?? null,
      apiUrl: e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/`,
    },
    http: { port: e.PORT },
    proxy: {
      httpsProxy: e.https_proxy ?? e.HTTPS_PROXY ?? null,
      httpProxy: e.http_proxy ?? e.HTTP_PROXY ?? null,
      noProxy: e.no_proxy ?? e.NO_PROXY ?? null,
    },
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    github: {
      apiUrl: e.GITHUB_API_URL.replace(/\/+$/, ''),
      token: e.GITHUB_TOKEN ?? null,
      webhookSecret: e.GITHUB_WEBHOOK_SECRET ?? null,
      repo: { owner, name },
      pollIntervalSeconds: e.RELEASE_POLL_INTERVAL,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? null },
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT,
    kubeconfigPath: e.KUBECONFIG ?? null,
    registry: { baseUrl: e.CHECKSTACK_REGISTRY_URL ?? null, maxRequests: e.REGISTRY_MAX_REQUESTS },
    jobs: { lockSeconds: e.JOB_LOCK_SECONDS, stalledCheckSeconds: e.JOB_STALLED_CHECK_SECONDS },
    configFile: fileText === null ? null : configFile,
    announce: fileConfig.announce,
    approvers: {
      users: fileConfig.approvers.users,
      usergroup: fileConfig.approvers.usergroup ?? null,
      requireSecondPerson: fileConfig.approvers.requireSecondPerson,
    },
    upgrades: fileConfig.upgrades,
    targets,
    warnings,
  });
}

/** Parses YAML, substitutes `${VAR}`, validates; pushes problems with file lines and returns null on any. */
function parseConfigFile(text: string, file: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): FileConfig | null {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`);
  const before = problems.length;

  for (const err of doc.errors) {
    problems.push({ key: 'config file', message: `malformed YAML: ${err.message.split('\n')[0]}`, location: lineOf(err.pos[0]) });
  }
  if (problems.length > before) return null;

  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
        const value = env[name];
        if (value === undefined) {
          problems.push({ key: yamlPath(path, node), message: `\${${name}} is not set in the environment`, location: lineOf(node.range?.[0]) });
          return '';
        }
        return value;
      });
    },
  });
  if (problems.length > before) return null;

  const result = fileSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const extra of keys) {
      const path = extra === undefined ? issue.path : [...issue.path, extra];
      const message = extra === undefined ? issue.message : `unknown field "${extra}"`;
      problems.push({ key: formatPath(path), message, location: lineOf(nodeOffset(doc, path)) });
    }
  }
  return null;
}

function nodeOffset(doc: Document, path: PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const parentPath = path.slice(0, depth - 1);
    const last = path[depth - 1];
    const parent = depth === 0 ? doc.contents : doc.getIn(parentPath as unknown[], true);
    if (depth > 0 && isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      if (pair && isScalar(pair.key)) return pair.key.range?.[0];
    }
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return node.range[0];
  }
  return undefined;
}

function yamlPath(ancestors: readonly unknown[], node: unknown): string {
  const keys: PropertyKey[] = [];
  ancestors.forEach((item, i) => {
    const child = ancestors[i + 1] ?? node;
    if (isPair(item) && isScalar(item.key)) keys.push(String(item.key.value));
    else if (isSeq(item)) keys.push((item.items as readonly unknown[]).indexOf(child));
  });
  return formatPath(keys);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '') || 'config file';
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Every secret value in the configuration, for the logger to redact wherever it appears. */
export function secretValues(config: Config): string[] {
  return [
    config.slack.botToken,
    config.slack.signingSecret,
    config.slack.appToken,
    config.github.token,
    config.github.webhookSecret,
    ...config.targets.map((t) => t.apiKey),
    // The URL whole, and its password decoded and as written in the URL.
    ...config.targets.flatMap((t) => (t.backupDatabaseUrl ? [t.backupDatabaseUrl, passwordOf(t.backupDatabaseUrl), rawPasswordOf(t.backupDatabaseUrl)] : [])),
    passwordOf(config.databaseUrl),
    passwordOf(config.redisUrl),
    ...[config.proxy.httpsProxy, config.proxy.httpProxy].flatMap((url) => (url ? [passwordOf(url), rawPasswordOf(url)] : [])),
  ].filter((s): s is string => typeof s === 'string' && s.length >= 4);
}

function rawPasswordOf(url: string): string | null {
  try {
    return new URL(url).password || null;
  } catch {
    return null;
  }
}

function passwordOf(url: string): string | null {
  try {
    return decodeURIComponent(new URL(url).password) || null;
  } catch {
    return null;
  }
}

/** What `check-config` prints: what is configured, never a secret. */
export function describeConfig(config: Config): string {
  const lines = [
    `Slack: ${config.slack.appToken ? 'Socket Mode' : `HTTP mode on port ${config.http.port}`}, API ${config.slack.apiUrl}`,
    `Releases: ${config.github.repo.owner}/${config.github.repo.name} via ${config.github.apiUrl}, polled every ${config.github.pollIntervalSeconds}s${config.github.token ? ', authenticated' : ', anonymous'}${config.github.webhookSecret ? ', webhook enabled' : ''}`,
    `Database: ${redactUrl(config.databaseUrl)}; Redis: ${redactUrl(config.redisUrl)} (queue prefix ${config.queuePrefix})`,
    `Config file: ${config.configFile ?? '(none)'}`,
    `Announcement channels: ${config.announce.channels.join(', ') || '(none; use /checkstack subscribe)'}${config.announce.prereleases ? ' (prereleases too)' : ''}`,
    `Approvers: ${[...config.approvers.users, ...(config.approvers.usergroup ? [`group ${config.approvers.usergroup}`] : [])].join(', ') || '(none: nobody can approve an upgrade)'}; second person ${config.approvers.requireSecondPerson ? 'required' : 'not required'}`,
    `Targets (${config.targets.length}):`,
    ...config.targets.map((t) => {
      const platform = t.docker
        ? `docker ${t.docker.container ?? `${t.docker.composeProject}/${t.docker.composeService}`} on ${t.docker.host}`
        : `kubernetes ${t.kubernetes?.namespace}/${t.kubernetes?.deployment}`;
      const pin = t.pin?.github ? `, pinned in ${t.pin.github.repo}:${t.pin.github.path} (${t.pin.github.mode})` : t.pin?.file ? `, pinned in ${t.pin.file}` : '';
      const key = t.apiKeyEnv ? `, API key from ${t.apiKeyEnv} (${t.apiKey ? 'set' : 'NOT SET'})` : ', no API key';
      const backup = t.backup ? `, backups in ${t.backup.dir}/${t.name} (keep ${t.backup.keep}) of the database in ${t.backup.databaseUrlEnv} (${t.backupDatabaseUrl ? 'set' : 'NOT SET'})` : '';
      return `  - ${t.name}${t.default ? ' (default)' : ''}: ${t.baseUrl}, ${t.image}, ${platform}${pin}${key}${backup}`;
    }),
    ...config.warnings.map((w) => `Warning: ${w}`),
  ];
  return lines.join('\n');
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
