// The log watch after an upgrade: follows the new Checkstack's logs (an hour by default), alerts the thread at once on
// a fatal line, a restart or an exit, and posts a summary at the end. Its progress (the last log timestamp seen, the
// counts, the alerts already sent) lives in the job's data, so a restarted bot resumes where it stopped.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import type { UpgradeRecord, UpgradeStore } from '../src/db/upgrade-store.js';
import { classifyLogLine, logLineForSlack, type LogWatchEnd, type LogWatchRuntime } from '../src/domain/log-levels.js';
import { isAppError } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import { logWatchJob } from '../src/queue.js';
import { exitedAlert, fatalLineAlert, lostSightAlert, restartedAlert, summarizeLogWatch } from '../src/slack/log-watch-words.js';
import type { ThreadReporter } from '../src/slack/thread-reporter.js';
import type { Deployer, LogLine, RuntimeState } from '../src/targets/deployer.js';
import type { TargetRegistry } from '../src/targets/registry.js';
import { sleep } from '../src/util/sleep.js';

export const DEFAULT_STATE_POLL_MS = 15_000;
export const DEFAULT_PROGRESS_SAVE_MS = 5_000;
/** A crash loop prints the same fatal line again and again: after this many alerts they are only counted. */
export const MAX_FATAL_ALERTS = 5;

export interface LogWatchDeps {
  upgrades: Pick<UpgradeStore, 'byId'>;
  targets: Pick<TargetRegistry, 'resolve'>;
  reporter: Pick<ThreadReporter, 'post' | 'flush'>;
  logger: Logger;
  now: () => Date;
  /** Aborts when the bot shuts down: the watch saves its progress and goes back to the queue. */
  shutdownSignal: AbortSignal;
  /** How often the container's state and the upgrade (stopped? rolled back?) are checked. Default 15 s. */
  statePollMs?: number;
  /** Least time between two saves of the progress into the job's data. Default 5 s. */
  progressSaveMs?: number;
  /** Who stopped the watch early (a Slack user id), e.g. from the audit log of the stop button; null when unknown. */
  whoStopped?: (upgradeId: string) => Promise<string | null>;
  /** Removes known secret values (the bot's own, and the container's ENCRYPTION_MASTER_KEY) from a line before it is posted. */
  scrub?: (text: string) => string;
}

const countsSchema = z.object({
  warn: z.number().int().nonnegative(),
  error: z.number().int().nonnegative(),
  fatal: z.number().int().nonnegative(),
});

/** The payload of `src/queue.ts` plus what the watch adds as it goes; a new job has only the payload. */
const watchProgress = logWatchJob.extend({
  counts: countsSchema.default({ warn: 0, error: 0, fatal: 0 }),
  /** The exact platform timestamp of the last line counted: lines at or before it are not counted again. */
  lastTimestamp: z.string().nullable().default(null),
  /** Unix seconds when the watch began; null until the first run started it. */
  startedAt: z.number().int().nullable().default(null),
  /** The restart count last seen (and alerted). */
  restarts: z.number().int().nonnegative().default(0),
  /** The exit already alerted (`finishedAt|exitCode`), so a resumed watch does not alert it again. */
  exitAlerted: z.string().nullable().default(null),
  fatalAlerts: z.number().int().nonnegative().default(0),
});
type WatchProgress = z.infer<typeof watchProgress>;

type EndReason = 'until' | 'shutdown' | 'stopped' | 'superseded';

