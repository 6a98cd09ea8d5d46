// The benchmarks' load generator: its rate, its open loop and its counts decide what the load figures mean.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { steadyLoad } from '../../bench/steady-load.js';

interface Arrival {
  at: number;
  body: string;
  remotePort: number;
}

describe('steady load (bench/steady-load.ts)', () => {
  let server: Server | null = null;

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  async function serve(answer: (req: IncomingMessage, res: ServerResponse, index: number) => void): Promise<{ url: string; arrivals: Arrival[] }> {
    const arrivals: Arrival[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const index = arrivals.push({ at: performance.now(), body: Buffer.concat(chunks).toString(), remotePort: req.socket.remotePort! }) - 1;
        answer(req, res, index);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/slack/events`, arrivals };
  }

  it('sends rate × seconds requests spread over the time, over one connection per request a second, each body to its connections', async () => {
    const { url, arrivals } = await serve((_req, res) => res.writeHead(200).end('ok'));
    const startedAt = performance.now();
    const result = await steadyLoad({
      url,
      body: '',
      headers: {},
      rate: 20,
      durationSeconds: 2,
      requests: [
        { body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        { body: 'b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      ],
    });
    expect(result.latenciesMs).toHaveLength(40);
    expect(result).toMatchObject({ errors: 0, timeouts: 0, non2xx: 0, statusCodes: { 200: 40 } });
    expect(arrivals).toHaveLength(40);
    // Request k is due at k × 50 ms after the start: the last one cannot arrive before 1.95 s. (Measured from the
    // start, not from the first arrival, which a slow connection setup delays on a loaded machine.)
    expect(arrivals.at(-1)!.at - startedAt).toBeGreaterThanOrEqual(1950);
    // 20 connections, each reused for its second request, each always with the same body.
    const bodyByPort = new Map<number, Set<string>>();
    for (const a of arrivals) bodyByPort.set(a.remotePort, (bodyByPort.get(a.remotePort) ?? new Set()).add(a.body));
    expect(bodyByPort.size).toBe(20);
    expect([...bodyByPort.values()].every((bodies) => bodies.size === 1)).toBe(true);
    expect(arrivals.filter((a) => a.body === 'a=1')).toHaveLength(20);
  });

  it('is an open loop: requests go on schedule while an earlier one is still unanswered, and its wait is its latency', async () => {
    const { url, arrivals } = await serve((_req, res, index) => {
      if (index === 0) setTimeout(() => res.writeHead(200).end(), 400);
      else res.writeHead(200).end();
    });
    const result = await steadyLoad({ url, body: 'x', headers: {}, rate: 10, durationSeconds: 1 });
    expect(arrivals).toHaveLength(10);
    // Requests 1 to 3 (due at 100, 200 and 300 ms) arrived before the first one's answer at 400 ms.
    expect(arrivals[3]!.at - arrivals[0]!.at).toBeLessThan(400);
    expect(Math.max(...result.latenciesMs)).toBeGreaterThanOrEqual(390);
  });

  it('counts non-2xx answers apart, and keeps their times out of the latencies', async () => {
    const { url } = await serve((_req, res, index) => res.writeHead(index % 2 === 0 ? 200 : 503).end());
    const result = await steadyLoad({ url, body: 'x', headers: {}, rate: 10, durationSeconds: 1 });
    expect(result).toMatchObject({ errors: 0, non2xx: 5, statusCodes: { 200: 5, 503: 5 } });
    expect(result.latenciesMs).toHaveLength(5);
  });

  it('counts unanswered requests as timed out and failed, and still returns', async () => {
    const { url } = await serve((_req, res, index) => {
      if (index < 3) res.writeHead(200).end();
    });
    const result = await steadyLoad({ url, body: 'x', headers: {}, rate: 10, durationSeconds: 1, timeoutSeconds: 0.3 });
    expect(result).toMatchObject({ timeouts: 7, errors: 7, non2xx: 0, statusCodes: { 200: 3 } });
    expect(result.latenciesMs).toHaveLength(3);
  });

  it('counts refused connections as errors', async () => {
    const { url } = await serve((_req, res) => res.end());
    server!.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const result = await steadyLoad({ url, body: 'x', headers: {}, rate: 10, durationSeconds: 1 });
    expect(result).toMatchObject({ errors: 10, timeouts: 0, latenciesMs: [], statusCodes: {} });
  });
});
