// views.publish of the Home tab. A 429 is retried by the WebClient itself (src/deps.ts); any other refusal is
// logged with Slack's pointer messages and goes no further: a Home tab that could not be published fails nothing.
import type { HomeView } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../logger.js';

export function createHomePublisher(deps: { slack: WebClient; logger: Logger }) {
  return {
    /** True when Slack took the view. Never throws. */
    async publish(userId: string, view: HomeView): Promise<boolean> {
      try {
        await deps.slack.views.publish({ user_id: userId, view });
        return true;
      } catch (err) {
        const data = (err as { data?: { error?: string; response_metadata?: { messages?: string[] } } }).data;
        deps.logger.warn({ err, userId, slackError: data?.error, messages: data?.response_metadata?.messages?.slice(0, 5) }, 'could not publish the Home tab');
        return false;
      }
    },
  };
}

export type HomePublisher = ReturnType<typeof createHomePublisher>;
