// The client for one Checkstack instance's HTTP API (platform probes, /api/about, the UI and the RPC mount). It classifies
// what each release line really answers: releases before the platform endpoints (0.31 and around, see
// shared/checkstack-api.md "Older releases") serve the UI's page or 404 on `/.checkstack/*` and 500 on `/api/about`.
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { squashWhitespace } from '../util/squash-whitespace.js';

export const DEFAULT_CHECKSTACK_TIMEOUT_MS = 10_000;

/** An ISO date string on the wire, a Date in our hands; anything unparseable is a schema error. */
const isoDate = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an ISO date string' })
  .transform((s) => new Date(s));

const ReadyCheckSchema = z.object({
  name: z.string(),
  critical: z.boolean(),
  ok: z.boolean(),
  message: z.string().nullish(),
  durationMs: z.number().nullish(),
});

const ReadyBodySchema = z.object({
  ready: z.boolean(),
  reason: z.string().nullish(),
  error: z.string().nullish(),
  checks: z.array(ReadyCheckSchema).default([]),
});

const HealthBodySchema = z.object({ status: z.string() });

const PluginSchema = z.object({ name: z.string(), version: z.string(), type: z.string().nullish() });

const AboutSchema = z.object({
  releaseVersion: z.string(),
  coreVersion: z.string(),
  plugins: z.array(PluginSchema),
});

const SystemSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullish(),
  metadata: z.unknown().optional(),
  createdAt: isoDate.nullish(),
  updatedAt: isoDate.nullish(),
});

const SystemsOutputSchema = z.object({ systems: z.array(SystemSchema) });

const HealthRunSchema = z.object({ id: z.string(), status: z.string(), timestamp: isoDate });

const SystemHealthCheckSchema = z.object({
  configurationId: z.string(),
  configurationName: z.string().nullish(),
  intervalSeconds: z.number(),
  enabled: z.boolean(),
  /** Newer releases: a paused check skips execution. */
  paused: z.boolean().nullish(),
  status: z.string().nullish(),
  recentRuns: z.array(HealthRunSchema),
});

const SystemHealthOverviewSchema = z.object({
  systemId: z.string().nullish(),
  checks: z.array(SystemHealthCheckSchema),
});

const HistoryOutputSchema = z.object({
  runs: z.array(
    z.object({
      id: z.string(),
      configurationId: z.string(),
      systemId: z.string(),
      status: z.string(),
      timestamp: isoDate,
      latencyMs: z.number().nullish(),
    }),
  ),
  total: z.number(),
});

const DeliveryLogSchema = z.object({
  id: z.string(),
  subscriptionId: z.string(),
  subscriptionName: z.string().nullish(),
  eventType: z.string(),
  status: z.string(),
  attempts: z.number(),
  lastAttemptAt: isoDate.nullish(),
  errorMessage: z.string().nullish(),
  createdAt: isoDate,
});

const DeliveryLogsOutputSchema = z.object({ logs: z.array(DeliveryLogSchema), total: z.number() });

const DeliveryStatsSchema = z.object({
  total: z.number(),
  successful: z.number(),
  failed: z.number(),
  retrying: z.number(),
  pending: z.number(),
});

const ErrorEnvelopeSchema = z.object({
  json: z.object({
    defined: z.boolean().optional(),
    code: z.string(),
    status: z.number().optional(),
    message: z.string().optional(),
  }),
});

/** What Checkstack logs when init is done (`✅ Checkstack Core initialized.` in every release that logs it). */
export const INITIALIZED_LOG_TEXT = 'Checkstack Core initialized';

export type ReadyCheck = z.output<typeof ReadyCheckSchema>;
export interface ReadyAnswer {
  status: number;
  ready: boolean;
  reason?: string;
  error?: string;
  checks: ReadyCheck[];
  retryAfterSeconds?: number;
}
/**
 * A release without the readiness endpoint: its single-page app answers `/.checkstack/ready` with the UI's page
 * (`html`), or, without a built UI, with 404 (`not_found`). Neither says anything about readiness.
 */
