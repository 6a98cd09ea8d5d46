// A steady, open-loop request rate built from autocannon. One autocannon run with `overallRate` sends each
// connection's share back to back at the start of every second (a burst, not a steady rate) and its coordinated-
// omission correction assumes a 1 ms interval. So: `rate` single-connection runs at 1 request/s each, started
// 1000/rate ms apart, which puts one request on the wire every 1000/rate ms; latencies are taken raw from each
// response and merged.
import autocannon from 'autocannon';
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
  const latenciesMs: number[] = [];
  const statusCodes: Record<string, number> = {};
  const spacingMs = 1000 / options.rate;
  const started = performance.now();
  const runs: Promise<autocannon.Result>[] = [];
  let firstAnswer = Number.NaN;
  let lastAnswer = Number.NaN;
  for (let i = 0; i < options.rate; i += 1) {
    const wait = started + i * spacingMs - performance.now();
    if (wait > 0) await sleep(wait);
    const request = options.requests?.length ? options.requests[i % options.requests.length]! : options;
    const run = autocannon({
      url: options.url,
      method: 'POST',
      headers: request.headers,
      body: request.body,
      connections: 1,
      overallRate: 1,
      // A fixed count rather than a duration: a run stopped by its clock drops the request in flight unanswered.
      amount: Math.max(1, Math.round(options.durationSeconds)),
      timeout: options.timeoutSeconds ?? 10,
      ignoreCoordinatedOmission: true,
    });
    run.on('response', (_client, statusCode, _bytes, responseTime) => {
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      lastAnswer = performance.now();
      if (Number.isNaN(firstAnswer)) firstAnswer = lastAnswer;
      if (statusCode >= 200 && statusCode < 300) latenciesMs.push(responseTime);
    });
    runs.push(Promise.resolve(run));
  }
  const results = await Promise.all(runs);
  const answered = Object.values(statusCodes).reduce((sum, n) => sum + n, 0);
  return {
    latenciesMs,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    timeouts: results.reduce((sum, r) => sum + r.timeouts, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    statusCodes,
    achievedRate: answered > 1 ? (answered - 1) / ((lastAnswer - firstAnswer) / 1000) : 0,
  };
}
