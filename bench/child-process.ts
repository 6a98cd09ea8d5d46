// Runs a bench server in its own Node process (so the load generator never shares its event loop) and talks to it
// over the IPC channel: the child announces `ready` with what the parent needs, answers questions, stops on request.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../test/support/repo-root.js';

type ParentMessage = { type: 'ask'; id: number; question: string; args: unknown } | { type: 'stop' };
type ChildMessage =
  | { type: 'ready'; data: unknown }
  | { type: 'failed'; error: string }
  | { type: 'answer'; id: number; data?: unknown; error?: string };

export interface BenchChild<Ready> {
  name: string;
  pid: number;
  ready: Ready;
  ask<T>(question: string, args?: unknown): Promise<T>;
  /** Asks the child to clean up and exit; kills it if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartChildOptions {
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Extra Node flags for the child (e.g. `--cpu-prof`, `--trace-gc`), besides those in BENCH_NODE_ARGS. */
  execArgv?: string[];
  /** The bot under test: it runs with the runtime environment the image ships (see `shippedEnvironment`). */
  asShipped?: boolean;
}

/** What the image's environment sets for the Node runtime itself; the rest (PORT, CONFIG_FILE) is the bench's to set. */
const RUNTIME_VARIABLES = ['NODE_ENV', 'NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'UV_THREADPOOL_SIZE'];

/** The runtime variables the Dockerfile's last stage sets with `ENV`, so the bench measures the bot as it is deployed. */
export function shippedEnvironment(): Record<string, string> {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtimeStage.split('\n').filter((l) => /^ENV\s/.test(l))) {
    for (const [, key, quoted, bare] of line.matchAll(/([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|(\S*))/g)) {
      if (RUNTIME_VARIABLES.includes(key!)) env[key!] = quoted ?? bare ?? '';
    }
  }
  return env;
}

// Run from source (tsx), children load their .ts under tsx too; from the compiled bench build, plain .js as in production.
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Forks `bench/<script>` and resolves once it has announced `ready`. */
export async function startChild<Ready>(script: string, options: StartChildOptions = {}): Promise<BenchChild<Ready>> {
  const path = fileURLToPath(new URL(`${script}${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url));
  // The child's own output goes to our stderr: stdout carries only figures.
  const child = fork(path, [], {
    // BENCH_NODE_ARGS (space-separated) adds Node flags to every server child, for profiling a bench run.
    execArgv: [
      ...(FROM_SOURCE ? ['--import', 'tsx'] : []),
      ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ...(options.execArgv ?? []),
    ],
    env: { ...process.env, ...(options.asShipped ? shippedEnvironment() : {}), ...options.env },
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await waitForReady<Ready>(child, script, options.readyTimeoutMs ?? 120_000).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });

  let nextId = 0;
  const pending = new Map<number, { resolve(data: unknown): void; reject(err: Error): void }>();
  child.on('message', (raw: ChildMessage) => {
    if (raw.type !== 'answer') return;
    const waiter = pending.get(raw.id);
    pending.delete(raw.id);
    if (raw.error !== undefined) waiter?.reject(new Error(`${script}: ${raw.error}`));
    else waiter?.resolve(raw.data);
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited`));
    pending.clear();
  });

  return {
    name: script,
    pid: child.pid!,
    ready,
    ask<T>(question: string, args?: unknown) {
      return new Promise<T>((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve: resolve as (data: unknown) => void, reject });
        send(child, { type: 'ask', id, question, args });
      });
    },
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      send(child, { type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Stops children in the reverse of their start order, one after the other: a bot still shutting down keeps talking to
 * the fake Slack it was started against, so that goes last.
 */
export async function stopChildren(children: BenchChild<unknown>[], timeoutMs?: number): Promise<void> {
  for (const child of [...children].reverse()) await child.stop(timeoutMs);
}

function send(child: ChildProcess, message: ParentMessage): void {
  if (child.connected) child.send(message);
}

function waitForReady<Ready>(child: ChildProcess, script: string, timeoutMs: number): Promise<Ready> {
  return new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} was not ready within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready (code ${code}, signal ${signal})`));
    };
    child.once('exit', onExit);
    child.on('message', function onMessage(raw: ChildMessage) {
      if (raw.type !== 'ready' && raw.type !== 'failed') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      if (raw.type === 'ready') resolve(raw.data as Ready);
      else reject(new Error(`${script} failed to start: ${raw.error}`));
    });
  });
}

export interface ChildRole<Ready> {
  start(): Promise<Ready>;
  answers?: Record<string, (args: unknown) => unknown>;
  /** Cleans up (close servers, drop databases); runs once, on `stop` or when the parent goes away. */
  stop(): Promise<void>;
}

/** A setting the parent passes to a child in its environment. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this script runs as a bench child of bench/run.ts)`);
  return value;
}

/** CPU time (user + system) this process has used so far, in ms; every child answers `cpu`. */
function cpuMilliseconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export interface ChildStats {
  rssMb: number;
  heapUsedMb: number;
  /** Event-loop delay since the last `stats` (or since ready), in ms. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

let loopDelay: IntervalHistogram | null = null;

/** Memory and event-loop delay of this process; every child answers `stats` (and resets the delay histogram). */
function childStats(): ChildStats {
  const { rss, heapUsed } = process.memoryUsage();
  const h = loopDelay;
  const stats = {
    rssMb: rss / 2 ** 20,
    heapUsedMb: heapUsed / 2 ** 20,
    loopDelayP50Ms: h ? h.percentile(50) / 1e6 : Number.NaN,
    loopDelayP99Ms: h ? h.percentile(99) / 1e6 : Number.NaN,
    loopDelayMaxMs: h ? h.max / 1e6 : Number.NaN,
  };
  h?.reset();
  return stats;
}

/** The child side: starts, reports `ready`, answers, and cleans up once when told to stop or orphaned. */
export function runChild<Ready>(role: ChildRole<Ready>): void {
  if (!process.send) throw new Error('this script runs as a bench child process (started by bench/run.ts)');
  const reply = (message: ChildMessage) => {
    if (process.connected) process.send!(message);
  };
  let stopping: Promise<void> | null = null;
  const stop = (code: number) => {
    stopping ??= role
      .stop()
      .catch((err: unknown) => console.error('bench child cleanup failed', err))
      .finally(() => process.exit(code));
  };
  process.on('message', (raw: ParentMessage) => {
    if (raw.type === 'stop') return stop(0);
    const answer = raw.question === 'cpu' ? cpuMilliseconds : raw.question === 'stats' ? childStats : role.answers?.[raw.question];
    if (!answer) return reply({ type: 'answer', id: raw.id, error: `no answer for "${raw.question}"` });
    Promise.resolve()
      .then(() => answer(raw.args))
      .then(
        (data) => reply({ type: 'answer', id: raw.id, data }),
        (err: unknown) => reply({ type: 'answer', id: raw.id, error: String(err) }),
      );
  });
  process.on('disconnect', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  role.start().then(
    (data) => {
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      reply({ type: 'ready', data });
    },
    (err: unknown) => {
      reply({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      stop(1);
    },
  );
}
