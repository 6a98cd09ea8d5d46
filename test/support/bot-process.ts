// Runs the real bot in a child process, so a test can SIGKILL it mid-upgrade and start it again; it talks to the
// fakes in the test process over loopback and to the real Postgres, Redis and Docker engine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ENTRY = join(HERE, 'bot-process-entry.ts');
const REPO_ROOT = resolve(HERE, '..', '..');

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
