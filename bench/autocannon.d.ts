// The part of autocannon's programmatic API the benches use (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Options {
      url: string;
      method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
      headers?: Record<string, string>;
      body?: string;
      connections?: number;
      /** Requests per second over all connections (autocannon sends each connection's share at the start of each second). */
      overallRate?: number;
      connectionRate?: number;
      /** Seconds. */
      duration?: number;
      /** Requests in all; the run ends after the last answer. */
      amount?: number;
      /** Seconds before a request counts as timed out. */
      timeout?: number;
      ignoreCoordinatedOmission?: boolean;
      pipelining?: number;
    }

    interface Result {
      requests: { total: number; average: number };
      latency: { p50: number; p97_5: number; p99: number; max: number };
      errors: number;
      timeouts: number;
      non2xx: number;
      duration: number;
      statusCodeStats: Record<string, { count: number }>;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void;
      on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this;
      on(event: 'reqError', listener: (error: Error) => void): this;
      on(event: string, listener: (...args: unknown[]) => void): this;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export default autocannon;
}