/** The BullMQ processor of the `log-watch` queue (job name `watch`). */
export function logWatchProcessor(deps: LogWatchDeps): (job: Job, token?: string) => Promise<unknown> {
  return async (job, token) => {
    if (job.name !== 'watch') throw new UnrecoverableError(`The log-watch queue has no job named \`${job.name}\`.`);
    const parsed = watchProgress.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`Log-watch job ${job.id ?? '?'} has invalid data: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    }
    const upgrade = await deps.upgrades.byId(parsed.data.upgradeId);
    if (!upgrade) throw new UnrecoverableError(`Upgrade ${parsed.data.upgradeId} does not exist; there is nothing to watch.`);
    return runWatch(deps, job, token, upgrade, parsed.data);
  };
}

/** Why the watch must end now, judged from the upgrade record; null while it should go on. */
function endFromRecord(upgrade: UpgradeRecord, progress: WatchProgress, nowMs: number): Exclude<EndReason, 'shutdown'> | null {
  if (upgrade.status !== 'succeeded') return 'superseded';
  const plannedEnd = progress.until * 1000;
  const until = upgrade.logWatchUntil?.getTime();
  // Stopping sets `log_watch_until` to the moment of the click: earlier than the planned end and already past.
  if (until !== undefined && until <= nowMs && until < plannedEnd) return 'stopped';
  if (nowMs >= plannedEnd) return 'until';
  return null;
}

async function runWatch(
  deps: LogWatchDeps,
  job: Job,
  token: string | undefined,
  initial: UpgradeRecord,
  progress: WatchProgress,
): Promise<unknown> {
  const statePollMs = deps.statePollMs ?? DEFAULT_STATE_POLL_MS;
  const progressSaveMs = deps.progressSaveMs ?? DEFAULT_PROGRESS_SAVE_MS;
  const followRetryMs = Math.min(statePollMs, 2_000);
  const log = deps.logger.child({ job: 'log-watch', upgradeId: initial.id, target: initial.target });
  const nowMs = () => deps.now().getTime();
  let upgrade = initial;
  const hadStarted = progress.startedAt !== null;
  const channel = upgrade.channelId;
  const threadTs = upgrade.messageTs;

  // ---------------------------------------------------------------- reporting
  let posting: Promise<unknown> = Promise.resolve();
  const post = (text: string): void => {
    if (!threadTs) return;
    posting = Promise.all([
      posting,
      deps.reporter.post(channel, threadTs, { text }).catch((err: unknown) => {
        log.warn({ err: errorText(err) }, 'log watch could not post to the thread');
      }),
    ]);
  };

  let runtime: RuntimeState | null = null;
  const finishWith = async (reason: Exclude<EndReason, 'shutdown'>): Promise<unknown> => {
    const started = progress.startedAt ?? Math.floor(nowMs() / 1000);
    const minutes = (Math.min(nowMs(), progress.until * 1000) - started * 1000) / 60_000;
    const shownRuntime: LogWatchRuntime | null = runtime
      ? { running: runtime.running, exitCode: runtime.exitCode, oomKilled: runtime.oomKilled }
      : null;
    let end: LogWatchEnd;
    if (reason === 'stopped') {
      const by = await deps.whoStopped?.(upgrade.id).catch(() => null);
      end = { kind: 'stopped', minutes, by: by ?? null, runtime: shownRuntime };
    } else if (reason === 'superseded') {
      end = { kind: 'superseded', minutes, status: upgrade.status, runtime: shownRuntime };
    } else {
      end = { kind: 'ended', minutes, runtime: shownRuntime };
    }
    post(summarizeLogWatch(progress.counts, progress.restarts, end));
    await posting;
    await deps.reporter.flush();
    log.info({ reason, counts: progress.counts, restarts: progress.restarts }, 'log watch finished');
    return { outcome: reason === 'until' ? 'ended' : reason, counts: progress.counts, restarts: progress.restarts };
  };

  // ---------------------------------------------------------------- before starting
  const endedAlready = endFromRecord(upgrade, progress, nowMs());
  if (endedAlready) {
    if (!hadStarted) {
      log.info({ reason: endedAlready }, 'log watch not started: it was over before it began');
      return { outcome: 'skipped', reason: endedAlready };
    }
    return finishWith(endedAlready);
  }
  if (!threadTs) {
    log.warn({}, 'log watch skipped: the upgrade has no thread to report to');
    return { outcome: 'skipped', reason: 'no_thread' };
  }
  let deployer: Deployer;
  try {
    deployer = deps.targets.resolve(upgrade.target).deployer;
  } catch (err) {
    throw new UnrecoverableError(`Log watch for \`${upgrade.target}\`: ${errorText(err)}`);
  }
  if (!hadStarted) {
    const nowSeconds = Math.floor(nowMs() / 1000);
    progress.startedAt = progress.since > 0 && progress.since <= nowSeconds ? progress.since : nowSeconds;
  }

  // ---------------------------------------------------------------- progress
  let dirty = !hadStarted;
  let lastSavedAt = 0;
  let saving: Promise<void> = Promise.resolve();
  const save = (force: boolean): Promise<void> => {
    if (!force && (!dirty || nowMs() - lastSavedAt < progressSaveMs)) return saving;
    dirty = false;
    lastSavedAt = nowMs();
    const snapshot: WatchProgress = { ...progress, counts: { ...progress.counts } };
    saving = saving.then(() =>
      job.updateData(snapshot).catch((err: unknown) => {
        dirty = true;
        log.warn({ err: errorText(err) }, 'log watch could not save its progress');
      }),
    );
    return saving;
  };
  await save(true);

  // ---------------------------------------------------------------- stopping
  const stop = new AbortController();
  let reason: EndReason | null = null;
  const end = (why: EndReason): void => {
    if (reason) return;
    reason = why;
    stop.abort();
  };
  const onShutdown = () => end('shutdown');
  if (deps.shutdownSignal.aborted) end('shutdown');
  deps.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
  const untilTimer = setTimeout(() => end('until'), Math.max(0, progress.until * 1000 - nowMs()));

  // ---------------------------------------------------------------- lines
  let lastNanos = progress.lastTimestamp ? timestampNanos(progress.lastTimestamp) : null;
  const onLine = (line: LogLine): void => {
    const nanos = line.timestamp ? timestampNanos(line.timestamp) : null;
    if (nanos !== null && lastNanos !== null && nanos <= lastNanos) return;
    if (nanos !== null) {
      lastNanos = nanos;
      progress.lastTimestamp = line.timestamp;
      progress.since = Math.max(progress.since, Math.floor(Number(nanos / 1_000_000_000n)));
    }
    const level = classifyLogLine(line.text);
    if (level === 'warn' || level === 'error' || level === 'fatal') progress.counts[level] += 1;
    if (level === 'fatal' && progress.fatalAlerts < MAX_FATAL_ALERTS) {
      progress.fatalAlerts += 1;
      post(fatalLineAlert({ target: upgrade.target, version: upgrade.toVersion, line: logLineForSlack(deps.scrub ? deps.scrub(line.text) : line.text), last: progress.fatalAlerts === MAX_FATAL_ALERTS }));
    }
    dirty = true;
    void save(false);
  };

  const follow = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      try {
        await deployer.followLogs(new Date(progress.since * 1000), onLine, stop.signal);
      } catch (err) {
        log.warn({ err: errorText(err) }, 'log watch could not follow the logs; retrying');
      }
      // The stream ends when the container stops; follow again once it runs (lines already counted are skipped).
      await pause(followRetryMs, stop.signal);
    }
  };

  // ---------------------------------------------------------------- state
  let stateProblem: string | null = null;
  const checkState = async (): Promise<void> => {
    let state: RuntimeState;
    try {
      state = await deployer.state();
    } catch (err) {
      const problem = errorText(err);
      if (problem !== stateProblem && isAppError(err) && err.code === 'not_found') {
        post(lostSightAlert(upgrade.target, problem));
      }
      if (problem !== stateProblem) log.warn({ err: problem }, 'log watch could not read the container state');
      stateProblem = problem;
      return;
    }
    stateProblem = null;
    runtime = state;
    if (state.restartCount > progress.restarts) {
      progress.restarts = state.restartCount;
      dirty = true;
      post(restartedAlert({ target: upgrade.target, restartCount: state.restartCount, oomKilled: state.oomKilled }));
      await save(true);
    }
    if (!state.running) {
      const key = `${state.finishedAt ?? ''}|${state.exitCode ?? ''}`;
      if (key !== progress.exitAlerted) {
        progress.exitAlerted = key;
        dirty = true;
        post(exitedAlert({ target: upgrade.target, exitCode: state.exitCode, oomKilled: state.oomKilled, error: state.error, restarting: state.restarting }));
        await save(true);
      }
    }
  };

  const checkRecord = async (): Promise<void> => {
    try {
      const fresh = await deps.upgrades.byId(upgrade.id);
      if (!fresh) return;
      upgrade = fresh;
      const why = endFromRecord(upgrade, progress, nowMs());
      if (why && why !== 'until') end(why);
    } catch (err) {
      log.warn({ err: errorText(err) }, 'log watch could not read the upgrade');
    }
  };

  const poll = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      await checkRecord();
      if (stop.signal.aborted) break;
      await checkState();
      await save(false);
      await pause(statePollMs, stop.signal);
    }
  };

  log.info({ since: progress.since, until: progress.until, resumed: hadStarted }, 'log watch following');
  try {
    await Promise.all([follow(), poll()]);
  } finally {
    clearTimeout(untilTimer);
    deps.shutdownSignal.removeEventListener('abort', onShutdown);
  }

  const why = reason as EndReason | null;
  await save(true);
  if (why === 'shutdown') {
    await posting;
    log.info({ since: progress.since, counts: progress.counts }, 'log watch interrupted by shutdown; it resumes from its last line');
    await job.moveToDelayed(Date.now() + 1_000, token);
    throw new DelayedError();
  }
  if (why === 'until') {
    await checkState();
  }
  return finishWith(why ?? 'until');
}

/**
 * Ends the log watch of an upgrade early: its processor notices at its next state poll and posts the summary.
 * `stopped` when a watch was running, `not_running` when it had ended already, `not_found` for an unknown upgrade.
 */
/** RFC 3339 with up to nanoseconds → nanoseconds since the epoch; Docker trims trailing zeros, so strings do not compare. */
function timestampNanos(timestamp: string): bigint | null {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(timestamp);
  if (!match) return null;
  const ms = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}
