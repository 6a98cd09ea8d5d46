// The bot's one HTTP server: Slack's signed requests go to Bolt's receiver, the operational routes are ours.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { parsesToNonObject } from './slack-body.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  /** Bolt's HTTPReceiver listener; absent in Socket Mode. */
  slackListener?: RequestListener;
  slackPath?: string;
  routes: Record<string, RouteHandler>;
  onError(err: unknown, req: IncomingMessage): void;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Bolt's own default: larger bodies get 413. */
const SLACK_BODY_LIMIT = 4 * 1024 * 1024;

/** Slack's replay window; Bolt 5 enforces it only for timestamps in the past. */
const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/**
 * Two gaps in Bolt 5's receiver, closed before it sees the request: it reads `body.ssl_check` without a guard, so a
 * body that parses to JSON `null` (e.g. `payload=null`) becomes an unhandled rejection that ends the process (see
 * `parsesToNonObject`); and it accepts a timestamp any distance in the future. Such requests get 400 and 401;
 * everything else goes to Bolt, which verifies the signature and reuses the buffered `rawBody`.
 */
function guardSlackBody(slackListener: RequestListener): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= SLACK_BODY_LIMIT) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const timestamp = Number(req.headers['x-slack-request-timestamp']);
      if (Number.isFinite(timestamp) && timestamp - Date.now() / 1000 > MAX_CLOCK_SKEW_SECONDS) {
        res.writeHead(401).end();
        return;
      }
      if (size > SLACK_BODY_LIMIT) {
        res.writeHead(413).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      if (parsesToNonObject(raw, req.headers['content-type'])) {
        res.writeHead(400).end();
        return;
      }
      Object.assign(req, { rawBody: raw });
      slackListener(req, res);
    });
  };
}

export function createHttpServer({ slackListener, slackPath = '/slack/events', routes, onError }: HttpServerOptions): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (slackListener && path === slackPath) {
      guardSlackBody(slackListener)(req, res);
      return;
    }
    const route = routes[`${req.method} ${path}`];
    if (!route) {
      const known = Object.keys(routes).some((r) => r.endsWith(` ${path}`)) || (slackListener && path === slackPath);
      sendJson(res, known ? 405 : 404, { error: known ? 'method not allowed' : 'not found' });
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      onError(err, req);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  return server;
}

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
