// What each post-flight check concludes from the data the Checkstack API gave; pure, table-tested.
import { plural } from '../util/plural.js';
import { squashWhitespace } from '../util/squash-whitespace.js';

export const CHECK_NAMES = ['ready', 'version', 'ui', 'plugins', 'healthchecks', 'delivery'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];
export type CheckOutcome = 'pass' | 'warn' | 'fail' | 'skipped' | 'nothing_to_verify';

export interface CheckResult {
  name: CheckName;
  outcome: CheckOutcome;
  /** One line, no markdown beyond backticks. */
  detail: string;
}

export type PostflightVerdict = 'succeeded' | 'succeeded_with_warnings' | 'failed';

const MAX_DETAIL = 300;
const MAX_LISTED = 5;

/** Access the delivery log needs: the bot's key must carry it. */
export const DELIVERY_ACCESS_RULE = 'integration.integration.manage';

/** A check's detail: one line of at most MAX_DETAIL characters. */
export function checkDetail(text: string): string {
  return squashWhitespace(text, MAX_DETAIL);
}

function result(name: CheckName, outcome: CheckOutcome, detail: string): CheckResult {
  return { name, outcome, detail: checkDetail(detail) };
}

/** "a, b, c and 4 more" */
function listSome(items: string[], max = MAX_LISTED): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

// ---------------------------------------------------------------- ready

export interface ReadyObservation {
  status: number;
  ready: boolean;
  reason?: string | null;
  error?: string | null;
  checks: { name: string; critical: boolean; ok: boolean; message?: string | null }[];
}

/** What a release without the readiness endpoint answers on it: its UI's page, or 404 without a built UI. */
export interface ReadyUnknownObservation {
  unknown: true;
  answeredWith: 'html' | 'not_found';
}

/** `unknown`: the release has no readiness endpoint; that is never "not ready" and never a failure. */
export function evaluateReady(answer: ReadyObservation | ReadyUnknownObservation): CheckResult {
  if ('unknown' in answer) {
    const how = answer.answeredWith === 'html' ? 'the UI answers for it' : 'it answers 404';
    return result('ready', 'nothing_to_verify', `readiness unknown: this release has no \`/.checkstack/ready\` (${how})`);
  }
  if (answer.status === 200 && answer.ready) {
    const names = answer.checks.map((c) => c.name);
    return result('ready', 'pass', names.length > 0 ? `200 ready: ${listSome(names, 8)}` : '200 ready');
  }
  if (answer.reason) return result('ready', 'fail', `${answer.status} not ready: ${answer.reason}`);
  if (answer.error) return result('ready', 'fail', `${answer.status} initialisation failed: ${answer.error}`);
  const failing = answer.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}${c.critical ? '' : ' (non-critical)'}${c.message ? `: ${c.message}` : ''}`);
  return result('ready', 'fail', `${answer.status} not ready${failing.length ? `; failing: ${listSome(failing)}` : ''}`);
}

// ---------------------------------------------------------------- version

function bareVersion(v: string): string {
  return v.trim().replace(/^v/i, '');
}

export interface VersionInput {
  targetVersion: string;
  /** `/api/about`, or null when the release has none. */
  about: { releaseVersion: string; coreVersion?: string | null } | null;
  /** The tag of the image actually running, the fallback for releases without `/api/about`. */
  runningImageTag?: string | null;
}

export function evaluateVersion({ targetVersion, about, runningImageTag }: VersionInput): CheckResult {
  const target = bareVersion(targetVersion);
  if (about) {
    const running = bareVersion(about.releaseVersion);
    const core = about.coreVersion ? ` (core ${about.coreVersion})` : '';
    return running === target
      ? result('version', 'pass', `\`/api/about\` reports ${running}${core}`)
      : result('version', 'fail', `\`/api/about\` reports ${running}${core}, expected ${target}`);
  }
  if (runningImageTag) {
    const tag = bareVersion(runningImageTag);
    return tag === target
      ? result('version', 'pass', `image tag ${tag} (this release has no \`/api/about\`)`)
      : result('version', 'fail', `image tag ${tag}, expected ${target} (this release has no \`/api/about\`)`);
  }
  return result('version', 'nothing_to_verify', 'this release has no `/api/about` and the image tag is not known');
}

// ---------------------------------------------------------------- ui

