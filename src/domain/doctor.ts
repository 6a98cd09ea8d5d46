// The doctor's verdicts: facts the probes gathered (src/doctor/*) in, findings with the fix for each problem out.
// Nothing here talks to anything; the probes change nothing.

export type DoctorArea = 'slack' | 'github' | 'docker' | 'kubernetes' | 'checkstack' | 'postgres' | 'redis';

/** `ok`; `problem`: will break an upgrade or an announcement (exit 1); `warning`: worth knowing, not blocking. */
export type FindingStatus = 'ok' | 'problem' | 'warning';

export interface Finding {
  area: DoctorArea;
  /** What was checked: `scope chat:write`, `channel C0ANNOUNCE`, `prod: POST /containers/{id}/rename`. */
  check: string;
  status: FindingStatus;
  /** What was found, in a sentence. */
  detail: string;
  /** What to do about it; set for every problem and warning. */
  fix?: string;
}

export interface DoctorReport {
  findings: Finding[];
  problems: number;
  warnings: number;
  /** True when nothing is a problem (warnings allowed): the CLI's exit code 0. */
  healthy: boolean;
}

/** A probe that could not get an answer at all: the network, a timeout, a refusal. */
export interface Unreachable {
  error: string;
}

export interface SlackFacts {
  auth: { team: string; botUserId: string } | Unreachable;
  /** The `x-oauth-scopes` header of the answer; null when Slack sent none. */
  grantedScopes: string[] | null;
  /** Scope -> the methods or features that need it (src/domain/slack-scopes.ts). */
  neededScopes: ReadonlyMap<string, readonly string[]>;
  channels: { id: string; answer: { name: string; isPrivate: boolean; isMember: boolean } | { error: string } }[];
}

export interface GithubFacts {
  apiUrl: string;
  tokenSet: boolean;
  rateLimit: { limit: number; remaining: number; resetAt: string } | Unreachable;
  pinRepos: { target: string; repo: string; answer: { push: boolean | null } | { status: number; error: string } | Unreachable }[];
}

export interface DockerEndpointProbe {
  /** `GET /containers/{id}/json` */
  endpoint: string;
  writes: boolean;
  /** The HTTP status the engine (or the proxy in front of it) answered; null when the request failed. */
  status: number | null;
  /** The engine's message, or the network error. */
  message: string;
}

export interface DockerFacts {
  target: string;
  host: string;
  /** Null when the host did not answer at all. */
  probes: DockerEndpointProbe[] | null;
  error?: string;
}

export interface KubernetesPermissionProbe {
  /** `patch deployments.apps "checkstack"` */
  permission: string;
  allowed: boolean | null;
  /** The API server's reason, or why the review itself failed. */
  reason: string;
}

export interface KubernetesFacts {
  target: string;
  namespace: string;
  probes: KubernetesPermissionProbe[];
}

export type ApiKeyRights = 'none_configured' | 'ok' | 'rejected' | 'lacks_permissions' | 'unknown';

export interface CheckstackFacts {
  target: string;
  baseUrl: string;
  reachable: boolean;
  error?: string;
  /** `platform`: `/.checkstack/ready` and `/api/about` exist; `pre-platform`: a release before them (0.31-era). */
  era: 'platform' | 'pre-platform' | 'unknown';
  version: string | null;
  apiKey: ApiKeyRights;
  apiKeyDetail?: string;
}

export interface PostgresFacts {
  reachable: boolean;
  error?: string;
  serverVersion?: string;
}

export interface RedisFacts {
  reachable: boolean;
  error?: string;
  /** `CONFIG GET maxmemory-policy`; null when CONFIG is refused (managed Redis often renames or blocks it). */
  maxmemoryPolicy: string | null;
  /** `CONFIG GET appendonly` (`yes`/`no`); null when refused. */
  appendonly: string | null;
  /** `CONFIG GET save` (RDB snapshots, e.g. `3600 1 300 100`); null when refused. */
  save: string | null;
  configError?: string;
}

