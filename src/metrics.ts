// Prometheus metrics on a registry of our own (no global default registry: two bots in one test process stay apart).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the metrics read at scrape time. */
export interface MetricSources {
  /** The targets that can be drilled (those with `backup`). */
  drillTargets: readonly string[];
  /** When the target's newest recorded drill (any result, the CLI's too) finished; null: never. */
  lastDrillAt(target: string): Promise<Date | null>;
  now(): Date;
}

export function createMetrics(sources?: MetricSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'checkstack_chatops_' });
  return {
    registry,
    ackLatency: new Histogram({
      name: 'checkstack_chatops_ack_latency_seconds',
      help: 'Time from Bolt handing a verified Slack request to the listener until it was acknowledged',
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
    upgrades: new Counter({
      name: 'checkstack_chatops_upgrades_total',
      help: 'Finished upgrades and rollbacks by result',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: 'checkstack_chatops_upgrade_step_duration_seconds',
      help: 'Duration of each upgrade or rollback step',
      labelNames: ['kind', 'step', 'outcome'] as const,
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'checkstack_chatops_queue_jobs',
      help: 'Jobs per queue and state, read at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    jobWait: new Histogram({
      name: 'checkstack_chatops_job_wait_seconds',
      help: 'Time a job waited in its queue before a worker started it',
      labelNames: ['queue'] as const,
      buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers: [registry],
    }),
    releasePolls: new Counter({
      name: 'checkstack_chatops_release_polls_total',
      help: 'Release polls of GitHub by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    backupAge: new Gauge({
      name: 'checkstack_chatops_backup_age_seconds',
      help: "Age of the newest complete backup of each target with `backup`, read at scrape time (no sample: none yet); alert when it exceeds the target's maxAge",
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    backups: new Counter({
      name: 'checkstack_chatops_backups_total',
      help: 'Backups taken by the bot (its CLI not counted), by target and result',
      labelNames: ['target', 'result'] as const,
      registers: [registry],
    }),
    autoUpgrades: new Counter({
      name: 'checkstack_chatops_auto_upgrades_total',
      help: 'Automatic patch upgrades by target and event: scheduled, started, dropped (a hold), cancelled (a click), paused (it failed), resumed',
      labelNames: ['target', 'event'] as const,
      registers: [registry],
    }),
    drills: new Counter({
      name: 'checkstack_chatops_drills_total',
      help: 'Restore drills run by the bot (its CLI not counted), by target and result',
      labelNames: ['target', 'result'] as const,
      registers: [registry],
    }),
    lastDrillAge: new Gauge({
      name: 'checkstack_chatops_last_drill_age_seconds',
      help: "Age of each drillable target's newest recorded restore drill, passed or failed, read at scrape time (no sample: none yet); alert when it exceeds drill.every",
      labelNames: ['target'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        if (!sources) return;
        const now = sources.now().getTime();
        await Promise.all(
          sources.drillTargets.map(async (target) => {
            const at = await sources.lastDrillAt(target);
            if (at) this.set({ target }, Math.max(0, now - at.getTime()) / 1000);
          }),
        );
      },
    }),
    slackRetries: new Counter({
      name: 'checkstack_chatops_slack_api_retries_total',
      help: 'Slack Web API calls delayed by a rate limit (429 with Retry-After) and retried',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
