// The Docker deployer's pull when the engine goes away mid-pull, against a stand-in engine on a unix socket that
// drops connections, disappears and comes back on cue (the real-engine restart is in docker-restart.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import type { PullProgress } from '../../src/targets/deployer.js';
import { createDockerDeployer } from '../../src/targets/docker.js';

const IMAGE = '127.0.0.1:5000/checkstack:0.141.0';
const PULL_LINES = [
  { status: 'Pulling from checkstack', id: '0.141.0' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '15fb21dfc922' },
  { status: 'Downloading', progressDetail: { current: 512, total: 1059 }, id: '15fb21dfc922' },
  { status: 'Pull complete', progressDetail: {}, id: '15fb21dfc922' },
  { status: `Status: Downloaded newer image for ${IMAGE}` },
];

/** How the stand-in engine answers one `POST /images/create`. */
type Answer = 'drop-mid-stream' | 'stall-mid-stream' | 'complete' | 'registry-500';

interface StandInEngine {
  socketPath: string;
  /** Answers still to give, in order; when empty, every pull completes. */
  answers: Answer[];
  requests: number;
  listen(): Promise<void>;
  /** Stops listening and removes the socket, as a stopping dockerd does. */
  stop(): Promise<void>;
}

function standInEngine(dir: string): StandInEngine {
  const socketPath = join(dir, 'docker.sock');
  let server: Server | null = null;
  const engine: StandInEngine = {
    socketPath,
    answers: [],
    requests: 0,
    listen: () =>
      new Promise<void>((resolve) => {
        const s = createServer((req, res) => {
          engine.requests += 1;
          req.resume();
          answer(res, engine.answers.shift() ?? 'complete');
        });
        s.listen(socketPath, () => resolve());
        server = s;
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
        server = null;
      }),
  };
  return engine;
}

function answer(res: ServerResponse, how: Answer): void {
  if (how === 'registry-500') {
    res.writeHead(500, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused' }));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  if (how === 'drop-mid-stream' || how === 'stall-mid-stream') {
    res.write(PULL_LINES.slice(0, 3).map((line) => JSON.stringify(line)).join('\r\n') + '\r\n');
    if (how === 'drop-mid-stream') setTimeout(() => res.socket?.destroy(), 50);
    return;
  }
  res.end(PULL_LINES.map((line) => JSON.stringify(line)).join('\r\n') + '\r\n');
}

describe('Docker deployer: a pull while the engine goes away', () => {
  let dir: string;
  let engine: StandInEngine;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ck-pull-'));
    engine = standInEngine(dir);
  });

  afterEach(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const deployer = (engineRetryBudgetMs: number) =>
    createDockerDeployer({
      docker: new Dockerode({ socketPath: engine.socketPath }),
      target: { container: 'checkstack' },
      logger: pino({ level: 'silent' }),
      engineRetryBudgetMs,
    });
  const notices = (progress: PullProgress[]) => progress.map((p) => p.status).filter((s) => s.startsWith('Docker engine unreachable'));

  it('pulls again when the engine drops the progress stream, and says it retries', async () => {
    await engine.listen();
    engine.answers.push('drop-mid-stream');
    const progress: PullProgress[] = [];

    await deployer(30_000).pull(IMAGE, (p) => progress.push(p));

    expect(engine.requests).toBe(2);
    expect(notices(progress)).toEqual([expect.stringMatching(/^Docker engine unreachable: .+; retrying in 1 s$/)]);
    // The notice keeps the layer counts the engine had reported, then the second pull reports to its end.
    expect(progress.find((p) => p.status.startsWith('Docker engine'))).toMatchObject({ layersTotal: 1, bytesCurrent: 512 });
    expect(progress.at(-1)).toMatchObject({ layersDone: 1, status: `Status: Downloaded newer image for ${IMAGE}` });
  });

  it('waits for an engine whose socket is gone until it listens again', async () => {
    const progress: PullProgress[] = [];
    let listening: Promise<void> | undefined;

    await deployer(60_000).pull(IMAGE, (p) => {
      progress.push(p);
      // The engine comes back while the deployer waits after its second try.
      if (notices(progress).length === 2) listening ??= engine.listen();
    });

    expect(notices(progress)).toEqual([
      expect.stringMatching(/^Docker engine unreachable: connect ENOENT .*docker\.sock; retrying in 1 s$/),
      expect.stringMatching(/^Docker engine unreachable: connect ENOENT .*docker\.sock; retrying in 2 s$/),
    ]);
    expect(engine.requests).toBe(1);
  });

  it('fails naming the engine and the last reason when it stays away longer than the budget', async () => {
    const progress: PullProgress[] = [];

    const error = await deployer(2_500).pull(IMAGE, (p) => progress.push(p)).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'deployer_error', details: { image: IMAGE, engine: `unix://${engine.socketPath}` } });
    expect((error as Error).message).toMatch(
      new RegExp(`^Docker engine \`unix://${engine.socketPath}\` did not answer for [\\d.]+ s while pulling \`${IMAGE.replace(/\./g, '\\.')}\` \\(last error: connect ENOENT `),
    );
    // 1 s, then what was left of the budget (the second wait of 2 s would overrun it).
    expect(notices(progress)[0]).toMatch(/retrying in 1 s$/);
    expect((error as { details: { waitedMs: number } }).details.waitedMs).toBeGreaterThanOrEqual(2_500);
  });

  it('does not retry what the engine answered with a status (the registry failed)', async () => {
    await engine.listen();
    engine.answers.push('registry-500');
    const progress: PullProgress[] = [];

    const error = await deployer(30_000).pull(IMAGE, (p) => progress.push(p)).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'image_pull_failed', details: { statusCode: 500 } });
    expect(engine.requests).toBe(1);
    expect(notices(progress)).toEqual([]);
  });

  it('stops retrying at once when aborted, without calling it a failure of the pull', async () => {
    const controller = new AbortController();
    const progress: PullProgress[] = [];

    const error = await deployer(600_000)
      .pull(
        IMAGE,
        (p) => {
          progress.push(p);
          controller.abort();
        },
        controller.signal,
      )
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('AbortError');
    expect(isAppError(error)).toBe(false);
    expect(notices(progress)).toHaveLength(1);
  });

  it('does not take its own abort in the middle of a pull for an engine that went away', async () => {
    await engine.listen();
    engine.answers.push('stall-mid-stream');
    const controller = new AbortController();
    const progress: PullProgress[] = [];

    const error = await deployer(600_000)
      .pull(
        IMAGE,
        (p) => {
          progress.push(p);
          if (p.layersTotal === 1) controller.abort();
        },
        controller.signal,
      )
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(Error);
    expect(isAppError(error)).toBe(false);
    expect(engine.requests).toBe(1);
    expect(notices(progress)).toEqual([]);
  });
});
