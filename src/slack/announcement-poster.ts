// The Slack calls of release announcements: one message per channel, posted once and kept true in place.
import type { WebClient } from '@slack/web-api';
import type { TargetOutlook } from '../domain/release-outlook.js';
import type { ReleaseSummary } from '../domain/release-types.js';
import { ACTION_IDS } from './action-ids.js';
import { announcementMessage, type AnnouncementState } from './announcement-message.js';

/** What an announcement shows of a release. */
export interface AnnouncementFacts {
  version: string;
  summary: ReleaseSummary;
  publishedAt: Date | null;
  prerelease: boolean;
  state: AnnouncementState;
  /** Adds the "Plan upgrade" button (once a default target exists). */
  planUpgradeButton: boolean;
  /** What the release means for each target; none shows no outlook. */
  outlook: readonly TargetOutlook[];
  now: Date;
}

export interface AnnouncementPoster {
  /** Posts the announcement in `channel`; resolves with its ts. */
  post(channel: string, facts: AnnouncementFacts): Promise<string>;
  update(channel: string, ts: string, facts: AnnouncementFacts): Promise<void>;
}

function message(facts: AnnouncementFacts) {
  return announcementMessage(
    facts.summary,
    { publishedAt: facts.publishedAt?.toISOString() ?? null, prerelease: facts.prerelease },
    {
      state: facts.state,
      ...(facts.planUpgradeButton ? { planUpgradeButton: { actionId: ACTION_IDS.planUpgrade, value: facts.version } } : {}),
      ...(facts.outlook.length > 0 ? { outlook: { targets: facts.outlook, now: facts.now } } : {}),
    },
  );
}

export function createAnnouncementPoster(slack: Pick<WebClient, 'chat'>): AnnouncementPoster {
  return {
    async post(channel, facts) {
      const msg = message(facts);
      const posted = await slack.chat.postMessage({ channel, text: msg.text, blocks: msg.blocks, unfurl_links: false, unfurl_media: false });
      return posted.ts!;
    },
    async update(channel, ts, facts) {
      const msg = message(facts);
      await slack.chat.update({ channel, ts, text: msg.text, blocks: msg.blocks });
    },
  };
}
