// A Docker engine of a test's own (same flags as .ci/docker-up.sh), so the test can stop and restart it without
// touching the shared engine at DOCKER_HOST that other suites use. Needs root and dockerd, as the CI does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import Dockerode from 'dockerode';

export interface PrivateDockerd {
  /** `unix://…/docker.sock`, for a target's `docker.host`. */
  host: string;
  socketPath: string;
  docker: Dockerode;
  /** SIGTERM, then waits for dockerd to exit (it stops its containers and its containerd first). */
  stop(): Promise<void>;
  /** Starts dockerd again on the same directories and waits until it answers. */
  start(): Promise<void>;
  /** Removes every container, then stops dockerd and removes the directory. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;

export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  // Short: a unix socket path must stay under ~107 bytes.
  const dir = mkdtempSync('/tmp/ck-pd.');
  const socketPath = `${dir}/docker.sock`;
  const logPath = `${dir}/dockerd.log`;
  const docker = new Dockerode({ socketPath });
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const log = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };

  async function start(): Promise<void> {
    if (child) throw new Error('the private dockerd already runs');
    const out = openSync(logPath, 'a');
    const started = spawn(
      'dockerd',
      [
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--storage-driver=vfs',
        '-H',
        `unix://${socketPath}`,
        '--data-root',
        `${dir}/data`,
        '--exec-root',
        `${dir}/exec`,
        '--pidfile',
        `${dir}/docker.pid`,
      ],
      { stdio: ['ignore', out, out] },
    );
    closeSync(out);
    child = started;
    exited = new Promise<void>((resolve) => {
      started.once('exit', () => {
        child = null;
        resolve();
      });
      started.once('error', () => {
        child = null;
        resolve();
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await docker.ping().then(() => true, () => false))) {
      if (!child || Date.now() > deadline) {
        throw new Error(`the private dockerd ${child ? 'did not answer in time' : 'exited'}; its log:\n${log().slice(-4_000)}`);
      }
      await delay(250);
    }
  }

  async function stop(): Promise<void> {
    const running = child;
    if (!running) return;
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  async function close(): Promise<void> {
    if (child) {
      const containers = await docker.listContainers({ all: true }).catch(() => []);
      for (const info of containers) {
        // Gone before dockerd stops, so no containerd-shim outlives it.
        await docker.getContainer(info.Id).remove({ force: true, v: true }).catch(() => undefined);
      }
      await stop();
    }
    // Mounts a killed engine may have left under the directory would make the removal fail or reach outside it.
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1] ?? '');
    for (const mountpoint of mounts.filter((m) => m.startsWith(`${dir}/`)).sort().reverse()) {
      spawnSync('umount', ['-l', mountpoint]);
    }
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    await start();
  } catch (err) {
    await close();
    throw err;
  }
  return { host: `unix://${socketPath}`, socketPath, docker, stop, start, close };
}
