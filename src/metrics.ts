// Prometheus metrics on a registry of our own (no global default registry: two bots in one test process stay apart).
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'checkstack_chatops_' });
  return {
    registry,
    ackLatency: new Histogram({
      name: 'checkstack_chatops_ack_latency_seconds',
      help: 'Time from receiving a Slack request to acknowledging it',
      labelNames: ['kind'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
      registers: [registry],
    }),
    interactions: new Counter({
      name: 'checkstack_chatops_interactions_total',
      help: 'Slash commands and button clicks by outcome',
      labelNames: ['kind', 'action', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
