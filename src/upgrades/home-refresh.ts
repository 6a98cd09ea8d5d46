// When the Home tab is published: at once for a user who opens it, and after any change it shows (a request, an
// upgrade step, a pin) for the users who opened it recently. Both go through the app-home queue, deduplicated (one
// waiting `refresh`, one waiting `publish` per user), so a burst of changes gives one publish per viewer, and the
// queue's limiter keeps views.publish within Slack's Tier 4 (about 100 calls a minute per workspace).
import type { AppHomeStore } from '../db/app-home-store.js';
import type { Logger } from '../logger.js';
import type { TypedQueue, QUEUE } from '../queue.js';

/** How long a refresh after a step waits for more steps, so that a burst of them gives one publish. */
export const HOME_REFRESH_DELAY_MS = 2_000;
/** Whom a refresh after a step publishes to: who opened the Home tab this recently ... */
export const HOME_RECENT_MS = 24 * 3600_000;
/** ... at most this many, the most recent first (one minute of Slack's Tier 4 budget). */
export const HOME_MAX_VIEWERS = 100;

export interface HomeRefreshDeps {
  store: AppHomeStore;
  queue: TypedQueue<typeof QUEUE.appHome>;
  logger: Logger;
  now(): Date;
}

export const homeDedupId = {
  publish: (userId: string) => `home-publish:${userId}`,
  refresh: 'home-refresh',
} as const;

export function createHomeRefresh(deps: HomeRefreshDeps) {
  const { logger } = deps;

  async function publishFor(userId: string, delay = 0): Promise<void> {
    await deps.queue.add('publish', { userId }, { delay, deduplication: { id: homeDedupId.publish(userId) }, attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } });
  }

  return {
    /** `app_home_opened` on the Home tab: remember the viewer, publish their view now. */
    async opened(userId: string): Promise<void> {
      await deps.store.opened(userId, deps.now());
      await publishFor(userId);
    },

    publishFor,

    /** The recent viewers, for the `refresh` job to publish to. */
    recentViewers(): Promise<string[]> {
      return deps.store.recentViewers(new Date(deps.now().getTime() - HOME_RECENT_MS), HOME_MAX_VIEWERS);
    },

    /**
     * After a change the Home tab shows (a request planned, confirmed, started or ended, an upgrade step, a pin): a
     * refresh of every recent viewer's Home tab, a moment later. Returns at once and never throws: the Home tab must
     * not slow or fail what changed.
     */
    afterChange(cause: { upgradeId: string } | { target: string }): void {
      deps.queue
        .add('refresh', cause, { delay: HOME_REFRESH_DELAY_MS, deduplication: { id: homeDedupId.refresh }, attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } })
        .catch((err: unknown) => logger.warn({ err, ...cause }, 'could not queue a refresh of the Home tab'));
    },
  };
}

export type HomeRefresh = ReturnType<typeof createHomeRefresh>;
