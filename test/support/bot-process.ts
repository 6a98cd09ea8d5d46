// Runs the real bot in a child process, so a test can SIGKILL it mid-upgrade and start it again; it talks to the
// fakes in the test process over loopback and to the real Postgres, Redis and Docker engine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './repo-root.js';
import { BOT_TOKEN, SIGNING_SECRET } from './test-bot.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ENTRY = join(HERE, 'bot-process-entry.ts');

/** Where a child bot finds the test's fakes and services; the rest of its environment is set here. */
export interface BotProcessServices {
  slackApiUrl: string;
  githubUrl: string;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
}

/** The environment of a child bot: the test's secrets and services, no release polling of its own, debug logs. */
export function botProcessEnv(services: BotProcessServices): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: services.slackApiUrl,
    PORT: '0',
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    QUEUE_PREFIX: services.queuePrefix,
    GITHUB_API_URL: services.githubUrl,
    RELEASE_POLL_INTERVAL: '3600',
    LOG_LEVEL: 'debug',
  };
}

/** For bots a test kills: their jobs are noticed as stalled within seconds instead of BullMQ's default 30 s lock. */
export const QUICK_STALL_DETECTION = { JOB_LOCK_SECONDS: '10', JOB_STALLED_CHECK_SECONDS: '5' } as const;

export interface BotProcessOptions {
  /** The bot's environment (SLACK_*, DATABASE_URL, REDIS_URL, QUEUE_PREFIX…), on top of this process's own. */
  env: Record<string, string>;
  /** The config file's content; written to a temporary file passed as CONFIG_FILE. */
  configYaml: string;
  /** How long to wait for `READY <port>` (default 60 s: loading the modules alone takes 10 s on a busy machine). */
  readyTimeoutMs?: number;
  /** Prefix for the child's lines echoed to this process's stderr (default: not echoed). */
  echo?: string;
}

export interface BotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BotProcess {
  pid: number;
  port: number;
  url: string;
  /** Every line the child wrote to stdout and stderr so far (JSON log lines, and anything else). */
  logs: string[];
  /** The log lines parsed as JSON (other lines skipped). */
  entries(): Record<string, unknown>[];
  /** False once the child has exited. */
  running(): boolean;
  /** Resolves when the child has exited. */
  exited: Promise<BotExit>;
  /** Sends `signal` (default SIGKILL) and resolves once the child is gone. */
  kill(signal?: NodeJS.Signals): Promise<BotExit>;
  /** Resolves with the first line (seen so far or later) matching `pattern`; rejects after the timeout or if the child exits first. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export async function startBotProcess(options: BotProcessOptions): Promise<BotProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ck-bot-process-'));
  const configFile = join(dir, 'checkstack-chatops.yml');
  writeFileSync(configFile, options.configYaml);

  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env, CONFIG_FILE: configFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const exited = new Promise<BotExit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      rmSync(dir, { recursive: true, force: true });
      resolveExit({ code, signal });
    });
  });
  let exitedAlready = false;
  void exited.then(() => {
    exitedAlready = true;
    for (const listener of listeners) listener('');
  });

  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        logs.push(line);
        if (options.echo) process.stderr.write(`${options.echo} ${line}\n`);
        for (const listener of listeners) listener(line);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);

  const waitForLog = (pattern: RegExp, timeoutMs = 30_000): Promise<string> => {
    const seen = logs.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      const done = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (line: string) => {
        if (line && pattern.test(line)) {
          done();
          resolveLine(line);
        } else if (exitedAlready) {
          done();
          reject(new Error(`bot process ${child.pid} exited before a line matched ${pattern}; last lines:\n${logs.slice(-15).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`no line matched ${pattern} within ${timeoutMs} ms; last lines:\n${logs.slice(-15).join('\n')}`));
      }, timeoutMs);
      listeners.add(listener);
      if (exitedAlready) listener('');
    });
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<BotExit> => {
    if (!exitedAlready) child.kill(signal);
    return exited;
  };

  let port: number;
  try {
    const ready = await waitForLog(/^READY \d+$/, options.readyTimeoutMs ?? 60_000);
    port = Number(ready.slice('READY '.length));
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    entries: () =>
      logs.flatMap((line) => {
        if (!line.startsWith('{')) return [];
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    running: () => !exitedAlready,
    exited,
    kill,
    waitForLog,
  };
}
