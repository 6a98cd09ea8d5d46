// Slack's HTTP transport: every Web API call and every `respond()` to a response_url goes over node:http(s) agents
// that keep connections alive, and each answer is read whole into a small response object that fulfils the
// `FetchFunction` contract of @slack/web-api 8 (which Bolt also uses for `respond()`).
//
// Why not Node's fetch: Node 20's fetch registers every response it returns in a FinalizationRegistry, holding a
// WeakRef to the body stream, and V8 clears those only in a full (mark-compact) GC. So each response's stream and
// fetch state survived every young-generation GC and were promoted: at 100 clicks/s that was 23 KB of old-space
// garbage per click, half of all the bot promoted, paid for in more mark-compacts, longer pauses and a larger RSS.
import http from 'node:http';
import https from 'node:https';
import type { FetchFunction } from '@slack/web-api';

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

export function createSlackTransport({ idleTimeoutMs = 30_000, keepAliveMs = 4_000, maxResponseBytes = 16 * 1024 * 1024 }: SlackTransportOptions = {}): SlackTransport {
  // An agent's `timeout` applies to its idle connections too; `keepSocketAlive` shortens it to the server's
  // `Keep-Alive: timeout=` hint, so a connection is not reused just as the server closes it.
  const agents = {
    'http:': new http.Agent({ keepAlive: true, timeout: keepAliveMs }),
    'https:': new https.Agent({ keepAlive: true, timeout: keepAliveMs }),
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
        agent: agents[url.protocol as 'http:' | 'https:'],
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
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
