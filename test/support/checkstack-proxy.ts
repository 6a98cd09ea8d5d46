// A loopback HTTP proxy in front of a fake Checkstack container, for the crash tests: it holds the requests to
// chosen paths until the test releases them (the bot then sits inside a step for as long as the test needs), and
// can serve some paths from another server, such as the fake Checkstack API's catalog and health checks.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface HeldPaths {
  /** Resolves with the path of the first held request once it came in. */
  arrived: Promise<string>;
  /** Lets the held requests (and later ones) through; a request whose caller has gone is dropped. */
  release(): void;
}

export interface CheckstackProxy {
  url: string;
  /** Every request path seen, in order. */
  paths: string[];
  /** From now on, requests to any of `paths` wait until `release`. */
  hold(paths: string[]): HeldPaths;
  close(): Promise<void>;
}

export interface CheckstackProxyOptions {
  /** Where requests go by default: the container's port on loopback. */
  port: number;
  /** Paths starting with `prefix` go to `port` instead. */
  routes?: Array<{ prefix: string; port: number }>;
}

export async function startCheckstackProxy({ port, routes = [] }: CheckstackProxyOptions): Promise<CheckstackProxy> {
  const paths: string[] = [];
  const holds: Array<{ paths: Set<string>; arrive(path: string): void; released: Promise<void>; release(): void; done: boolean }> = [];
  const sockets = new Set<Socket>();

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let callerGone = false;
    res.on('close', () => (callerGone = true));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    paths.push(path);
    for (const hold of holds.filter((h) => !h.done && h.paths.has(path))) {
      hold.arrive(path);
      await hold.released;
    }
    if (callerGone) return;
    const upstreamPort = routes.find((r) => path.startsWith(r.prefix))?.port ?? port;
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${upstreamPort}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    upstream.end(Buffer.concat(chunks));
  }

  const server = createServer((req, res) => {
    forward(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${own}`,
    paths,
    hold(held) {
      let arrive!: (path: string) => void;
      let release!: () => void;
      const arrived = new Promise<string>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      const hold = {
        paths: new Set(held),
        arrive,
        released,
        release: () => {
          hold.done = true;
          release();
        },
        done: false,
      };
      holds.push(hold);
      return { arrived, release: hold.release };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const hold of holds) hold.release();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
