// The app-home queue: `publish` builds one user's Home tab from fresh facts and publishes it; `refresh` (after an
// upgrade step) queues a `publish` for each recent viewer. Each job first releases its deduplication key, so that a
// change after it started reading queues another run instead of being lost: the latest view wins.
import type { Job } from 'bullmq';
import type { Logger } from '../src/logger.js';
import { appHomeJob } from '../src/queue.js';
import { appHomeView } from '../src/slack/app-home.js';
import type { HomePublisher } from '../src/slack/home-publisher.js';
import type { HomeFacts } from '../src/upgrades/home-facts.js';
import type { HomeRefresh } from '../src/upgrades/home-refresh.js';

export interface AppHomeJobDeps {
  facts: Pick<HomeFacts, 'forViewer'>;
  publisher: HomePublisher;
  refresh: Pick<HomeRefresh, 'publishFor' | 'recentViewers'>;
  logger: Logger;
}

export function appHomeJobsProcessor(deps: AppHomeJobDeps) {
  return async (job: Job): Promise<void> => {
    await job.removeDeduplicationKey();
    if (job.name === 'refresh') {
      const viewers = await deps.refresh.recentViewers();
      for (const userId of viewers) await deps.refresh.publishFor(userId);
      deps.logger.debug({ viewers: viewers.length }, 'home tab refresh queued');
      return;
    }
    const { userId } = appHomeJob.parse(job.data);
    const facts = await deps.facts.forViewer(userId);
    await deps.publisher.publish(userId, appHomeView(facts));
  };
}
