// A loopback TCP proxy that can hold traffic: while held, accepted bytes wait in order (both ways) until release.
// In front of the registry it keeps a `docker pull` in progress for as long as a test needs.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface GatedProxy {
  port: number;
  /** Holds all traffic from now on. */
  hold(): void;
  /**
   * Lets traffic through until a client sends bytes containing `marker` (e.g. the digest of a layer blob),
   * then holds from those bytes on: the pull has started and stays in the middle of its transfer.
   */
  holdFrom(marker: string): void;
  /** True while traffic is held. */
  holding(): boolean;
  /** Sends what waited, in order, and lets traffic flow again. */
  release(): void;
  close(): Promise<void>;
}

export async function startGatedProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<GatedProxy> {
  let held = false;
  let marker: Buffer | null = null;
  const queued: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket, fromClient: boolean) =>
    from.on('data', (chunk: Buffer) => {
      if (fromClient && marker && chunk.includes(marker)) {
        held = true;
        marker = null;
      }
      if (held || queued.length > 0) queued.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => sock.destroy());
    }
    forward(client, upstream, true);
    forward(upstream, client, false);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    hold: () => {
      held = true;
    },
    holdFrom: (text) => {
      marker = Buffer.from(text);
    },
    holding: () => held,
    release: () => {
      held = false;
      marker = null;
      for (const send of queued.splice(0)) send();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const sock of sockets) sock.destroy();
        server.close(() => resolve());
      }),
  };
}
