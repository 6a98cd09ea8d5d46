import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSlackTransport, type SlackTransport } from '../../src/slack/slack-transport.js';

interface Seen {
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describe('Slack transport: the fetch the WebClient and respond() use', () => {
  let server: Server | null = null;
  let transport: SlackTransport | null = null;

  afterEach(async () => {
    transport?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
    transport = null;
  });

  async function serve(
    handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void,
  ): Promise<{ url: string; seen: Seen[]; connections: () => number; clientClosed: Promise<void> }> {
    const seen: Seen[] = [];
    let connections = 0;
    let onClientClosed: () => void = () => undefined;
    const clientClosed = new Promise<void>((resolve) => (onClientClosed = resolve));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const entry = { method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
        seen.push(entry);
        handler(req, res, entry);
      });
    });
    server.on('connection', (socket) => {
      connections++;
      // 'end' is the client's FIN: the client let the connection go (the server's own timeout destroys without it).
      socket.once('end', onClientClosed);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, connections: () => connections, clientClosed };
  }

  it('sends the method, headers and body, and answers with status, headers and the whole body', async () => {
    const { url, seen } = await serve((_req, res) => {
      res.writeHead(429, 'Too Many Requests', { 'content-type': 'application/json', 'Retry-After': '7', 'x-slack-req-id': 'r1' });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    });
    transport = createSlackTransport();
    const response = await transport.fetch(`${url}/api/chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer xoxb-test' },
      body: 'channel=C1&text=hi%20there',
    });
    expect(seen).toEqual([{ method: 'POST', headers: expect.objectContaining({ 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer xoxb-test' }), body: 'channel=C1&text=hi%20there' }]);
    expect(response).toMatchObject({ ok: false, status: 429, statusText: 'Too Many Requests', url: `${url}/api/chat.postMessage` });
    expect(response.headers.get('Retry-After')).toBe('7');
    expect(response.headers.get('x-missing')).toBeNull();
    expect(Object.fromEntries(response.headers.entries())).toMatchObject({ 'retry-after': '7', 'x-slack-req-id': 'r1' });
    expect(await response.json()).toEqual({ ok: false, error: 'ratelimited' });
    expect(await response.text()).toBe('{"ok":false,"error":"ratelimited"}');
    expect(Buffer.from(await response.arrayBuffer()).toString()).toBe('{"ok":false,"error":"ratelimited"}');
  });

  it("keeps one connection for calls in a row, and lets it go a second before the server's keep-alive timeout", async () => {
    const { url, connections, clientClosed } = await serve((_req, res) => res.end('{"ok":true}'));
    // Announced as `Keep-Alive: timeout=2`: the connection is kept for one second.
    server!.keepAliveTimeout = 2_500;
    transport = createSlackTransport();
    for (let i = 0; i < 3; i++) expect((await transport.fetch(url, { method: 'POST', body: 'x' })).ok).toBe(true);
    expect(connections()).toBe(1);
    await clientClosed;
    expect((await transport.fetch(url, { method: 'POST', body: 'x' })).ok).toBe(true);
    expect(connections()).toBe(2);
  });

  it('fails a call the server never answers once the connection is silent for the idle timeout', async () => {
    const { url } = await serve(() => undefined);
    transport = createSlackTransport({ idleTimeoutMs: 200 });
    await expect(transport.fetch(url, { method: 'POST', body: 'x' })).rejects.toThrow('Slack did not answer within 200 ms');
  });

  it('stops at the abort signal the WebClient passes for its own timeout', async () => {
    const { url } = await serve(() => undefined);
    transport = createSlackTransport();
    await expect(transport.fetch(url, { method: 'POST', body: 'x', signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: 'AbortError' });
    const aborted = AbortSignal.abort();
    await expect(transport.fetch(url, { method: 'POST', body: 'x', signal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('does not follow redirects, unless asked for the redirect itself', async () => {
    const { url } = await serve((_req, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
    transport = createSlackTransport();
    await expect(transport.fetch(url, { method: 'POST', body: 'x', redirect: 'error' })).rejects.toThrow('Slack answered 302 (a redirect to http://127.0.0.1:1/elsewhere); redirects are not followed');
    await expect(transport.fetch(url, { method: 'POST', body: 'x' })).rejects.toThrow('redirects are not followed');
    const manual = await transport.fetch(url, { method: 'POST', body: 'x', redirect: 'manual' });
    expect(manual.status).toBe(302);
  });

  it('fails an answer larger than the limit, and one cut off before its end', async () => {
    const { url } = await serve((req, res) => {
      if (req.url === '/large') {
        res.end('x'.repeat(64 * 1024));
        return;
      }
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"ok":', () => res.socket?.destroy());
    });
    transport = createSlackTransport({ maxResponseBytes: 16 * 1024 });
    await expect(transport.fetch(`${url}/large`, { method: 'POST', body: 'x' })).rejects.toThrow(`Slack's answer exceeded ${16 * 1024} bytes`);
    await expect(transport.fetch(`${url}/cut`, { method: 'POST', body: 'x' })).rejects.toThrow();
  });

  it('refuses bodies it does not carry and protocols other than http(s)', async () => {
    transport = createSlackTransport();
    await expect(transport.fetch('http://127.0.0.1:1/', { method: 'POST', body: new FormData() })).rejects.toThrow('only text bodies are supported');
    await expect(transport.fetch('ftp://127.0.0.1/', { method: 'POST', body: 'x' })).rejects.toThrow('unsupported protocol ftp:');
  });
});