export interface ReadyUnknown {
  status: number;
  unknown: true;
  answeredWith: 'html' | 'not_found';
}
export type PluginInfo = z.output<typeof PluginSchema>;
export type AboutInfo = z.output<typeof AboutSchema>;
export interface HealthAnswer {
  status: number;
  ok: boolean;
  /** Set when the release has no `/.checkstack/health` (the UI's page or 404 answered). */
  unknown?: true;
}
export interface UiAnswer {
  status: number;
  isHtml: boolean;
  /** The page is Checkstack's own UI entry, not just any HTML (a proxy's error page, another app). */
  isCheckstack: boolean;
}
export type CatalogSystem = z.output<typeof SystemSchema>;
export type SystemHealthCheck = z.output<typeof SystemHealthCheckSchema>;
export type SystemHealthOverview = z.output<typeof SystemHealthOverviewSchema>;
export type HealthHistory = z.output<typeof HistoryOutputSchema>;
export type DeliveryLogEntry = z.output<typeof DeliveryLogSchema>;
export type DeliveryLogPage = z.output<typeof DeliveryLogsOutputSchema>;
export type DeliveryStats = z.output<typeof DeliveryStatsSchema>;
export type DeliveryStatus = 'pending' | 'success' | 'failed' | 'retrying';

export interface CheckstackClient {
  /** The target's name as it appears in error messages. */
  readonly name: string;
  readonly hasApiKey: boolean;
  health(): Promise<HealthAnswer>;
  ready(): Promise<ReadyAnswer | ReadyUnknown>;
  /** null when the release has no `/api/about` (older releases answer 404, 405 or 500). */
  about(): Promise<AboutInfo | null>;
  ui(): Promise<UiAnswer>;
  getSystems(): Promise<CatalogSystem[]>;
  getSystemHealthOverview(systemId: string): Promise<SystemHealthOverview>;
  getHistory(systemId: string, limit: number): Promise<HealthHistory>;
  getDeliveryLogs(query: { page: number; pageSize: number; status?: DeliveryStatus }): Promise<DeliveryLogPage>;
  getDeliveryStats(hours: number): Promise<DeliveryStats>;
  /** The same instance asked without the API key: what anonymous callers may see. */
  anonymous(): CheckstackClient;
}

export interface CheckstackClientOptions {
  baseUrl: string;
  /** An application API key (`ck_<uuid>_<secret>`); sent only to procedure calls. */
  apiKey?: string;
  fetch?: typeof globalThis.fetch;
  timeoutMs?: number;
  logger: Logger;
  /** The target's name for messages ("GET /api/about on prod: ..."); defaults to the base URL's host. */
  name?: string;
}

export function isReadyUnknown(answer: ReadyAnswer | ReadyUnknown): answer is ReadyUnknown {
  return 'unknown' in answer;
}

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** HTML by its content type or its first bytes. */
function isHtml(res: RawResponse): boolean {
  return /text\/html/i.test(res.headers.get('content-type') ?? '') || /^\s*(<!doctype html|<html)/i.test(res.text);
}

/**
 * Checkstack's UI entry (`core/frontend/index.html`): its title names Checkstack ("Checkstack Health Monitor"), and
 * newer releases inline `window.__CHECKSTACK_BOOTSTRAP__` into it. Either tells it from any other HTML page.
 */
export function isCheckstackPage(html: string): boolean {
  return /<title>[^<]*\bcheckstack\b[^<]*<\/title>/i.test(html) || html.includes('__CHECKSTACK_BOOTSTRAP__');
}

/** `Missing access: <rule>` or `Access denied to resource <resource>:<id>`: the caller lacks an access rule. */
const MISSING_PERMISSIONS = /^(missing access\b|access denied to resource\b)/i;