export interface DoctorFacts {
  slack: SlackFacts;
  github: GithubFacts;
  docker: DockerFacts[];
  kubernetes: KubernetesFacts[];
  checkstack: CheckstackFacts[];
  postgres: PostgresFacts;
  redis: RedisFacts;
}

const unreachable = (value: object): value is Unreachable => 'error' in value && !('status' in value);

function slackFindings(facts: SlackFacts): Finding[] {
  if (unreachable(facts.auth)) {
    return [{ area: 'slack', check: 'token (auth.test)', status: 'problem', detail: `Slack refused the bot token or did not answer: ${facts.auth.error}.`, fix: 'Set SLACK_BOT_TOKEN to the Bot User OAuth Token (`xoxb-…`) of the installed app, and check that SLACK_API_URL reaches Slack.' }];
  }
  const findings: Finding[] = [{ area: 'slack', check: 'token (auth.test)', status: 'ok', detail: `The bot token works: workspace ${facts.auth.team}, bot user ${facts.auth.botUserId}.` }];
  if (facts.grantedScopes === null) {
    findings.push({ area: 'slack', check: 'scopes', status: 'warning', detail: 'Slack did not say which scopes the token has (no `x-oauth-scopes` header).', fix: 'Compare the app\'s OAuth & Permissions page with the scopes in manifest.yml.' });
  } else {
    const granted = new Set(facts.grantedScopes);
    for (const [scope, usedBy] of facts.neededScopes) {
      findings.push(
        granted.has(scope)
          ? { area: 'slack', check: `scope ${scope}`, status: 'ok', detail: `Granted (${usedBy.join(', ')}).` }
          : { area: 'slack', check: `scope ${scope}`, status: 'problem', detail: `The token lacks \`${scope}\`, needed for ${usedBy.join(', ')}.`, fix: `Add \`${scope}\` under OAuth & Permissions → Bot Token Scopes (or paste manifest.yml again) and reinstall the app to the workspace.` },
      );
    }
  }
  for (const channel of facts.channels) {
    const answer = channel.answer;
    if ('error' in answer) {
      const missingScope = answer.error === 'missing_scope';
      findings.push({
        area: 'slack',
        check: `channel ${channel.id}`,
        status: 'problem',
        detail: missingScope ? `The bot may not read channel ${channel.id} (missing_scope).` : `Slack answered \`${answer.error}\` for announce channel ${channel.id}: it does not exist, or it is private and the bot is not in it.`,
        fix: missingScope ? 'Grant `channels:read` and `groups:read` (manifest.yml) and reinstall the app.' : `Check the channel id in \`announce.channels\` (or \`/checkstack unsubscribe\` there), and \`/invite @checkstack\` in a private channel.`,
      });
    } else if (!answer.isMember) {
      findings.push(
        answer.isPrivate
          ? { area: 'slack', check: `channel ${channel.id}`, status: 'problem', detail: `The bot is not in the private channel #${answer.name}: it cannot post there.`, fix: `Type \`/invite @checkstack\` in #${answer.name}.` }
          : { area: 'slack', check: `channel ${channel.id}`, status: 'problem', detail: `The bot is not a member of #${answer.name}: announcements there depend on \`chat:write.public\`, and buttons in threads need the bot in the channel.`, fix: `Type \`/invite @checkstack\` in #${answer.name}.` },
      );
    } else {
      findings.push({ area: 'slack', check: `channel ${channel.id}`, status: 'ok', detail: `The bot is in #${answer.name}.` });
    }
  }
  return findings;
}

