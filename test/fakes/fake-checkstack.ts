// A loopback Checkstack speaking the protocol of shared/checkstack-api.md, as each era answers it; each test mutates
// `state` to stage its scenario.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Which release line the fake plays:
 * - `current`: the platform endpoints (`/.checkstack/ready|health`, `/api/about` with `releaseVersion`), probes that
 *   answer while booting, keys that carry their roles' access rules.
 * - `0.31`: a release before the platform endpoints, as shared/checkstack-api.md "Older releases" records it (verified
 *   live on 0.31.0): the single-page app answers every unknown path (so `/.checkstack/ready` is 200 `text/html`, or 404
 *   `text/plain` without a built UI), `/api/about` is 500 from the RPC mount, there is no `/rest`, a request before
 *   `Checkstack Core initialized` kills the process, keys get none of their rules, a wrong key is anonymous, and a
 *   paused check stays `enabled: true` with no `paused` field.
 */
export type FakeEra = 'current' | '0.31';

export interface FakeReadyCheck {
  name: string;
  critical: boolean;
  ok: boolean;
  message?: string;
  durationMs?: number;
}

export type FakeReadyState =
  | { kind: 'ready'; checks?: FakeReadyCheck[] }
  | { kind: 'booting' }
  | { kind: 'failed_init'; error: string }
  | { kind: 'not_ready'; checks: FakeReadyCheck[] }
  /** The socket is destroyed without an answer, as while the container restarts. */
  | { kind: 'drop' };

export type FakeRunStatus = 'healthy' | 'unhealthy' | 'degraded';

export interface FakeRun {
  id: string;
  status: FakeRunStatus;
  timestamp: Date;
}

export interface FakeHealthCheck {
  configurationId: string;
  configurationName: string;
  intervalSeconds: number;
  enabled: boolean;
  paused?: boolean;
  runs: FakeRun[];
}

export interface FakeSystem {
  id: string;
  name: string;
  description?: string | null;
  checks: FakeHealthCheck[];
}

export interface FakeDeliveryLog {
  id: string;
  subscriptionId: string;
  subscriptionName?: string;
  eventType: string;
  status: 'pending' | 'success' | 'failed' | 'retrying';
  attempts: number;
  lastAttemptAt?: Date;
  errorMessage?: string;
  createdAt: Date;
}

export interface FakeApiKey {
  key: string;
  /** Access rules its roles grant; 'all' for an admin's key. */
  access: string[] | 'all';
}

export interface FakePlugin {
  name: string;
  version: string;
  type: string;
}

export interface FakeCheckstackState {
  releaseVersion: string;
  coreVersion: string;
  plugins: FakePlugin[];
  ready: FakeReadyState;
  /** Consumed one per `GET /.checkstack/ready` before `ready` applies: booting, flapping, restarts. */
  readyScript: FakeReadyState[];
  era: FakeEra;
  /**
   * The process has started but not yet logged `Checkstack Core initialized`. `current`: `/.checkstack/ready` answers
   * 503 initializing, `/.checkstack/health` 200, everything else 503. `0.31`: any request is answered and then kills
   * the process (see `died`).
   */
  booting: boolean;
  /** Every request's socket is destroyed: the container is down. */
  down: boolean;
  /** `GET /` in the `current` era. */
  ui: { status: number; html: boolean };
  /** `0.31`: the image ships the built UI, so the single-page app answers unknown paths; false for a development run. */
  uiBuilt: boolean;
  systems: FakeSystem[];
  deliveryLogs: FakeDeliveryLog[];
  apiKeys: FakeApiKey[];
  /** Access rules anonymous callers hold (Checkstack's defaults). */
  publicAccess: string[];
}

export interface FakeRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/** Why a `0.31`-era fake is gone: the request that arrived before `Checkstack Core initialized`. */
export interface FakeDeath {
  request: FakeRequest;
  /** What the real process logs as it dies. */
  error: string;
}

export interface FakeCheckstackOptions {
  state?: Partial<FakeCheckstackState>;
  /** Listen on this port (to come back on the same address after a simulated restart). */
  port?: number;
  /** The fake's clock for `getDeliveryStats` windows. */
  now?: () => Date;
}