/** Checkstack's own page, not just any HTML: a proxy's error page or another app on the port is no UI. */
export function evaluateUi(answer: { status: number; isHtml: boolean; isCheckstack: boolean }): CheckResult {
  if (answer.status === 200 && answer.isCheckstack) return result('ui', 'pass', "`GET /` answers 200 with Checkstack's page");
  if (answer.status === 200 && answer.isHtml) return result('ui', 'fail', "`GET /` answers 200 with an HTML page that is not Checkstack's");
  if (answer.status === 200) return result('ui', 'fail', '`GET /` answers 200 but not with HTML');
  return result('ui', 'fail', `\`GET /\` answers ${answer.status}`);
}

// ---------------------------------------------------------------- plugins

export interface PluginRef {
  name: string;
  version?: string | null;
}

export function evaluatePlugins({ before, after }: { before: PluginRef[] | null; after: PluginRef[] | null }): CheckResult {
  if (before === null) {
    return result('plugins', 'nothing_to_verify', 'plugin comparison not available: no plugin list from before the upgrade (that release had no `/api/about`)');
  }
  if (after === null) return result('plugins', 'nothing_to_verify', 'plugin comparison not available: this release has no `/api/about`');
  const loaded = new Set(after.map((p) => p.name));
  const earlier = new Set(before.map((p) => p.name));
  const missing = [...earlier].filter((n) => !loaded.has(n)).sort();
  const added = [...loaded].filter((n) => !earlier.has(n)).sort();
  const addedNote = added.length ? `; new: ${listSome(added)}` : '';
  if (missing.length > 0) {
    return result('plugins', 'warn', `${plural(missing.length, 'plugin')} not loaded after the upgrade: ${listSome(missing)}${addedNote}`);
  }
  return result('plugins', 'pass', `all ${plural(earlier.size, 'plugin')} loaded again${addedNote}`);
}

// ---------------------------------------------------------------- health checks

export interface HealthcheckObservation {
  systemId: string;
  systemName: string;
  configurationId: string;
  configurationName?: string | null;
  intervalSeconds: number;
  enabled: boolean;
  /** Null or absent when the release does not say: 0.31 keeps a paused check `enabled: true` with no such field. */
  paused?: boolean | null;
  /** The newest run known, whatever its status; null when none. */
  newestRunAt: Date | null;
}

export interface HealthcheckInput {
  checks: HealthcheckObservation[];
  readyAt: Date;
  now: Date;
  /** Upper bound on the wait for any one check, however long its interval. */
  maxWaitMs: number;
}

export type HealthcheckEvaluation =
  | { state: 'done'; result: CheckResult }
  | {
      state: 'waiting';
      detail: string;
      /** Checks without a run after readyAt whose deadline has not passed. */
      pending: HealthcheckObservation[];
      /** The earliest pending deadline: waiting past it changes the verdict. */
      nextDeadline: Date;
    };

/** A check must have run after readyAt within two of its intervals, bounded by maxWaitMs. */
export function healthcheckDeadline(check: HealthcheckObservation, readyAt: Date, maxWaitMs: number): Date {
  return new Date(readyAt.getTime() + Math.min(check.intervalSeconds * 2 * 1000, maxWaitMs));
}

function checkLabel(c: HealthcheckObservation): string {
  return `${c.systemName}: ${c.configurationName || c.configurationId}`;
}

export function evaluateHealthchecks({ checks, readyAt, now, maxWaitMs }: HealthcheckInput): HealthcheckEvaluation {
  const expected = checks.filter((c) => c.enabled && !c.paused);
  if (expected.length === 0) {
    return { state: 'done', result: result('healthchecks', 'nothing_to_verify', 'no enabled health checks on any system') };
  }
  const ran: HealthcheckObservation[] = [];
  const pending: HealthcheckObservation[] = [];
  const missed: HealthcheckObservation[] = [];
  for (const check of expected) {
    if (check.newestRunAt && check.newestRunAt.getTime() > readyAt.getTime()) ran.push(check);
    else if (now.getTime() < healthcheckDeadline(check, readyAt, maxWaitMs).getTime()) pending.push(check);
    else missed.push(check);
  }
  const systems = new Set(expected.map((c) => c.systemId)).size;
  if (pending.length > 0) {
    const nextDeadline = new Date(Math.min(...pending.map((c) => healthcheckDeadline(c, readyAt, maxWaitMs).getTime())));
    return {
      state: 'waiting',
      detail: checkDetail(`${ran.length} of ${plural(expected.length, 'check')} ran since ready; waiting for ${listSome(pending.map(checkLabel))}`),
      pending,
      nextDeadline,
    };
  }
  // A release that reports pausing (`paused: false`) vouches the check should have run; one that does not may
  // have it paused, so not running is a warning there, never a failed upgrade on its own.
  const broken = missed.filter((c) => c.paused === false);
  const maybePaused = missed.filter((c) => c.paused !== false);
  const onSystems = (checks: HealthcheckObservation[]) => `${plural(checks.length, 'check')} on ${plural(new Set(checks.map((c) => c.systemId)).size, 'system')}`;
  if (broken.length > 0) {
    const alsoPaused = maybePaused.length > 0 ? `; ${plural(maybePaused.length, 'more check')} did not run and may be paused` : '';
    return {
      state: 'done',
      result: result('healthchecks', 'fail', `${onSystems(broken)} did not run since ready: ${listSome(broken.map(checkLabel))}${alsoPaused}`),
    };
  }
  if (maybePaused.length > 0) {
    const it = maybePaused.length === 1 ? 'it' : 'they';
    return {
      state: 'done',
      result: result(
        'healthchecks',
        'warn',
        `${onSystems(maybePaused)} did not run since ready; ${it} may be paused (this release does not say): ${listSome(maybePaused.map(checkLabel))}`,
      ),
    };
  }
  return {
    state: 'done',
    result: result('healthchecks', 'pass', `all ${plural(expected.length, 'enabled check')} on ${plural(systems, 'system')} ran since ready`),
  };
}

