// Every BullMQ queue, its job names and typed payloads in one place: handlers and jobs meet only here.
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { githubReleaseSchema } from './github/release-source.js';

export const QUEUE = {
  releases: 'releases',
  upgrades: 'upgrades',
  logWatch: 'log-watch',
  backups: 'backups',
  scheduledUpgrades: 'scheduled-upgrades',
  autoUpgrades: 'auto-upgrades',
  drills: 'drills',
  housekeeping: 'housekeeping',
  appHome: 'app-home',
} as const;

export const releasePollJob = z.object({ reason: z.enum(['schedule', 'startup', 'manual']) });
export const releaseWebhookJob = z.object({
  action: z.enum(['published', 'edited', 'prereleased', 'released', 'deleted', 'created', 'unpublished']),
  deliveryId: z.string().min(1),
  release: githubReleaseSchema,
});
export const announceReleaseJob = z.object({ tag: z.string().min(1) });

export const upgradeJob = z.object({
  upgradeId: z.string().uuid(),
  kind: z.enum(['upgrade', 'rollback']),
  /** The last step that finished; a retried or resumed job continues after it. */
  doneStep: z.string().nullable().default(null),
});
export const retentionJob = z.object({ upgradeId: z.string().uuid() });
export const logWatchJob = z.object({
  upgradeId: z.string().uuid(),
  /** Unix seconds of the last log line seen; a resumed watch continues from here. */
  since: z.number().int().nonnegative(),
  until: z.number().int().positive(),
});

/** `/checkstack backup`: who asked, where to answer. Never the database URL: the worker reads it from its config. */
export const backupJob = z.object({
  target: z.string().min(1),
  channelId: z.string().min(1),
  requestedBy: z.string().min(1),
});

/**
 * A restore drill: `/checkstack drill` (who asked, where to answer) or the `drill.every` scheduler (neither: the
 * result goes to the target's channel). Never the database URL: the worker reads it from its config.
 */
export const drillJob = z.object({
  target: z.string().min(1),
  channelId: z.string().min(1).optional(),
  requestedBy: z.string().min(1).optional(),
});

/** A scheduled upgrade's reminder or start (`--at`); the job id is derived from the upgrade, so adding it twice is a no-op. */
export const scheduledUpgradeJob = z.object({ upgradeId: z.string().uuid() });
/**
 * Automatic patch upgrades: `decide` asks the decision again for one target (null: every target), after an event or
 * at a decision's `recheckAt`; `phase` wakes a scheduled upgrade (its job id is the decision key) for its notice or start.
 */
export const autoDecideJob = z.object({ target: z.string().min(1).nullable(), reason: z.string().min(1).max(200) });
export const autoPhaseJob = z.object({ target: z.string().min(1), key: z.string().min(1) });

/** Publishes one user's Home tab; deduplicated per user, so a burst of upgrade steps gives one publish. */
export const appHomeJob = z.object({ userId: z.string().min(1).max(32) });
/** Publishes the Home tab of every recent viewer (after a change it shows); deduplicated, so a burst gives one. */
export const appHomeRefreshJob = z.object({ upgradeId: z.string().min(1).optional(), target: z.string().min(1).optional() });

export interface JobPayloads {
  [QUEUE.releases]: {
    poll: z.infer<typeof releasePollJob>;
    webhook: z.infer<typeof releaseWebhookJob>;
    announce: z.infer<typeof announceReleaseJob>;
  };
  [QUEUE.upgrades]: { upgrade: z.input<typeof upgradeJob>; rollback: z.input<typeof upgradeJob> };
  [QUEUE.logWatch]: { watch: z.infer<typeof logWatchJob> };
  [QUEUE.backups]: { backup: z.infer<typeof backupJob> };
  [QUEUE.scheduledUpgrades]: { reminder: z.infer<typeof scheduledUpgradeJob>; start: z.infer<typeof scheduledUpgradeJob> };
  [QUEUE.autoUpgrades]: { decide: z.infer<typeof autoDecideJob>; phase: z.infer<typeof autoPhaseJob> };
  [QUEUE.drills]: { drill: z.infer<typeof drillJob> };
  /** The request sweep (its job scheduler) and the removal of a kept container once its retention ends. */
  [QUEUE.housekeeping]: { sweep: Record<string, never>; retention: z.infer<typeof retentionJob> };
  [QUEUE.appHome]: { publish: z.infer<typeof appHomeJob>; refresh: z.infer<typeof appHomeRefreshJob> };
}

export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

/** A queue whose `add` only takes the job names and payloads declared above. */
export interface TypedQueue<Q extends QueueName> {
  readonly raw: Queue;
  add<N extends keyof JobPayloads[Q] & string>(name: N, data: JobPayloads[Q][N], opts?: JobsOptions): Promise<{ id?: string }>;
}

function typed<Q extends QueueName>(queue: Queue): TypedQueue<Q> {
  return {
    raw: queue,
    add: (name, data, opts) => queue.add(name, data, opts),
  };
}

export interface Queues {
  releases: TypedQueue<typeof QUEUE.releases>;
  upgrades: TypedQueue<typeof QUEUE.upgrades>;
  logWatch: TypedQueue<typeof QUEUE.logWatch>;
  backups: TypedQueue<typeof QUEUE.backups>;
  scheduledUpgrades: TypedQueue<typeof QUEUE.scheduledUpgrades>;
  autoUpgrades: TypedQueue<typeof QUEUE.autoUpgrades>;
  drills: TypedQueue<typeof QUEUE.drills>;
  housekeeping: TypedQueue<typeof QUEUE.housekeeping>;
  appHome: TypedQueue<typeof QUEUE.appHome>;
  close(): Promise<void>;
}

const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** Tries of an upgrade or rollback job (each retry resumes after the last finished step). */
export const UPGRADE_JOB_ATTEMPTS = 3;

export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const make = (name: QueueName) => new Queue(name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  const releases = make(QUEUE.releases);
  const upgrades = make(QUEUE.upgrades);
  const logWatch = make(QUEUE.logWatch);
  const backups = make(QUEUE.backups);
  const scheduledUpgrades = make(QUEUE.scheduledUpgrades);
  const autoUpgrades = make(QUEUE.autoUpgrades);
  const drills = make(QUEUE.drills);
  const housekeeping = make(QUEUE.housekeeping);
  const appHome = make(QUEUE.appHome);
  return {
    releases: typed(releases),
    upgrades: typed(upgrades),
    logWatch: typed(logWatch),
    backups: typed(backups),
    scheduledUpgrades: typed(scheduledUpgrades),
    autoUpgrades: typed(autoUpgrades),
    drills: typed(drills),
    housekeeping: typed(housekeeping),
    appHome: typed(appHome),
    async close() {
      await Promise.all([releases.close(), upgrades.close(), logWatch.close(), backups.close(), scheduledUpgrades.close(), autoUpgrades.close(), drills.close(), housekeeping.close(), appHome.close()]);
    },
  };
}