function githubFindings(facts: GithubFacts): Finding[] {
  const findings: Finding[] = [];
  const rate = facts.rateLimit;
  if (unreachable(rate)) {
    return [{ area: 'github', check: 'reachability', status: 'problem', detail: `GitHub (${facts.apiUrl}) did not answer: ${rate.error}.`, fix: 'Check the network path to GitHub (proxy, firewall, DNS) and GITHUB_API_URL.' }];
  }
  findings.push({ area: 'github', check: 'reachability', status: 'ok', detail: `GitHub answers (${facts.apiUrl}).` });
  const low = rate.remaining < Math.max(10, rate.limit * 0.05);
  findings.push({
    area: 'github',
    check: 'rate limit',
    status: low ? 'warning' : !facts.tokenSet && rate.limit <= 60 ? 'warning' : 'ok',
    detail: `${rate.remaining} of ${rate.limit} requests left until ${rate.resetAt}.`,
    ...(low || (!facts.tokenSet && rate.limit <= 60) ? { fix: 'Set GITHUB_TOKEN: an anonymous caller gets 60 requests an hour, shared by every process behind the same address.' } : {}),
  });
  for (const pin of facts.pinRepos) {
    const check = `${pin.target}: pin repository ${pin.repo}`;
    const answer = pin.answer;
    if (!facts.tokenSet) {
      findings.push({ area: 'github', check, status: 'problem', detail: 'The Git pin record needs a token, and GITHUB_TOKEN is not set.', fix: `Set GITHUB_TOKEN to a token with write access (contents, and pull requests for mode pull-request) to ${pin.repo}.` });
    } else if ('push' in answer) {
      findings.push(
        answer.push === true
          ? { area: 'github', check, status: 'ok', detail: `GITHUB_TOKEN may push to ${pin.repo}.` }
          : { area: 'github', check, status: 'problem', detail: `GITHUB_TOKEN cannot push to ${pin.repo}: the pin commit or its pull request would fail.`, fix: `Give the token write access to ${pin.repo} (fine-grained: Contents read and write, Pull requests read and write).` },
      );
    } else if (!('status' in answer)) {
      findings.push({ area: 'github', check, status: 'problem', detail: `GitHub did not answer for ${pin.repo}: ${answer.error}.`, fix: 'Check the network path to GitHub.' });
    } else {
      findings.push({ area: 'github', check, status: 'problem', detail: `GitHub answered ${answer.status} for ${pin.repo}: ${answer.error}.`, fix: answer.status === 404 ? `Check \`pin.github.repo\`, and grant GITHUB_TOKEN access to ${pin.repo} (a private repository is 404 to a token without access).` : 'Check GITHUB_TOKEN: it may be expired or revoked.' });
    }
  }
  return findings;
}

function dockerFindings(facts: DockerFacts): Finding[] {
  if (!facts.probes) {
    return [{ area: 'docker', check: `${facts.target}: Docker at ${facts.host}`, status: 'problem', detail: `The Docker host did not answer: ${facts.error ?? 'no answer'}.`, fix: 'Check `docker.host` and that the socket proxy (docker-compose.yml: `docker-proxy`) runs; with the proxy, set DOCKER_GID to the group of /var/run/docker.sock.' }];
  }
  return facts.probes.map((probe): Finding => {
    const check = `${facts.target}: ${probe.endpoint}`;
    const refused = probe.status === 403 || probe.status === 405 || probe.status === 401;
    if (refused) {
      return { area: 'docker', check, status: 'problem', detail: `Refused with ${probe.status} (${probe.message.trim() || 'forbidden'}): the socket proxy does not allow \`${probe.endpoint}\`.`, fix: `Allow \`${probe.endpoint}\` in the socket proxy: the rules in docker-compose.yml list every endpoint the bot calls (README, Security).` };
    }
    if (probe.status === null) {
      return { area: 'docker', check, status: 'problem', detail: `No answer: ${probe.message}.`, fix: 'Check `docker.host` and the socket proxy.' };
    }
    // A write endpoint is probed with an id that cannot exist: "not found" proves the proxy let it through.
    const passed = probe.writes ? probe.status === 404 || probe.status === 400 || probe.status === 409 : probe.status >= 200 && probe.status < 300 || probe.status === 404;
    return passed
      ? { area: 'docker', check, status: 'ok', detail: probe.writes ? `Allowed (the engine answered ${probe.status} to a request that cannot succeed; nothing was changed).` : `Allowed (${probe.status}).` }
      : { area: 'docker', check, status: 'warning', detail: `Unexpected answer ${probe.status}: ${probe.message.trim()}.`, fix: 'Look at the socket proxy\'s and the engine\'s logs.' };
  });
}