// ---------------------------------------------------------------- delivery

export interface DeliveryObservation {
  status: string;
  createdAt: Date;
  lastAttemptAt?: Date | null;
  errorMessage?: string | null;
  eventType?: string;
  subscriptionName?: string | null;
}

/** Was this delivery created or attempted since the moment? */
export function deliveredSince(log: DeliveryObservation, since: Date): boolean {
  const t = since.getTime();
  return log.createdAt.getTime() >= t || (log.lastAttemptAt != null && log.lastAttemptAt.getTime() >= t);
}

/** Logs newest first, as `getDeliveryLogs` returns them; only those since the upgrade count. */
export function evaluateDelivery({ logs, since }: { logs: DeliveryObservation[]; since: Date }): CheckResult {
  const window = logs.filter((l) => deliveredSince(l, since));
  const failures = window.filter((l) => l.status === 'failed' || l.status === 'retrying');
  const successes = window.filter((l) => l.status === 'success');
  if (failures.length > 0) {
    const failed = failures.filter((l) => l.status === 'failed').length;
    const retrying = failures.length - failed;
    const counts = [failed ? `${failed} failed` : '', retrying ? `${retrying} retrying` : ''].filter(Boolean).join(', ');
    // The oldest failure is the first one after the upgrade: the likeliest cause.
    const first = failures[failures.length - 1];
    const where = first?.subscriptionName ? ` (${first.subscriptionName})` : '';
    const message = first?.errorMessage ? `; first error${where}: ${first.errorMessage}` : '';
    return result('delivery', 'warn', `${counts} of ${plural(window.length, 'delivery', 'deliveries')} since the upgrade${message}`);
  }
  if (successes.length === 0) {
    const pending = window.length;
    return result(
      'delivery',
      'nothing_to_verify',
      pending > 0 ? `${pending} pending, none delivered yet since the upgrade` : 'no deliveries since the upgrade',
    );
  }
  return result('delivery', 'pass', `${plural(successes.length, 'delivery', 'deliveries')} since the upgrade, none failed`);
}

// ---------------------------------------------------------------- access problems

export type AccessProblem =
  | { kind: 'missing_key' }
  | { kind: 'rejected' }
  | { kind: 'missing_permissions'; message: string };

/** What a check concludes when the API key is missing, rejected or short of access rules. */
export function evaluateAccessProblem(
  name: CheckName,
  problem: AccessProblem,
  { apiKeyEnv, accessRule }: { apiKeyEnv?: string | null; accessRule?: string } = {},
): CheckResult {
  switch (problem.kind) {
    case 'missing_key': {
      const rule = accessRule ? ` with access \`${accessRule}\`` : '';
      const fix = apiKeyEnv
        ? `put an application API key${rule} in \`${apiKeyEnv}\``
        : `set \`apiKeyEnv\` on the target to a variable holding an application API key${rule}`;
      return result(name, 'skipped', `needs an API key: ${fix}`);
    }
    case 'rejected':
      return result(name, 'fail', `API key rejected${apiKeyEnv ? ` (\`${apiKeyEnv}\`)` : ''}: check it is current`);
    case 'missing_permissions':
      return result(name, 'warn', `API key lacks permissions: ${problem.message}`);
  }
}

// ---------------------------------------------------------------- verdict

export function postflightVerdict(results: CheckResult[]): PostflightVerdict {
  if (results.some((r) => r.outcome === 'fail')) return 'failed';
  if (results.some((r) => r.outcome === 'warn')) return 'succeeded_with_warnings';
  return 'succeeded';
}
