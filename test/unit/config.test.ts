import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig, secretValues, type ConfigProblem } from '../../src/config.js';

const BASE_ENV = { SLACK_BOT_TOKEN: 'xoxb-secret-bot-token', SLACK_SIGNING_SECRET: 'signing-secret-value' };

const VALID_YAML = `# the operator's file
announce:
  channels: [C0ANNOUNCE]
approvers:
  users: [U0APPROVER1, U0APPROVER2]
  usergroup: S0OPS
targets:
  - name: prod
    baseUrl: http://127.0.0.1:8080
    apiKeyEnv: CHECKSTACK_PROD_API_KEY
    docker:
      container: checkstack
    pin:
      github: { repo: acme/infra, path: deploy/docker-compose.yml, branch: main, mode: commit }
  - name: staging
    default: true
    baseUrl: \${STAGING_URL}
    kubernetes: { namespace: checkstack, deployment: checkstack, container: checkstack }
`;

function problemsOf(env: Record<string, string>, yaml: string | null): ConfigProblem[] {
  try {
    loadConfig({ env, readFile: () => yaml });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the contract defaults when only the tokens are set', () => {
    const config = loadConfig({ env: BASE_ENV, readFile: () => null });

    expect(config.slack.apiUrl).toBe('https://slack.com/api/');
    expect(config.http.port).toBe(3000);
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/checkstack_chatops');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.github).toMatchObject({ apiUrl: 'https://api.github.com', repo: { owner: 'enyineer', name: 'checkstack' }, pollIntervalSeconds: 300 });
    expect(config.log.level).toBe('info');
    expect(config.targets).toEqual([]);
    expect(config.approvers.requireSecondPerson).toBe(true);
  });

  it('reads targets, approvers and channels, substituting ${VAR} from the environment', () => {
    const config = loadConfig({
      env: { ...BASE_ENV, STAGING_URL: 'http://127.0.0.1:8081', CHECKSTACK_PROD_API_KEY: 'ck_app_secret' },
      readFile: () => VALID_YAML,
    });

    expect(config.targets.map((t) => [t.name, t.default, t.baseUrl])).toEqual([
      ['prod', false, 'http://127.0.0.1:8080'],
      ['staging', true, 'http://127.0.0.1:8081'],
    ]);
    expect(config.targets[0]?.apiKey).toBe('ck_app_secret');
    expect(config.targets[0]?.image).toBe('ghcr.io/enyineer/checkstack');
    expect(config.targets[0]?.postflight).toMatchObject({ readyTimeout: 300, logWatch: 3600 });
    expect(config.approvers).toMatchObject({ users: ['U0APPROVER1', 'U0APPROVER2'], usergroup: 'S0OPS' });
    expect(Object.isFrozen(config.targets[0])).toBe(true);
  });

  it('names a missing bot token', () => {
    expect(problemsOf({ SLACK_SIGNING_SECRET: 'x' }, null)).toContainEqual(expect.objectContaining({ key: 'SLACK_BOT_TOKEN' }));
  });

  it('requires the signing secret in HTTP mode but not in Socket Mode', () => {
    expect(problemsOf({ SLACK_BOT_TOKEN: 'xoxb-1' }, null)).toContainEqual(expect.objectContaining({ key: 'SLACK_SIGNING_SECRET' }));
    expect(loadConfig({ env: { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1-abc' }, readFile: () => null }).slack.appToken).toBe('xapp-1-abc');
  });

  it('names an unknown target field with its file line', () => {
    const yaml = 'targets:\n  - name: prod\n    baseUrl: http://127.0.0.1:8080\n    docker: { container: checkstack }\n    readyTimeout: 30\n';
    expect(problemsOf(BASE_ENV, yaml)).toEqual([
      { key: 'targets[0].readyTimeout', message: 'unknown field "readyTimeout"', location: './checkstack-chatops.yml:5' },
    ]);
  });

  it('names the line of malformed YAML', () => {
    const problems = problemsOf(BASE_ENV, 'announce:\n  channels: [C0A\n  prereleases: false\n');
    expect(problems[0]?.message).toMatch(/malformed YAML/);
    expect(problems[0]?.location).toMatch(/checkstack-chatops\.yml:\d+$/);
  });

  it('names an unset ${VAR} with its key and line', () => {
    const yaml = 'targets:\n  - name: prod\n    baseUrl: ${PROD_URL}\n    docker: { container: checkstack }\n';
    expect(problemsOf(BASE_ENV, yaml)).toEqual([
      { key: 'targets[0].baseUrl', message: '${PROD_URL} is not set in the environment', location: './checkstack-chatops.yml:3' },
    ]);
  });

  it('reports every problem at once', () => {
    const yaml = 'approvers:\n  users: [not-a-user]\ntargets:\n  - name: prod\n    baseUrl: nope\n    docker: { container: a }\n    kubernetes: { namespace: n, deployment: d, container: c }\n';
    const problems = problemsOf({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', PORT: 'eighty' }, yaml);
    expect(problems.map((p) => p.key)).toEqual(expect.arrayContaining(['PORT', 'approvers.users[0]', 'targets[0].baseUrl', 'targets[0]']));
  });

  it('refuses duplicate target names and two defaults', () => {
    const yaml = 'targets:\n  - { name: a, default: true, baseUrl: "http://x", docker: { container: a } }\n  - { name: a, default: true, baseUrl: "http://y", docker: { container: b } }\n';
    const messages = problemsOf(BASE_ENV, yaml).map((p) => p.message);
    expect(messages).toEqual(expect.arrayContaining(['duplicate target name "a"', 'at most one target may be `default: true`']));
  });

  it('fails when CONFIG_FILE names a file that does not exist', () => {
    expect(problemsOf({ ...BASE_ENV, CONFIG_FILE: '/nowhere.yml' }, null)).toContainEqual(expect.objectContaining({ key: 'CONFIG_FILE' }));
  });
});

describe('describeConfig', () => {
  it('summarises targets, approvers and channels without a single secret', () => {
    const env = { ...BASE_ENV, STAGING_URL: 'http://127.0.0.1:8081', CHECKSTACK_PROD_API_KEY: 'ck_app_secret', GITHUB_TOKEN: 'ghp_secret', DATABASE_URL: 'postgres://bot:dbpass@db:5432/bot' };
    const config = loadConfig({ env, readFile: () => VALID_YAML });

    const summary = describeConfig(config);

    expect(summary).toContain('prod');
    expect(summary).toContain('staging (default)');
    expect(summary).toContain('U0APPROVER1');
    expect(summary).toContain('C0ANNOUNCE');
    for (const secret of secretValues(config)) expect(summary).not.toContain(secret);
    expect(secretValues(config)).toEqual(expect.arrayContaining(['xoxb-secret-bot-token', 'signing-secret-value', 'ck_app_secret', 'ghp_secret', 'dbpass']));
  });
});

describe('loadConfig: promotion and autoUpgrade', () => {
  const TWO_STAGES = `targets:
  - name: staging
    baseUrl: http://127.0.0.1:8081
    docker: { container: checkstack-staging }
    autoUpgrade:
      patches: true
      minimumReleaseAge: 72h
      window: { days: [sat, sun], from: "02:00", to: "05:00", timeZone: Europe/Berlin }
  - name: prod
    default: true
    baseUrl: http://127.0.0.1:8080
    docker: { container: checkstack }
    promotion:
      from: staging
      soak: 24h
    autoUpgrade:
      patches: true
      minimumReleaseAge: 72h
      notice: 10m
      window: { days: [sat, sun], from: "02:00", to: "05:00", timeZone: Europe/Berlin }
`;

  it('reads the two-stage example into policies with durations in milliseconds', () => {
    const [staging, prod] = loadConfig({ env: BASE_ENV, readFile: () => TWO_STAGES }).targets;

    expect(staging?.promotion).toBeUndefined();
    expect(staging?.autoUpgrade).toEqual({
      patches: true,
      minimumReleaseAgeMs: 72 * 3_600_000,
      noticeMs: 600_000,
      window: { days: ['sat', 'sun'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin' },
    });
    expect(prod?.promotion).toEqual({ from: 'staging', soakMs: 24 * 3_600_000 });
    expect(prod?.autoUpgrade?.noticeMs).toBe(600_000);
  });

  it('leaves both out of a target that does not set them', () => {
    const config = loadConfig({ env: { ...BASE_ENV, STAGING_URL: 'http://127.0.0.1:8081' }, readFile: () => VALID_YAML });
    expect(config.targets.map((t) => [t.promotion, t.autoUpgrade])).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it('names each wrong field with its file line and what to write', () => {
    const yaml = TWO_STAGES.replace('soak: 24h', 'soak: 1.5d').replace('notice: 10m', 'notice: 10').replace('from: staging', 'from: stagin').replace('timeZone: Europe/Berlin }\n  - name: prod', 'timeZone: Europe/Berln }\n  - name: prod');
    expect(problemsOf(BASE_ENV, yaml)).toEqual(
      expect.arrayContaining([
        { key: 'targets[0].autoUpgrade.window.timeZone', message: expect.stringMatching(/`Europe\/Berln` is not a time zone/), location: './checkstack-chatops.yml:8' },
        { key: 'targets[1].promotion.soak', message: expect.stringMatching(/fractions are not allowed; write `36h`/), location: './checkstack-chatops.yml:15' },
        { key: 'targets[1].autoUpgrade.notice', message: expect.stringMatching(/`10` has no unit/), location: './checkstack-chatops.yml:19' },
      ]),
    );
  });

  it('refuses a promotion from a target that does not exist', () => {
    const yaml = TWO_STAGES.replace('from: staging', 'from: stagin');
    expect(problemsOf(BASE_ENV, yaml)).toEqual([
      { key: 'targets[1].promotion.from', message: '"stagin" is not a configured target: name one of staging, prod', location: './checkstack-chatops.yml:14' },
    ]);
  });
});

describe('loadConfig: backup and drill', () => {
  const WITH_BACKUP = `targets:
  - name: prod
    baseUrl: http://127.0.0.1:8080
    docker: { container: checkstack }
    backup:
      databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL
      dir: /backups
    drill:
      every: 90d
`;

  it('reads the blocks with their defaults and durations in milliseconds', () => {
    const [prod] = loadConfig({ env: BASE_ENV, readFile: () => WITH_BACKUP }).targets;
    expect(prod?.backup).toEqual({ databaseUrlEnv: 'CHECKSTACK_PROD_DATABASE_URL', dir: '/backups', keep: 10, maxAge: 24 * 3_600_000 });
    expect(prod?.drill).toEqual({ every: 90 * 86_400_000 });
  });

  it('names each wrong field with what to write', () => {
    const yaml = WITH_BACKUP.replace('dir: /backups', 'dir: backups\n      keep: 0\n      maxAge: 24').replace('databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL', 'databaseUrlEnv: postgres://u:p@db/x');
    expect(problemsOf(BASE_ENV, yaml).map((p) => [p.key, p.message])).toEqual(
      expect.arrayContaining([
        ['targets[0].backup.databaseUrlEnv', expect.stringMatching(/must be an environment variable name/)],
        ['targets[0].backup.dir', expect.stringMatching(/must be an absolute path/)],
        ['targets[0].backup.keep', expect.any(String)],
        ['targets[0].backup.maxAge', expect.stringMatching(/`24` has no unit/)],
      ]),
    );
    expect(JSON.stringify(problemsOf(BASE_ENV, yaml))).not.toContain('u:p@db');
  });

  it('refuses a drill without a backup to restore', () => {
    const yaml = WITH_BACKUP.replace(/ {4}backup:\n.*\n.*\n/, '');
    expect(problemsOf(BASE_ENV, yaml)).toEqual([expect.objectContaining({ key: 'targets[0].drill', message: expect.stringMatching(/configure `backup` too/) })]);
  });

  it('reads the database URL from the variable the block names, and keeps it secret', () => {
    const url = 'postgres://checkstack:p%40ss%2Fw0rd!@db.internal:5432/checkstack';
    const config = loadConfig({ env: { ...BASE_ENV, CHECKSTACK_PROD_DATABASE_URL: url }, readFile: () => WITH_BACKUP });
    expect(config.targets[0]?.backupDatabaseUrl).toBe(url);
    expect(secretValues(config)).toEqual(expect.arrayContaining([url, 'p@ss/w0rd!', 'p%40ss%2Fw0rd!']));
    const summary = describeConfig(config);
    expect(summary).toContain('backups in /backups/prod (keep 10) of the database in CHECKSTACK_PROD_DATABASE_URL (set)');
    for (const secret of secretValues(config)) expect(summary).not.toContain(secret);
  });

  it('warns, without failing, when the variable is not set', () => {
    const config = loadConfig({ env: BASE_ENV, readFile: () => WITH_BACKUP });
    expect(config.targets[0]?.backupDatabaseUrl).toBeNull();
    expect(config.warnings).toEqual([expect.stringMatching(/^targets\[0\]\.backup\.databaseUrlEnv: CHECKSTACK_PROD_DATABASE_URL is not set/)]);
  });
});