function kubernetesFindings(facts: KubernetesFacts): Finding[] {
  return facts.probes.map((probe): Finding => {
    const check = `${facts.target}: ${probe.permission}`;
    if (probe.allowed === true) return { area: 'kubernetes', check, status: 'ok', detail: `Allowed in namespace ${facts.namespace}.` };
    if (probe.allowed === false) {
      return { area: 'kubernetes', check, status: 'problem', detail: `Not allowed in namespace ${facts.namespace}${probe.reason ? `: ${probe.reason}` : ''}.`, fix: `Add \`${probe.permission}\` to the Role bound to the bot (deploy/kubernetes/role.yaml lists every rule it needs) and apply it.` };
    }
    return { area: 'kubernetes', check, status: 'problem', detail: `The access review failed: ${probe.reason}.`, fix: 'Check KUBECONFIG or the pod\'s service account, and that the API server is reachable.' };
  });
}

function checkstackFindings(facts: CheckstackFacts): Finding[] {
  if (!facts.reachable) {
    return [{ area: 'checkstack', check: `${facts.target}: reachable`, status: 'problem', detail: `${facts.baseUrl} did not answer: ${facts.error ?? 'no answer'}.`, fix: 'Check the target\'s `baseUrl`; next to Checkstack\'s compose it is `http://checkstack:3000`, with the bot on Checkstack\'s network (CHECKSTACK_NETWORK).' }];
  }
  const findings: Finding[] = [
    {
      area: 'checkstack',
      check: `${facts.target}: reachable`,
      status: 'ok',
      detail:
        facts.era === 'platform'
          ? `${facts.baseUrl} answers, with the platform endpoints${facts.version ? ` (release ${facts.version})` : ''}.`
          : facts.era === 'pre-platform'
            ? `${facts.baseUrl} answers, a release before the platform endpoints: readiness is read from the log line, the version from the image tag.`
            : `${facts.baseUrl} answers; its era could not be told.`,
    },
  ];
  const key = `${facts.target}: API key`;
  switch (facts.apiKey) {
    case 'none_configured':
      findings.push({ area: 'checkstack', check: key, status: 'warning', detail: 'No API key is configured: the delivery-log check is skipped.', fix: 'Create an application API key in Checkstack (with `integration.integration.manage`) and name its variable in the target\'s `apiKeyEnv`.' });
      break;
    case 'ok':
      findings.push({ area: 'checkstack', check: key, status: 'ok', detail: 'The API key is accepted and has the rights the post-flight checks use.' });
      break;
    case 'rejected':
      findings.push({ area: 'checkstack', check: key, status: 'problem', detail: `Checkstack rejects the API key${facts.apiKeyDetail ? `: ${facts.apiKeyDetail}` : ''}.`, fix: 'Create a new application API key (`ck_…`) and put it in the variable `apiKeyEnv` names.' });
      break;
    case 'lacks_permissions':
      findings.push({ area: 'checkstack', check: key, status: 'problem', detail: `The API key lacks permissions${facts.apiKeyDetail ? `: ${facts.apiKeyDetail}` : ''}.`, fix: 'Give the application\'s role `catalog.system.read`, `healthcheck.healthcheck.status.read` and `integration.integration.manage` (releases around 0.31 grant an application key none of its role\'s rules: upgrade Checkstack or run without the key).' });
      break;
    case 'unknown':
      findings.push({ area: 'checkstack', check: key, status: 'warning', detail: `The API key's rights could not be checked${facts.apiKeyDetail ? `: ${facts.apiKeyDetail}` : ''}.`, fix: 'Run `checkstack-chatops postflight` to see each check.' });
      break;
  }
  return findings;
}

