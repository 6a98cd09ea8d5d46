// Slack's HTTP transport: every Web API call and every `respond()` to a response_url goes over node:http(s) agents
// that keep connections alive, and each answer is read whole into a small response object that fulfils the
// `FetchFunction` contract of @slack/web-api 8 (which Bolt also uses for `respond()`).
//
// Why not Node's fetch (measured: bench/README.md, "What sets the tail", "Allocation and promotion": with this
// transport a click allocates 116 KB instead of 159 KB, and 25 KB of it outlives a scavenge, under bare Bolt's 38 KB):
// Node 20's fetch registers every response it returns in a FinalizationRegistry, holding a
// WeakRef to the body stream, and V8 clears those only in a full (mark-compact) GC. So each response's stream and
// fetch state survived every young-generation GC and were promoted: at 100 clicks/s that was 23 KB of old-space
// garbage per click, half of all the bot promoted, paid for in more mark-compacts, longer pauses and a larger RSS.
// Keep it while a bench run still shows that difference.
//
// The operator's proxy (HTTPS_PROXY/HTTP_PROXY/NO_PROXY, decided by src/domain/proxy-route.ts like every other
// outbound call) is a CONNECT tunnel per kept connection, so keep-alive holds through it.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { FetchFunction } from '@slack/web-api';
import { proxyFor, type ProxyConfig } from '../domain/proxy-route.js';

// @slack/web-api exports only the function type; its parts are derived from it.
type FetchRequestInit = NonNullable<Parameters<FetchFunction>[1]>;
type FetchResponse = Awaited<ReturnType<FetchFunction>>;
type FetchHeaders = FetchResponse['headers'];

export interface SlackTransportOptions {
  /** A request whose connection stays silent this long fails (Slack's clients then retry it). */
  idleTimeoutMs?: number;
  /** How long an unused connection is kept for the next call; Slack's edge closes idle ones itself. */
  keepAliveMs?: number;
  /** Larger answers fail instead of filling memory; Slack's largest are a few hundred KB. */
  maxResponseBytes?: number;
  /** The operator's outbound proxy (config.proxy); none when omitted. */
  proxy?: ProxyConfig;
  /** Extra certificate authorities Slack's certificate may chain to (tests; operators use NODE_EXTRA_CA_CERTS). */
  ca?: string;
}

export interface SlackTransport {
  fetch: FetchFunction;
  /** Closes the kept connections (at shutdown). */
  close(): void;
}

export class SlackTransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlackTransportError';
  }
}

function responseHeaders(headers: http.IncomingHttpHeaders): FetchHeaders {
  const joined = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);
  return {
    get: (name) => joined(headers[name.toLowerCase()]) ?? null,
    entries: () => Object.entries(headers).flatMap(([name, value]) => (value === undefined ? [] : [[name, joined(value)!] as [string, string]])),
  };
}

function bufferedResponse(url: URL, res: http.IncomingMessage, body: Buffer): FetchResponse {
  const status = res.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: res.statusMessage ?? '',
    url: url.href,
    headers: responseHeaders(res.headers),
    arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
    text: async () => body.toString('utf8'),
    json: async () => JSON.parse(body.toString('utf8')) as unknown,
  };
}