export function createCheckstackClient(options: CheckstackClientOptions): CheckstackClient {
  const {
    baseUrl,
    apiKey,
    fetch = globalThis.fetch,
    timeoutMs = DEFAULT_CHECKSTACK_TIMEOUT_MS,
    logger,
    name,
  } = options;
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const targetName = name ?? base.host;
  const key = apiKey && apiKey.length > 0 ? apiKey : undefined;
  const log = logger.child({ checkstack: targetName });

  /** Defence in depth: whatever a server echoes back, the key never leaves through our text. */
  const scrub = (text: string): string => (key ? text.split(key).join('[REDACTED]') : text);

  const fail = (
    code: 'checkstack_unreachable' | 'checkstack_api_error' | 'checkstack_auth_failed',
    endpoint: string,
    how: string,
    details: Record<string, unknown> = {},
    cause?: unknown,
  ): AppError =>
    new AppError(code, scrub(`${endpoint} on ${targetName}: ${how}`), { target: targetName, endpoint, ...details }, { cause });

  async function send(method: 'GET' | 'POST', path: string, init: { body?: string; auth?: boolean } = {}): Promise<RawResponse> {
    const endpoint = `${method} ${path}`;
    const headers: Record<string, string> = { accept: 'application/json, text/html;q=0.9, */*;q=0.5' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.auth && key) headers.authorization = `Bearer ${key}`;
    const started = Date.now();
    try {
      const response = await fetch(new URL(path.replace(/^\//, ''), base), {
        method,
        headers,
        body: init.body,
        // Never follow a redirect with the key; the probes and the UI may sit behind one.
        redirect: init.auth ? 'manual' : 'follow',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      log.debug({ method, path, status: response.status, durationMs: Date.now() - started }, 'checkstack request');
      return { status: response.status, headers: response.headers, text };
    } catch (err) {
      const how = describeTransportError(err, timeoutMs);
      log.debug({ method, path, failure: scrub(how), durationMs: Date.now() - started }, 'checkstack request failed');
      throw fail('checkstack_unreachable', endpoint, how, { failure: how }, err);
    }
  }

  function parseJson(endpoint: string, res: RawResponse): unknown {
    try {
      return JSON.parse(res.text) as unknown;
    } catch {
      throw fail('checkstack_api_error', endpoint, `answered ${res.status} with a body that is not JSON`, { status: res.status });
    }
  }

  function validate<S extends z.ZodType>(schema: S, endpoint: string, status: number, value: unknown): z.output<S> {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw fail('checkstack_api_error', endpoint, `unexpected answer (${describeIssues(parsed.error)})`, { status });
  }

  async function procedure<S extends z.ZodType>(pluginId: string, proc: string, input: unknown, schema: S): Promise<z.output<S>> {
    const path = `/api/${pluginId}/${proc}`;
    const endpoint = `POST ${path}`;
    const res = await send('POST', path, { body: JSON.stringify({ json: input }), auth: true });
    if (res.status === 200) {
      const body = parseJson(endpoint, res);
      if (typeof body !== 'object' || body === null || !('json' in body)) {
        throw fail('checkstack_api_error', endpoint, 'unexpected answer (no `json` envelope)', { status: res.status });
      }
      return validate(schema, endpoint, res.status, body.json);
    }
    throw procedureError(endpoint, res);
  }

  function procedureError(endpoint: string, res: RawResponse): AppError {
    let envelope: z.output<typeof ErrorEnvelopeSchema>['json'] | undefined;
    try {
      const parsed = ErrorEnvelopeSchema.safeParse(JSON.parse(res.text));
      if (parsed.success) envelope = parsed.data.json;
    } catch {
      // Not JSON (a proxy's error page, say): the status alone has to do.
    }
    const code = envelope?.code;
    const message = envelope?.message ? squashWhitespace(scrub(envelope.message), 300) : undefined;
    const details = { status: res.status, ...(code ? { code } : {}), ...(message ? { message } : {}) };
    if (res.status === 401) {
      return key
        ? fail('checkstack_auth_failed', endpoint, 'API key rejected (401)', { ...details, reason: 'rejected' })
        : fail('checkstack_auth_failed', endpoint, 'needs an API key and none is configured (401)', {
            ...details,
            reason: 'missing_key',
          });
    }
    if (res.status === 403 && message && MISSING_PERMISSIONS.test(message)) {
      return key
        ? fail('checkstack_auth_failed', endpoint, `API key lacks permissions: ${message}`, {
            ...details,
            reason: 'missing_permissions',
          })
        : fail('checkstack_auth_failed', endpoint, `needs an API key and none is configured (${message})`, {
            ...details,
            reason: 'missing_key',
          });
    }
    const what = [code, message].filter(Boolean).join(': ');
    return fail('checkstack_api_error', endpoint, `answered ${res.status}${what ? ` ${what}` : ''}`, details);
  }

  const client: CheckstackClient = {
    name: targetName,
    hasApiKey: key !== undefined,

    async health() {
      const res = await send('GET', '/.checkstack/health');
      if (res.status === 404 || (res.status === 200 && isHtml(res))) return { status: res.status, ok: false, unknown: true };
      if (res.status !== 200) return { status: res.status, ok: false };
      const body = HealthBodySchema.safeParse(safeJson(res.text));
      return { status: res.status, ok: body.success && body.data.status === 'ok' };
    },

    async ready() {
      const path = '/.checkstack/ready';
      const endpoint = `GET ${path}`;
      const res = await send('GET', path);
      // The single-page app of a release without the endpoint answers for it: never "not ready", never a failure.
      if (res.status === 404) return { status: 404, unknown: true, answeredWith: 'not_found' };
      if (res.status === 200 && isHtml(res)) return { status: 200, unknown: true, answeredWith: 'html' };
      if (res.status !== 200 && res.status !== 503) {
        throw fail('checkstack_api_error', endpoint, `answered ${res.status}`, { status: res.status });
      }
      const body = validate(ReadyBodySchema, endpoint, res.status, parseJson(endpoint, res));
      const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
      return {
        status: res.status,
        ready: res.status === 200 && body.ready,
        ...(body.reason ? { reason: body.reason } : {}),
        ...(body.error ? { error: squashWhitespace(scrub(body.error), 300) } : {}),
        checks: body.checks,
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      };
    },

    async about() {
      const path = '/api/about';
      const endpoint = `GET ${path}`;
      const res = await send('GET', path);
      // Older releases route every /api/* to the RPC mount: 0.31 answers 500 "Plugin metadata not found in registry"
      // (no plugin is called "about"); others refuse the GET with 405, or have no such route (404).
      if (res.status === 404 || res.status === 405 || res.status >= 500) {
        log.debug({ path, status: res.status }, 'checkstack release has no /api/about');
        return null;
      }
      if (res.status !== 200) throw fail('checkstack_api_error', endpoint, `answered ${res.status}`, { status: res.status });
      return validate(AboutSchema, endpoint, res.status, parseJson(endpoint, res));
    },

    async ui() {
      const res = await send('GET', '/');
      const html = isHtml(res);
      return { status: res.status, isHtml: html, isCheckstack: html && isCheckstackPage(res.text) };
    },

    async getSystems() {
      return (await procedure('catalog', 'getSystems', {}, SystemsOutputSchema)).systems;
    },

    getSystemHealthOverview(systemId) {
      return procedure('healthcheck', 'getSystemHealthOverview', { systemId }, SystemHealthOverviewSchema);
    },

    getHistory(systemId, limit) {
      return procedure('healthcheck', 'getHistory', { systemId, limit, sortOrder: 'desc' }, HistoryOutputSchema);
    },

    getDeliveryLogs({ page, pageSize, status }) {
      return procedure(
        'integration',
        'getDeliveryLogs',
        { page, pageSize, ...(status ? { status } : {}) },
        DeliveryLogsOutputSchema,
      );
    },

    getDeliveryStats(hours) {
      return procedure('integration', 'getDeliveryStats', { hours }, DeliveryStatsSchema);
    },

    anonymous() {
      return key ? createCheckstackClient({ ...options, apiKey: undefined }) : client;
    },
  };
  return client;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Retry-After as delta-seconds; an HTTP-date is ignored (Checkstack sends seconds). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number.parseInt(value, 10);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

const TRANSPORT_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
};

function describeTransportError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const code = findErrorCode(err);
  if (code && TRANSPORT_CODES[code]) return TRANSPORT_CODES[code];
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const message = cause instanceof Error ? cause.message : String(cause);
  return squashWhitespace(code ? `${message} (${code})` : message, 200);
}

function findErrorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== 'ERR_INVALID_ARG_TYPE') return code;
  const nested = (err as { cause?: unknown; errors?: unknown[] }).cause ?? (err as { errors?: unknown[] }).errors?.[0];
  return findErrorCode(nested, depth + 1);
}