function postgresFindings(facts: PostgresFacts): Finding[] {
  return facts.reachable
    ? [{ area: 'postgres', check: 'reachable', status: 'ok', detail: `The bot's Postgres answers${facts.serverVersion ? ` (${facts.serverVersion})` : ''}.` }]
    : [{ area: 'postgres', check: 'reachable', status: 'problem', detail: `The bot's Postgres did not answer: ${facts.error ?? 'no answer'}.`, fix: 'Check DATABASE_URL (in docker-compose.yml the service is `chatops-postgres`).' }];
}

function redisFindings(facts: RedisFacts): Finding[] {
  if (!facts.reachable) {
    return [{ area: 'redis', check: 'reachable', status: 'problem', detail: `Redis did not answer: ${facts.error ?? 'no answer'}.`, fix: 'Check REDIS_URL (in docker-compose.yml the service is `chatops-redis`).' }];
  }
  const findings: Finding[] = [{ area: 'redis', check: 'reachable', status: 'ok', detail: 'Redis answers.' }];
  if (facts.maxmemoryPolicy === null) {
    findings.push({ area: 'redis', check: 'maxmemory-policy', status: 'warning', detail: `Redis refused CONFIG GET${facts.configError ? ` (${facts.configError})` : ''}, so the eviction policy could not be read.`, fix: 'Make sure the policy is `noeviction` (BullMQ loses jobs under any other), e.g. in the provider\'s settings.' });
  } else if (facts.maxmemoryPolicy !== 'noeviction') {
    findings.push({ area: 'redis', check: 'maxmemory-policy', status: 'problem', detail: `maxmemory-policy is \`${facts.maxmemoryPolicy}\`: under memory pressure Redis evicts queued upgrades and their locks.`, fix: 'Run Redis with `--maxmemory-policy noeviction` (docker-compose.yml does), or `CONFIG SET maxmemory-policy noeviction` and persist it.' });
  } else {
    findings.push({ area: 'redis', check: 'maxmemory-policy', status: 'ok', detail: 'maxmemory-policy is `noeviction`.' });
  }
  if (facts.appendonly === null && facts.save === null) {
    findings.push({ area: 'redis', check: 'persistence', status: 'warning', detail: 'Redis refused CONFIG GET, so persistence could not be read.', fix: 'Make sure AOF (`appendonly yes`) or RDB snapshots are on: without them a Redis restart loses queued and delayed jobs.' });
  } else if (facts.appendonly === 'yes') {
    findings.push({ area: 'redis', check: 'persistence', status: 'ok', detail: 'AOF persistence is on (`appendonly yes`).' });
  } else if (facts.save) {
    findings.push({ area: 'redis', check: 'persistence', status: 'warning', detail: `Only RDB snapshots (\`save ${facts.save}\`): a restart loses what came after the last snapshot.`, fix: 'Run Redis with `--appendonly yes` (docker-compose.yml does).' });
  } else {
    findings.push({ area: 'redis', check: 'persistence', status: 'problem', detail: 'Persistence is off (`appendonly no`, no `save` rules): a Redis restart loses every queued and scheduled job.', fix: 'Run Redis with `--appendonly yes` (docker-compose.yml does).' });
  }
  return findings;
}

export function evaluateDoctor(facts: DoctorFacts): DoctorReport {
  const findings = [
    ...slackFindings(facts.slack),
    ...githubFindings(facts.github),
    ...facts.docker.flatMap(dockerFindings),
    ...facts.kubernetes.flatMap(kubernetesFindings),
    ...facts.checkstack.flatMap(checkstackFindings),
    ...postgresFindings(facts.postgres),
    ...redisFindings(facts.redis),
  ];
  const problems = findings.filter((f) => f.status === 'problem').length;
  return { findings, problems, warnings: findings.filter((f) => f.status === 'warning').length, healthy: problems === 0 };
}