export interface FakeCheckstack {
  url: string;
  port: number;
  state: FakeCheckstackState;
  requests: FakeRequest[];
  /** Record a run of a health check, as the scheduler would. */
  addRun(systemId: string, configurationId: string, timestamp: Date, status?: FakeRunStatus): void;
  /** Requests to this path wait until the returned function is called. */
  hold(path: string): () => void;
  /** The process restarts and boots again: see `state.booting`. */
  boot(): void;
  /** Init finished: the moment the real process logs `Checkstack Core initialized`. */
  initialize(): void;
  /** Set once a request killed a booting `0.31`-era process; its listener and every socket are closed then. */
  readonly died: FakeDeath | null;
  close(): Promise<void>;
}

export const FAKE_ADMIN_KEY = 'ck_00000000-0000-4000-8000-000000000001_admin-secret-value';
export const FAKE_READONLY_KEY = 'ck_00000000-0000-4000-8000-000000000002_readonly-secret-value';

export function defaultFakeState(): FakeCheckstackState {
  return {
    releaseVersion: '0.140.0',
    coreVersion: '0.27.0',
    plugins: [
      { name: '@checkstack/catalog-backend', version: '0.12.0', type: 'backend' },
      { name: '@checkstack/healthcheck-backend', version: '0.30.1', type: 'backend' },
      { name: '@checkstack/integration-backend', version: '0.9.0', type: 'backend' },
    ],
    ready: { kind: 'ready' },
    readyScript: [],
    era: 'current',
    booting: false,
    down: false,
    ui: { status: 200, html: true },
    uiBuilt: true,
    systems: [],
    deliveryLogs: [],
    apiKeys: [
      { key: FAKE_ADMIN_KEY, access: 'all' },
      { key: FAKE_READONLY_KEY, access: ['catalog.system.read', 'healthcheck.healthcheck.status.read'] },
    ],
    publicAccess: ['catalog.system.read', 'healthcheck.healthcheck.status.read'],
  };
}

/**
 * Checkstack's UI entry as its image serves it: `core/frontend/index.html` (title "Checkstack Health Monitor", the
 * `root` element) after the Vite build, which puts the hashed module script and stylesheet into the head.
 */
export const CHECKSTACK_INDEX_HTML = `<!doctype html>
<html lang="en">

<head>
  <meta charset="UTF-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1.0" />
  <title>Checkstack Health Monitor</title>
  <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
  <script type="module" crossorigin src="/assets/index-D8kV0b3Q.js"></script>
  <link rel="stylesheet" crossorigin href="/assets/index-Cq5wK1mR.css">
</head>

<body>
  <div id="root"></div>
</body>

</html>
`;

/** Newer releases inline the frontend bootstrap before the module script (`core/backend/src/bootstrap-html.ts`). */
function withBootstrap(html: string, baseUrl: string): string {
  const tag = `<script>window.__CHECKSTACK_BOOTSTRAP__ = ${JSON.stringify({ config: { baseUrl, publicPathPrefixes: [] }, enabledPlugins: [] })};</script>`;
  return html.replace('<script type="module"', `${tag}\n    <script type="module"`);
}

/** What the process logs as a request before init kills it (Hono's SmartRouter froze its matcher). */
const EARLY_REQUEST_ERROR = 'Can not add a route since the matcher is already built';

const DEFAULT_READY_CHECKS: FakeReadyCheck[] = [
  { name: 'database', critical: true, ok: true, durationMs: 3 },
  { name: 'queue', critical: true, ok: true, durationMs: 1 },
  { name: 'plugins', critical: false, ok: true, durationMs: 0 },
];

class RpcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Procedure {
  access: string;
  /** Anonymous callers may call it when they hold the access rule. */
  publicProcedure: boolean;
  /** The resource a call is about (`0.31` refuses those with `Access denied to resource <resource>:<id>`). */
  resource?: (input: Record<string, unknown>) => string | undefined;
  handle(input: Record<string, unknown>, caller: { granted: (rule: string) => boolean }): unknown;
}

