// A steady, open-loop request rate: request k goes on the wire at start + k × 1000/rate ms whether or not earlier
// answers are back, over `rate` keep-alive connections (request k on connection k mod rate, so each connection sends
// one request a second), and each latency is taken raw from that request's send to the end of its response.
//
// Written on node:http rather than autocannon. autocannon measures a closed loop (each connection sends its next
// request when the last one is answered; `overallRate` sends each connection's share in a burst at the start of
// every second), so the steady rate needed one single-connection autocannon run per connection. Each run builds
// three hdr-histogram-js WebAssembly histograms, and after some 1,250 runs building them once took the generator's
// event loop 1.2–2 s: every request in flight then "took" that long, and the load's p99 measured the generator
// (profiled 2026-11-27). Here the generator does no work per request beyond sending and timing it.
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SteadyLoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Requests per second. */
  rate: number;
  durationSeconds: number;
  /** Seconds before a request counts as timed out. */
  timeoutSeconds?: number;
  /** A mix instead of one body: connection i sends `requests[i % length]` (so each gets its share of the rate). */
  requests?: { body: string; headers: Record<string, string> }[];
}

export interface SteadyLoadResult {
  /** Response times in ms of the 2xx answers. */
  latenciesMs: number[];
  /** Requests that failed at the socket level, including timeouts. */
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Answers per second between the first and the last answer. */
  achievedRate: number;
}

export async function steadyLoad(options: SteadyLoadOptions): Promise<SteadyLoadResult> {
  const url = new URL(options.url);
  const connections = options.rate;
  const total = Math.max(1, Math.round(options.rate * options.durationSeconds));
  const spacingMs = 1000 / options.rate;
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  // One agent of one socket per connection: request k always goes over connection k mod rate. A request whose
  // connection is still busy waits in the agent, and that wait counts in its latency.
  const agents = Array.from({ length: Math.min(connections, total) }, () => new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }));
  const payloads = agents.map((_, i) => {
    const chosen = options.requests?.length ? options.requests[i % options.requests.length]! : options;
    const body = Buffer.from(chosen.body);
    return { body, headers: { ...chosen.headers, 'content-length': String(body.length) } };
  });

  const latenciesMs: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let firstAnswer = Number.NaN;
  let lastAnswer = Number.NaN;
  const answered = (statusCode: number, sentAt: number) => {
    const now = performance.now();
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    if (Number.isNaN(firstAnswer)) firstAnswer = now;
    lastAnswer = now;
    if (statusCode >= 200 && statusCode < 300) latenciesMs.push(now - sentAt);
    else non2xx += 1;
  };

  const send = (connection: number) =>
    new Promise<void>((resolve) => {
      const { body, headers } = payloads[connection]!;
      let settled = false;
      // Each request counts once: an aborted response can fail both the response and the request.
      const settle = (outcome: number | 'error') => {
        if (settled) return;
        settled = true;
        if (outcome === 'error') errors += 1;
        else answered(outcome, sentAt);
        resolve();
      };
      const sentAt = performance.now();
      const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers, agent: agents[connection] }, (res) => {
        res.on('end', () => settle(res.statusCode ?? 0));
        res.on('error', () => settle('error'));
        res.resume();
      });
      req.setTimeout(timeoutMs, () => {
        timeouts += 1;
        req.destroy(new Error('timed out'));
      });
      req.on('error', () => settle('error'));
      req.end(body);
    });

  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  try {
    for (let k = 0; k < total; k += 1) {
      const wait = started + k * spacingMs - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(send(k % agents.length));
    }
    await Promise.all(inFlight);
  } finally {
    for (const agent of agents) agent.destroy();
  }
  const answers = Object.values(statusCodes).reduce((sum, n) => sum + n, 0);
  return {
    latenciesMs,
    errors,
    timeouts,
    non2xx,
    statusCodes,
    achievedRate: answers > 1 ? (answers - 1) / ((lastAnswer - firstAnswer) / 1000) : 0,
  };
}
