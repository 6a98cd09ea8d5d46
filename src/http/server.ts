// The bot's one HTTP server: Slack's signed requests go to Bolt's receiver, the operational routes are ours.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';

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

export function createHttpServer({ slackListener, slackPath = '/slack/events', routes, onError }: HttpServerOptions): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (slackListener && path === slackPath) {
      slackListener(req, res);
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
