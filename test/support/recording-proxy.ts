// A loopback forward proxy (CONNECT tunnels and absolute-form HTTP requests) that records what went through it,
// to prove which outbound calls take the operator's proxy and which NO_PROXY sends direct.
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface RecordingProxy {
  url: string;
  /** `CONNECT host:port` or `GET http://host:port/path`, in the order they came. */
  seen: string[];
  /**
   * For each tunnel to a plain-HTTP origin, what went through it first: `host:port GET /path` and ` (websocket)` for
   * an upgrade. A TLS tunnel shows its handshake's bytes here, not a request line.
   */
  tunnelled: string[];
  close(): Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const seen: string[] = [];
  const tunnelled: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host = '', port = '0'] = (req.url ?? '').split(':');
    const recordFirst = (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      tunnelled.push(`${req.url} ${text.split('\r\n')[0]}${/^upgrade:\s*websocket/im.test(text) ? ' (websocket)' : ''}`);
    };
    if (head.length > 0) recordFirst(head);
    else client.once('data', recordFirst);
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => (socket === client ? upstream : client).destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    tunnelled,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
