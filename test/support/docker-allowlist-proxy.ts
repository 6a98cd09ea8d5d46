// A loopback HTTP proxy in front of the test Docker engine that forwards only the calls src/targets/docker-endpoints.ts
// lists and answers anything else 403, as the socket proxy of docker-compose.yml does, recording each refusal. The
// Docker end-to-end suites point the bot's `docker.host` at it and fail when any call was refused: the endpoint list
// is proven complete by the suites that exercise every step.
import { request as httpRequest, createServer, type IncomingMessage, type RequestOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { DOCKER_ENDPOINTS, endpointLabel, matchDockerEndpoint, type DockerEndpoint } from '../../src/targets/docker-endpoints.js';

export interface DockerCall {
  method: string;
  /** The path without the query, as the socket proxy matches it. */
  path: string;
}

export interface DockerAllowlistProxy {
  /** `tcp://127.0.0.1:<port>`, for a target's `docker.host`. */
  host: string;
  /** Calls answered 403, in order. */
  refused(): DockerCall[];
  /** Returns the refusals so far and forgets them. */
  takeRefused(): DockerCall[];
  /** Labels (`GET /events`) of the allowlisted endpoints that were called at least once. */
  endpointsUsed(): string[];
  close(): Promise<void>;
}

export interface DockerAllowlistProxyOptions {
  /** The engine: `unix:///…/docker.sock`, `tcp://host:port` or `http://host:port` (default `DOCKER_HOST`). */
  upstream?: string;
  /** The allowlist (default: every endpoint the bot calls); the doctor's tests take one away. */
  endpoints?: readonly DockerEndpoint[];
}

function upstreamOptions(host: string): Pick<RequestOptions, 'socketPath' | 'host' | 'port'> {
  const url = new URL(host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  return { host: url.hostname, port: Number(url.port || 2375) };
}

export async function startDockerAllowlistProxy(options: DockerAllowlistProxyOptions = {}): Promise<DockerAllowlistProxy> {
  const upstreamHost = options.upstream ?? process.env.DOCKER_HOST;
  if (!upstreamHost) throw new Error('startDockerAllowlistProxy needs DOCKER_HOST or an upstream');
  const upstream = upstreamOptions(upstreamHost);
  const endpoints = options.endpoints ?? DOCKER_ENDPOINTS;
  let refused: DockerCall[] = [];
  const used = new Set<string>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    let path: string;
    try {
      // Go's r.URL.Path, which the socket proxy matches, is the decoded path without the query.
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://docker').pathname);
    } catch {
      path = req.url ?? '/';
    }
    const endpoint = matchDockerEndpoint(method, path, endpoints);
    if (!endpoint) {
      refused.push({ method, path });
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Forbidden\n');
      return;
    }
    used.add(endpointLabel(endpoint));
    const forward = httpRequest({ ...upstream, method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${err.message}\n`);
      else res.destroy(err);
    });
    // A client that hangs up (a log follow stopped, a pull aborted) ends the upstream call too.
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `tcp://127.0.0.1:${port}`,
    refused: () => [...refused],
    takeRefused() {
      const taken = refused;
      refused = [];
      return taken;
    },
    endpointsUsed: () => [...used].sort(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * For a Docker end-to-end suite: starts the proxy before the suite's own `beforeAll` (call it first in the
 * `describe`), fails the test during which a call was refused, and fails the suite when its hooks made one.
 */
export function useDockerAllowlistProxy(): { readonly host: string; proxy(): DockerAllowlistProxy } {
  let proxy: DockerAllowlistProxy | null = null;
  const running = () => {
    if (!proxy) throw new Error('the Docker allowlist proxy is not running: call useDockerAllowlistProxy() inside a describe whose suite runs');
    return proxy;
  };
  beforeAll(async () => {
    proxy = await startDockerAllowlistProxy();
  });
  afterEach(() => {
    if (proxy) expect(proxy.takeRefused(), 'Docker calls outside src/targets/docker-endpoints.ts').toEqual([]);
  });
  // Registered before the suite's own afterAll, so it runs after it (hooks unwind like a stack): the bot has stopped.
  afterAll(async () => {
    if (!proxy) return;
    const late = proxy.takeRefused();
    await proxy.close();
    expect(late, 'Docker calls outside src/targets/docker-endpoints.ts (in a hook)').toEqual([]);
  });
  return {
    get host() {
      return running().host;
    },
    proxy: running,
  };
}