/** Opens a CONNECT tunnel to `host:port` through the proxy (over TLS when the proxy itself is https://). */
function openTunnel(proxy: URL, host: string, port: number, timeoutMs: number): Promise<Duplex> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const credentials = proxy.username ? `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}` : null;
  return new Promise((resolve, reject) => {
    const request = (proxy.protocol === 'https:' ? https : http).request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...(credentials ? { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` } : {}) },
      agent: false,
    });
    request.setTimeout(timeoutMs, () => request.destroy(new SlackTransportError(`The proxy did not open a tunnel to ${authority} within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.on('connect', (res, socket, head) => {
      socket.setTimeout(0);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new SlackTransportError(`The proxy refused a tunnel to ${authority}: ${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trimEnd()));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.end();
  });
}

/** A keep-alive agent whose connections are CONNECT tunnels through `proxy`; TLS to Slack runs inside the tunnel. */
function tunnellingAgent(protocol: 'http:' | 'https:', proxy: URL, tunnelTimeoutMs: number, options: https.AgentOptions): http.Agent {
  const Base = protocol === 'https:' ? https.Agent : http.Agent;
  return new (class extends Base {
    override createConnection(target: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
      const host = target.host ?? 'localhost';
      const port = Number(target.port) || (protocol === 'https:' ? 443 : 80);
      // On failure Node's agent reads only the error (the request then fails with it).
      const fail = callback as ((err: Error) => void) | undefined;
      openTunnel(proxy, host, port, tunnelTimeoutMs).then(
        (socket) => callback?.(null, protocol === 'https:' ? tls.connect({ ...(target as tls.ConnectionOptions), socket }) : socket),
        (err: Error) => fail?.(err),
      );
      return undefined;
    }
  })(options);
}

export function createSlackTransport({
  idleTimeoutMs = 30_000,
  keepAliveMs = 4_000,
  maxResponseBytes = 16 * 1024 * 1024,
  proxy = { httpsProxy: null, httpProxy: null, noProxy: null },
  ca,
}: SlackTransportOptions = {}): SlackTransport {
  // An agent's `timeout` applies to its idle connections too; `keepSocketAlive` shortens it to the server's
  // `Keep-Alive: timeout=` hint, so a connection is not reused just as the server closes it.
  const options: https.AgentOptions = { keepAlive: true, timeout: keepAliveMs, ...(ca ? { ca } : {}) };
  const direct = { 'http:': new http.Agent(options), 'https:': new https.Agent(options) };
  // Through a proxy: one agent per protocol and proxy, made on first use.
  const tunnels = new Map<string, http.Agent>();
  const agentFor = (url: URL): http.Agent => {
    const protocol = url.protocol as 'http:' | 'https:';
    const via = proxyFor(url, proxy);
    if (!via) return direct[protocol];
    const key = `${protocol} ${via}`;
    let agent = tunnels.get(key);
    if (!agent) {
      agent = tunnellingAgent(protocol, new URL(via), idleTimeoutMs, options);
      tunnels.set(key, agent);
    }
    return agent;
  };

  const fetch: FetchFunction = (input, init: FetchRequestInit = {}) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const url = typeof input === 'string' ? new URL(input) : input;
      const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
      if (!client) return reject(new SlackTransportError(`Slack transport: unsupported protocol ${url.protocol}`));
      // Strings are all the Web API and respond() send; multipart (file uploads) is a method the bot never calls.
      if (init.body !== undefined && typeof init.body !== 'string') return reject(new SlackTransportError('Slack transport: only text bodies are supported'));
      const request = client.request(url, {
        method: init.method ?? 'GET',
        headers: init.headers,
        agent: agentFor(url),
        ...(init.signal ? { signal: init.signal } : {}),
      });
      request.setTimeout(idleTimeoutMs, () => request.destroy(new SlackTransportError(`Slack did not answer within ${idleTimeoutMs} ms`)));
      request.on('error', reject);
      request.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && init.redirect !== 'manual') {
          res.resume();
          reject(new SlackTransportError(`Slack answered ${status} (a redirect to ${res.headers.location ?? 'nowhere'}); redirects are not followed`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) request.destroy(new SlackTransportError(`Slack's answer exceeded ${maxResponseBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new SlackTransportError('Slack closed the connection before its answer was complete'));
        });
        res.on('end', () => resolve(bufferedResponse(url, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))));
      });
      request.end(init.body);
    });

  return {
    fetch,
    close: () => {
      for (const agent of [direct['http:'], direct['https:'], ...tunnels.values()]) agent.destroy();
    },
  };
}