export async function startFakeCheckstack(options: FakeCheckstackOptions = {}): Promise<FakeCheckstack> {
  const state: FakeCheckstackState = { ...defaultFakeState(), ...options.state };
  const now = options.now ?? (() => new Date());
  const requests: FakeRequest[] = [];
  const holds = new Map<string, { promise: Promise<void>; release: () => void }>();
  const sockets = new Set<Socket>();
  let died: FakeDeath | null = null;
  const systemResource = (input: Record<string, unknown>) => (typeof input.systemId === 'string' ? `catalog.system:${input.systemId}` : undefined);

  const procedures: Record<string, Procedure> = {
    'catalog/getSystems': {
      access: 'catalog.system.read',
      publicProcedure: true,
      handle: () => ({
        systems: state.systems.map((s) => ({
          id: s.id,
          name: s.name,
          description: s.description ?? null,
          metadata: {},
          createdAt: new Date('2025-01-01T00:00:00.000Z'),
          updatedAt: new Date('2025-01-01T00:00:00.000Z'),
        })),
      }),
    },
    'healthcheck/getSystemHealthOverview': {
      access: 'healthcheck.healthcheck.status.read',
      publicProcedure: true,
      resource: systemResource,
      handle: (input) => {
        const systemId = requireString(input, 'systemId');
        const system = state.systems.find((s) => s.id === systemId);
        return {
          systemId,
          checks: (system?.checks ?? []).map((c) => {
            const runs = newestFirst(c.runs).slice(0, 25);
            return {
              configurationId: c.configurationId,
              configurationName: c.configurationName,
              strategyId: 'http',
              intervalSeconds: c.intervalSeconds,
              enabled: c.enabled,
              // 0.31: pausing a check leaves `enabled: true`, and the overview has no field that says it is paused.
              ...(state.era === 'current' ? { paused: c.paused ?? false } : {}),
              status: runs[0]?.status ?? 'healthy',
              // Checkstack hands these out oldest first for the sparkline.
              recentRuns: [...runs].reverse().map((r) => ({ id: r.id, status: r.status, timestamp: r.timestamp, environmentId: null })),
            };
          }),
        };
      },
    },
    'healthcheck/getHistory': {
      access: 'healthcheck.healthcheck.status.read',
      publicProcedure: true,
      resource: systemResource,
      handle: (input) => {
        const systemId = requireString(input, 'systemId');
        const sortOrder = input.sortOrder;
        if (sortOrder !== 'asc' && sortOrder !== 'desc') throw new RpcError(400, 'BAD_REQUEST', 'Input validation failed');
        const limit = typeof input.limit === 'number' ? input.limit : 10;
        const system = state.systems.find((s) => s.id === systemId);
        const runs = (system?.checks ?? []).flatMap((c) =>
          c.runs.map((r) => ({ ...r, configurationId: c.configurationId, systemId, latencyMs: 12 })),
        );
        const sorted = newestFirst(runs);
        if (sortOrder === 'asc') sorted.reverse();
        return { runs: sorted.slice(0, limit), total: runs.length };
      },
    },
    'integration/getDeliveryLogs': {
      access: 'integration.integration.manage',
      publicProcedure: false,
      handle: (input) => {
        const page = typeof input.page === 'number' ? input.page : 1;
        const pageSize = typeof input.pageSize === 'number' ? input.pageSize : 20;
        if (page < 1 || pageSize < 1 || pageSize > 100) throw new RpcError(400, 'BAD_REQUEST', 'Input validation failed');
        const matching = state.deliveryLogs
          .filter((l) => input.status === undefined || l.status === input.status)
          .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
        return { logs: matching.slice((page - 1) * pageSize, page * pageSize), total: matching.length };
      },
    },
    'integration/getDeliveryStats': {
      access: 'integration.integration.manage',
      publicProcedure: false,
      handle: (input) => {
        const hours = typeof input.hours === 'number' ? input.hours : 24;
        if (hours < 1 || hours > 720) throw new RpcError(400, 'BAD_REQUEST', 'Input validation failed');
        const since = now().getTime() - hours * 3_600_000;
        const logs = state.deliveryLogs.filter((l) => l.createdAt.getTime() >= since);
        const count = (status: string) => logs.filter((l) => l.status === status).length;
        return {
          total: logs.length,
          successful: count('success'),
          failed: count('failed'),
          retrying: count('retrying'),
          pending: count('pending'),
          byEvent: [],
          byProvider: [],
        };
      },
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const path = url.pathname;
    const rawBody = await readBody(req);
    const request: FakeRequest = { method: req.method ?? 'GET', path, authorization: req.headers.authorization, body: parseMaybe(rawBody) };
    requests.push(request);

    const held = holds.get(path);
    if (held) await held.promise;
    if (state.down) {
      req.socket.destroy();
      return;
    }
    if (state.era === '0.31') return answerEra031(req, res, request, rawBody);

    if (path === '/.checkstack/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path === '/.checkstack/ready' && req.method === 'GET') {
      return answerReady(req, res, state.booting ? { kind: 'booting' } : (state.readyScript.shift() ?? state.ready));
    }
    // Every other request waits for init (up to 30 s) and then gets 503; the fake does not make the test wait.
    if (state.booting) return sendJson(res, 503, { error: 'Service initializing' }, { 'retry-after': '1' });
    if (path === '/api/about' && req.method === 'GET') {
      return sendJson(res, 200, { releaseVersion: state.releaseVersion, coreVersion: state.coreVersion, plugins: state.plugins });
    }
    const rpc = /^\/api\/([^/]+)\/([^/]+)$/.exec(path);
    if (rpc) {
      if (req.method !== 'POST') return sendRpcError(res, new RpcError(405, 'METHOD_NOT_SUPPORTED', 'Method not allowed'));
      return answerProcedure(req, res, `${rpc[1]}/${rpc[2]}`, rawBody);
    }
    if (path === '/' && req.method === 'GET') {
      if (state.ui.html) {
        res.writeHead(state.ui.status, { 'content-type': 'text/html; charset=UTF-8', 'cache-control': 'no-cache' });
        res.end(withBootstrap(CHECKSTACK_INDEX_HTML, `http://127.0.0.1:${port}`));
      } else {
        sendJson(res, state.ui.status, { error: 'no ui' });
      }
      return;
    }
    sendText(res, 404, 'Not Found');
  }

  /** A release before the platform endpoints: only the RPC mount and the single-page app. */
  function answerEra031(req: IncomingMessage, res: ServerResponse, request: FakeRequest, rawBody: string): void {
    if (state.booting) {
      // The request is answered from the routes registered at module load; the plugins' routes that init adds next
      // throw, and the process dies.
      res.on('finish', () => die(request));
      return answerSpa(req, res);
    }
    const rpc = /^\/api\/([^/]+)(?:\/(.*))?$/.exec(request.path);
    if (rpc) {
      const name = `${rpc[1]}/${rpc[2] ?? ''}`;
      // `/api/:pluginId/*` is the RPC mount; `/api/about` asks it for a plugin called "about".
      if (!Object.keys(procedures).some((known) => known.startsWith(`${rpc[1]}/`))) {
        return sendJson(res, 500, { error: 'Plugin metadata not found in registry' });
      }
      if (req.method !== 'POST') return sendRpcError(res, new RpcError(405, 'METHOD_NOT_SUPPORTED', 'Method not allowed'));
      return answerProcedure(req, res, name, rawBody);
    }
    answerSpa(req, res);
  }

  /** The single-page app catches every path it does not know (`/.checkstack/*` and `/rest/*` included). */
  function answerSpa(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' || !state.uiBuilt) return sendText(res, 404, '404 Not Found', 'text/plain;charset=UTF-8');
    res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' });
    res.end(CHECKSTACK_INDEX_HTML);
  }

  function die(request: FakeRequest): void {
    if (died) return;
    died = { request, error: EARLY_REQUEST_ERROR };
    server.close();
    for (const socket of sockets) socket.destroy();
  }

  function answerReady(req: IncomingMessage, res: ServerResponse, ready: FakeReadyState): void {
    switch (ready.kind) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'booting':
        return sendJson(res, 503, { ready: false, reason: 'initializing', checks: [] }, { 'retry-after': '1' });
      case 'failed_init':
        return sendJson(res, 503, { ready: false, error: ready.error, checks: [] }, { 'retry-after': '5' });
      case 'not_ready':
        return sendJson(res, 503, { ready: false, checks: ready.checks });
      case 'ready':
        return sendJson(res, 200, { ready: true, checks: ready.checks ?? DEFAULT_READY_CHECKS });
    }
  }

  function answerProcedure(req: IncomingMessage, res: ServerResponse, name: string, rawBody: string): void {
    const procedure = procedures[name];
    if (!procedure) return sendRpcError(res, new RpcError(404, 'NOT_FOUND', 'Not found'));
    try {
      const granted = authorize(req.headers.authorization, procedure);
      let input: Record<string, unknown> = {};
      if (rawBody.length > 0) {
        const parsed = parseMaybe(rawBody);
        if (typeof parsed !== 'object' || parsed === null || !('json' in parsed)) {
          throw new RpcError(400, 'BAD_REQUEST', 'Invalid request body');
        }
        const json = (parsed as { json: unknown }).json;
        if (json !== undefined && (typeof json !== 'object' || json === null)) throw new RpcError(400, 'BAD_REQUEST', 'Input validation failed');
        input = (json ?? {}) as Record<string, unknown>;
      }
      // Instance-level filtering: a caller without the rule sees no systems rather than an error.
      if (name === 'catalog/getSystems' && !granted(procedure.access)) return sendRpcOk(res, { systems: [] });
      if (!granted(procedure.access)) {
        const resource = state.era === '0.31' ? procedure.resource?.(input) : undefined;
        throw new RpcError(403, 'FORBIDDEN', resource ? `Access denied to resource ${resource}` : `Missing access: ${procedure.access}`);
      }
      sendRpcOk(res, procedure.handle(input, { granted }));
    } catch (err) {
      if (err instanceof RpcError) return sendRpcError(res, err);
      sendRpcError(res, new RpcError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
    }
  }

  /** Returns what the caller holds, or throws 401 for a missing or unknown key (as each era decides). */
  function authorize(header: string | undefined, procedure: Procedure): (rule: string) => boolean {
    const token = header === undefined ? undefined : /^Bearer (.+)$/.exec(header)?.[1];
    const key = token === undefined ? undefined : state.apiKeys.find((k) => k.key === token);
    const anonymous = (): ((rule: string) => boolean) => {
      if (procedure.publicProcedure) return (rule) => state.publicAccess.includes(rule);
      throw new RpcError(401, 'UNAUTHORIZED', state.era === '0.31' ? 'Authentication required' : 'Unauthorized');
    };
    if (state.era === '0.31') {
      // A key that does not resolve is not refused: the caller is anonymous. A key that does holds none of its
      // roles' access rules (fixed upstream later).
      if (!key) return anonymous();
      return () => false;
    }
    if (header === undefined) return anonymous();
    if (!key) throw new RpcError(401, 'UNAUTHORIZED', 'Unauthorized');
    const access = key.access;
    return (rule) => access === 'all' || access.includes(rule);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendText(res, 500, 'fake failed');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    requests,
    addRun(systemId, configurationId, timestamp, status = 'healthy') {
      const check = state.systems.find((s) => s.id === systemId)?.checks.find((c) => c.configurationId === configurationId);
      if (!check) throw new Error(`fake-checkstack: no check ${configurationId} on system ${systemId}`);
      if (check.paused || !check.enabled) throw new Error(`fake-checkstack: check ${configurationId} is paused or disabled; the scheduler does not run it`);
      check.runs.push({ id: `run-${configurationId}-${check.runs.length + 1}`, status, timestamp });
    },
    hold(path) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.set(path, { promise, release });
      return () => {
        holds.delete(path);
        release();
      };
    },
    boot() {
      state.booting = true;
    },
    initialize() {
      state.booting = false;
    },
    get died() {
      return died;
    },
    async close() {
      for (const { release } of holds.values()) release();
      holds.clear();
      for (const socket of sockets) socket.destroy();
      // A fake that died has closed its listener already.
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) throw new RpcError(400, 'BAD_REQUEST', 'Input validation failed');
  return value;
}

function newestFirst<T extends { timestamp: Date }>(runs: T[]): T[] {
  return [...runs].sort((a, b) => b.timestamp.getTime() - a.timestamp.getTime());
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseMaybe(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** oRPC's JSON serializer: Dates become ISO strings and `meta` records where they were (`[1, ...path]`). */
function serialize(value: unknown, path: (string | number)[] = [], meta: unknown[][] = []): { json: unknown; meta: unknown[][] } {
  const walk = (v: unknown, at: (string | number)[]): unknown => {
    if (v instanceof Date) {
      meta.push([1, ...at]);
      return v.toISOString();
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...at, i]));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([, inner]) => inner !== undefined)
          .map(([k, inner]) => [k, walk(inner, [...at, k])]),
      );
    }
    return v;
  };
  return { json: walk(value, path), meta };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(text);
}

function sendRpcOk(res: ServerResponse, output: unknown): void {
  sendJson(res, 200, serialize(output));
}

function sendRpcError(res: ServerResponse, err: RpcError): void {
  sendJson(res, err.status, { json: { defined: false, code: err.code, status: err.status, message: err.message }, meta: [] });
}
