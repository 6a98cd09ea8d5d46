// `checkstack-chatops postflight [--target NAME] [--json]`: the post-flight checks once, for operators and cron jobs.
// Exit codes: 0 all checks passed or only warned, 1 a check failed, 2 bad usage or an unknown target.
import { parseTargetArgs } from './cli-target-args.js';
import { runPostflightChecks } from './checkstack/postflight-runner.js';
import type { Config } from './config.js';
import type { CheckOutcome, CheckResult, PostflightVerdict } from './domain/postflight.js';
import { isAppError } from './errors.js';
import type { Logger } from './logger.js';
import type { TargetRegistry, TargetRuntime } from './targets/registry.js';

export const POSTFLIGHT_USAGE = 'Usage: checkstack-chatops postflight [--target NAME] [--json]';

export interface PostflightCommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export interface PostflightCommandDeps {
  config: Config;
  targets: TargetRegistry;
  logger: Logger;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
}

/** What `--json` prints. */
export interface PostflightCommandOutput {
  target: string;
  version: string | null;
  verdict: PostflightVerdict;
  results: { name: string; outcome: CheckOutcome; detail: string; durationMs: number }[];
}

export async function runPostflightCommand(args: string[], io: PostflightCommandIo, deps: PostflightCommandDeps): Promise<number> {
  const parsed = parseTargetArgs(args);
  if ('problem' in parsed) {
    io.err.write(`${parsed.problem}\n${POSTFLIGHT_USAGE}\n`);
    return 2;
  }

  let runtime: TargetRuntime;
  try {
    runtime = deps.targets.resolve(parsed.target);
  } catch (err) {
    if (isAppError(err) && err.code === 'unknown_target') {
      io.err.write(`${err.message.replace(/`/g, '')}\n`);
      return 2;
    }
    throw err;
  }
  const { config: target, deployer, checkstack } = runtime;

  // The instance tells when it started (the "ready since" the health checks are measured against) and which tag runs.
  let readyAt = deps.now();
  let runningTag: string | null = null;
  try {
    const instance = await deployer.describe();
    runningTag = instance.tag;
    const started = instance.startedAt ? new Date(instance.startedAt) : null;
    if (started && !Number.isNaN(started.getTime()) && started.getTime() > 0) readyAt = started;
  } catch (err) {
    deps.logger.warn({ target: target.name, err: isAppError(err) ? err.message : String(err) }, 'post-flight could not describe the instance');
    io.err.write(`Note: the ${deployer.nouns.platform} deployment of ${target.name} could not be read; health checks are measured from now.\n`);
  }
  const about = runningTag ? null : await checkstack.about().catch(() => null);
  const version = runningTag ?? about?.releaseVersion ?? null;

  const durations = new Map<string, number>();
  const report = await runPostflightChecks({
    client: checkstack,
    // Without a version to expect, the version check compares what runs with itself and reports it.
    targetVersion: version ?? 'unknown',
    pluginsBefore: null,
    readyAt,
    now: deps.now,
    sleep: deps.sleep,
    healthcheckMaxWaitMs: target.postflight.healthcheckMaxWait * 1000,
    apiKeyEnv: target.apiKeyEnv,
    runningImageTag: runningTag,
    logger: deps.logger,
    onResult: (result, durationMs) => void durations.set(result.name, durationMs),
  });

  const output: PostflightCommandOutput = {
    target: target.name,
    version,
    verdict: report.verdict,
    results: report.results.map((r) => ({ name: r.name, outcome: r.outcome, detail: r.detail, durationMs: durations.get(r.name) ?? 0 })),
  };
  io.out.write(parsed.json ? `${JSON.stringify(output, null, 2)}\n` : formatTable(output));
  return report.results.some((r: CheckResult) => r.outcome === 'fail') ? 1 : 0;
}

const OUTCOME_LABEL: Record<CheckOutcome, string> = {
  pass: 'pass',
  warn: 'WARN',
  fail: 'FAIL',
  skipped: 'skipped',
  nothing_to_verify: 'n/a',
};

/** A table for a terminal: one row per check, details last so long ones do not push the columns apart. */
export function formatTable(output: PostflightCommandOutput): string {
  const header = `Post-flight checks for ${output.target} (${output.version ?? 'version unknown'}): ${output.verdict.replace(/_/g, ' ')}`;
  const rows = [['CHECK', 'OUTCOME', 'TIME', 'DETAIL'], ...output.results.map((r) => [r.name, OUTCOME_LABEL[r.outcome], formatDuration(r.durationMs), r.detail])];
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => row[col]!.length)));
  const lines = rows.map((row) =>
    [row[0]!.padEnd(widths[0]!), row[1]!.padEnd(widths[1]!), row[2]!.padStart(widths[2]!), row[3]!].join('  ').trimEnd(),
  );
  return `${header}\n${lines.join('\n')}\n`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
