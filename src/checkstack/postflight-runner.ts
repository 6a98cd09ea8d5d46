// Runs the post-flight checks against a freshly upgraded Checkstack, reporting each the moment it finishes.
import type { Logger } from 'pino';
import { isAppError } from '../errors.js';
import {
  CHECK_NAMES,
  DELIVERY_ACCESS_RULE,
  evaluateAccessProblem,
  checkDetail,
  evaluateDelivery,
  evaluateHealthchecks,
  evaluatePlugins,
  evaluateReady,
  evaluateUi,
  evaluateVersion,
  postflightVerdict,
  type CheckName,
  type CheckResult,
  type DeliveryObservation,
  type HealthcheckObservation,
  type PluginRef,
  type PostflightVerdict,
} from '../domain/postflight.js';
import { CHECK_CRASHED_DETAIL, NO_SYSTEMS_DETAIL, NO_SYSTEMS_VISIBLE_DETAIL, watchedAnonymouslyDetail } from '../slack/postflight-words.js';
import type { AboutInfo, CatalogSystem, CheckstackClient } from './client.js';

export const DEFAULT_HEALTHCHECK_POLL_MS = 10_000;
export const DEFAULT_DELIVERY_PAGE_SIZE = 50;
export const DEFAULT_DELIVERY_MAX_PAGES = 5;

export interface PostflightOptions {
  client: CheckstackClient;
  targetVersion: string;
  /** `/api/about` plugins before the upgrade; null when the old release had no `/api/about`. */
  pluginsBefore: PluginRef[] | null;
  /** When the new container answered ready (from waitForReady, or the log line for older releases). */
  readyAt: Date;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Upper bound on waiting for any one health check's first run after readyAt. */
  healthcheckMaxWaitMs: number;
  /** Called as each check finishes, in completion order; awaited before the run resolves. */
  onResult?: (result: CheckResult, durationMs: number) => void | Promise<void>;
  healthcheckPollMs?: number;
  /** Named in the "configure an API key" hint. */
  apiKeyEnv?: string | null;
  /** The tag of the image running now: the version fallback for releases without `/api/about`. */
  runningImageTag?: string | null;
  deliveryPageSize?: number;
  deliveryMaxPages?: number;
  logger?: Logger;
}

export interface PostflightReport {
  /** In the fixed order of CHECK_NAMES, whatever order they finished in. */
  results: CheckResult[];
  verdict: PostflightVerdict;
}

export async function runPostflightChecks(options: PostflightOptions): Promise<PostflightReport> {
  const { client, now, onResult, logger } = options;
  const started = now().getTime();

  let aboutPromise: Promise<AboutInfo | null> | undefined;
  const about = (): Promise<AboutInfo | null> => (aboutPromise ??= client.about());

  const checks: Record<CheckName, () => Promise<CheckResult>> = {
    ready: async () => evaluateReady(await client.ready()),
    version: async () =>
      evaluateVersion({ targetVersion: options.targetVersion, about: await about(), runningImageTag: options.runningImageTag }),
    ui: async () => evaluateUi(await client.ui()),
    plugins: async () => evaluatePlugins({ before: options.pluginsBefore, after: (await about())?.plugins ?? null }),
    healthchecks: () => checkHealthchecks(options),
    delivery: () => checkDelivery(options),
  };

  const results = await Promise.all(
    CHECK_NAMES.map(async (name) => {
      const checkResult = await checks[name]().catch((err: unknown) => failureResult(name, err, options));
      const durationMs = now().getTime() - started;
      logger?.info({ target: client.name, check: name, outcome: checkResult.outcome, durationMs }, 'post-flight check finished');
      try {
        await onResult?.(checkResult, durationMs);
      } catch (err) {
        // Reporting is best effort; one failed Slack post must not lose the other checks.
        logger?.warn({ err, target: client.name, check: name }, 'post-flight result report failed');
      }
      return checkResult;
    }),
  );
  return { results, verdict: postflightVerdict(results) };
}

/** What a check concludes from an error: access problems have their own outcomes, the rest fail. */
function failureResult(name: CheckName, err: unknown, { apiKeyEnv, logger, client }: PostflightOptions): CheckResult {
  const accessRule = name === 'delivery' ? DELIVERY_ACCESS_RULE : undefined;
  if (isAppError(err) && err.code === 'checkstack_auth_failed') {
    const reason = err.details.reason;
    if (reason === 'missing_key') return evaluateAccessProblem(name, { kind: 'missing_key' }, { apiKeyEnv, accessRule });
    if (reason === 'missing_permissions') {
      const message = typeof err.details.message === 'string' ? err.details.message : 'Missing access';
      return evaluateAccessProblem(name, { kind: 'missing_permissions', message }, { apiKeyEnv });
    }
    return evaluateAccessProblem(name, { kind: 'rejected' }, { apiKeyEnv });
  }
  if (isAppError(err)) return { name, outcome: 'fail', detail: checkDetail(err.message) };
  logger?.error({ err, target: client.name, check: name }, 'post-flight check crashed');
  return { name, outcome: 'fail', detail: CHECK_CRASHED_DETAIL };
}

async function checkHealthchecks(options: PostflightOptions): Promise<CheckResult> {
  const { client } = options;
  const systems = await client.getSystems();
  if (systems.length > 0) return watchHealthchecks(options, client, systems);
  if (!client.hasApiKey) return { name: 'healthchecks', outcome: 'nothing_to_verify', detail: NO_SYSTEMS_DETAIL };
  // A key that sees no systems may be one without access rules (releases around 0.31 grant a key none of its
  // roles' rules): anonymous callers see the public catalog, so they tell the two apart and can still watch the runs.
  const anonymous = client.anonymous();
  const publicSystems = await anonymous.getSystems().catch(() => []);
  if (publicSystems.length === 0) {
    return { name: 'healthchecks', outcome: 'nothing_to_verify', detail: NO_SYSTEMS_VISIBLE_DETAIL };
  }
  const watched = await watchHealthchecks(options, anonymous, publicSystems);
  return {
    name: 'healthchecks',
    outcome: watched.outcome === 'pass' || watched.outcome === 'nothing_to_verify' ? 'warn' : watched.outcome,
    detail: checkDetail(watchedAnonymouslyDetail(publicSystems.length, watched.detail)),
  };
}

async function watchHealthchecks(
  { readyAt, now, sleep, healthcheckMaxWaitMs, healthcheckPollMs = DEFAULT_HEALTHCHECK_POLL_MS }: PostflightOptions,
  client: CheckstackClient,
  systems: CatalogSystem[],
): Promise<CheckResult> {
  const bySystem = new Map<string, HealthcheckObservation[]>();
  let stale = systems;
  for (;;) {
    const fetched = await Promise.all(
      stale.map(async (system) => {
        const previous = bySystem.get(system.id);
        const overview = await client.getSystemHealthOverview(system.id).catch((err: unknown) => {
          // A blip while waiting keeps what we knew; the deadlines still bound the wait.
          if (previous && isAppError(err) && err.code === 'checkstack_unreachable') return null;
          throw err;
        });
        if (!overview) return [system.id, previous ?? []] as const;
        const observations = overview.checks.map(
          (check): HealthcheckObservation => ({
            systemId: system.id,
            systemName: system.name,
            configurationId: check.configurationId,
            configurationName: check.configurationName,
            intervalSeconds: check.intervalSeconds,
            enabled: check.enabled,
            paused: check.paused,
            newestRunAt: newest(check.recentRuns.map((r) => r.timestamp)),
          }),
        );
        return [system.id, observations] as const;
      }),
    );
    for (const [systemId, observations] of fetched) bySystem.set(systemId, observations);

    const at = now();
    const evaluation = evaluateHealthchecks({ checks: [...bySystem.values()].flat(), readyAt, now: at, maxWaitMs: healthcheckMaxWaitMs });
    if (evaluation.state === 'done') return evaluation.result;

    // Only systems with a check still pending need asking again.
    const pendingSystems = new Set(evaluation.pending.map((c) => c.systemId));
    stale = systems.filter((s) => pendingSystems.has(s.id));
    const untilDeadline = evaluation.nextDeadline.getTime() - at.getTime();
    await sleep(Math.max(1, Math.min(healthcheckPollMs, untilDeadline)));
  }
}

function newest(dates: Date[]): Date | null {
  let best: Date | null = null;
  for (const d of dates) if (!best || d.getTime() > best.getTime()) best = d;
  return best;
}

async function checkDelivery({
  client,
  readyAt,
  apiKeyEnv,
  deliveryPageSize = DEFAULT_DELIVERY_PAGE_SIZE,
  deliveryMaxPages = DEFAULT_DELIVERY_MAX_PAGES,
}: PostflightOptions): Promise<CheckResult> {
  if (!client.hasApiKey) {
    return evaluateAccessProblem('delivery', { kind: 'missing_key' }, { apiKeyEnv, accessRule: DELIVERY_ACCESS_RULE });
  }
  // Newest first: page until the log reaches back before readyAt (bounded, a busy log has many pages).
  const logs: DeliveryObservation[] = [];
  for (let page = 1; page <= deliveryMaxPages; page += 1) {
    const answer = await client.getDeliveryLogs({ page, pageSize: deliveryPageSize });
    logs.push(...answer.logs);
    const oldest = answer.logs[answer.logs.length - 1];
    if (!oldest || answer.logs.length < deliveryPageSize || page * deliveryPageSize >= answer.total) break;
    if (oldest.createdAt.getTime() < readyAt.getTime()) break;
  }
  return evaluateDelivery({ logs, since: readyAt });
}

