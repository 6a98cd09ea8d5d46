// Posts each release once per subscribed channel, and keeps the posted messages true when the release is
// edited or deleted. The claim in Postgres decides who posts; Slack is only called by the claim's holder.
import type { AnnouncementStore, ReleaseStore, StoredRelease, SubscriptionStore } from '../db/release-store.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TargetOutlook } from '../domain/release-outlook.js';
import type { AnnouncementState } from '../slack/announcement-message.js';
import type { AnnouncementFacts, AnnouncementPoster } from '../slack/announcement-poster.js';
import { ACTION_IDS } from '../slack/action-ids.js';

/** A claim with no recorded message is taken over after this long (its holder crashed before posting). */
export const ANNOUNCEMENT_LEASE_SECONDS = 60;
export const PLAN_UPGRADE_ACTION = ACTION_IDS.planUpgrade;

export interface AnnouncerDeps {
  releases: ReleaseStore;
  subscriptions: SubscriptionStore;
  announcements: AnnouncementStore;
  /** The announcement messages in Slack. */
  poster: AnnouncementPoster;
  logger: Logger;
  announcePrereleases: boolean;
  /** Adds the "Plan upgrade" button once a default target exists. */
  planUpgradeButton: boolean;
  /** What the release means for each target (automatic, after staging, needs a checklist); none without it. */
  outlook?(release: StoredRelease): Promise<TargetOutlook[]>;
  now?(): Date;
}

export interface AnnounceResult {
  posted: string[];
  updated: string[];
  skipped: string;
}

function shouldAnnounce(release: StoredRelease, announcePrereleases: boolean): string | null {
  if (release.draft) return 'draft';
  if (release.baseline) return 'known before the first poll';
  if (release.prerelease && !announcePrereleases) return 'prerelease (announce.prereleases is off)';
  return null;
}

export function createAnnouncer(deps: AnnouncerDeps) {
  const { releases, subscriptions, announcements, poster, logger } = deps;

  function facts(release: StoredRelease, state: AnnouncementState, outlook: TargetOutlook[]): AnnouncementFacts {
    return {
      version: release.version,
      summary: release.summary,
      publishedAt: release.publishedAt,
      prerelease: release.prerelease,
      state,
      planUpgradeButton: deps.planUpgradeButton,
      outlook,
      now: deps.now?.() ?? new Date(),
    };
  }

  /** The per-target outlook; an announcement goes out without it rather than not at all. */
  async function outlookOf(release: StoredRelease): Promise<TargetOutlook[]> {
    if (!deps.outlook || release.draft || release.deletedAt !== null) return [];
    return deps.outlook(release).catch((err: unknown) => {
      logger.warn({ err, tag: release.tag }, 'release outlook unavailable');
      return [];
    });
  }

  /** Idempotent: run it any number of times for a tag; each channel gets one message, updated in place. */
  async function announce(tag: string): Promise<AnnounceResult> {
    const result: AnnounceResult = { posted: [], updated: [], skipped: '' };
    const release = await releases.byTag(tag);
    if (!release) throw new AppError('not_found', `Release ${tag} is not stored.`);
    const deleted = release.deletedAt !== null;
    let outlook: Promise<TargetOutlook[]> | null = null;
    const outlookOnce = () => (outlook ??= outlookOf(release));

    // Existing messages follow every edit and deletion, whatever the release's status now.
    for (const row of await announcements.forRelease(tag)) {
      if (row.shownSha === release.contentSha && row.shownDeleted === deleted) continue;
      await poster.update(row.channelId, row.messageTs!, facts(release, deleted ? 'deleted' : 'edited', await outlookOnce()));
      await announcements.recordShown(tag, row.channelId, row.shownSha, row.shownDeleted, release.contentSha, deleted);
      result.updated.push(row.channelId);
    }

    const reason = deleted ? 'deleted' : shouldAnnounce(release, deps.announcePrereleases);
    if (reason) {
      result.skipped = reason;
      return result;
    }

    const heldElsewhere: string[] = [];
    for (const channel of await subscriptions.activeChannels()) {
      const claim = await announcements.claim(tag, channel, ANNOUNCEMENT_LEASE_SECONDS);
      if (claim.kind === 'posted') continue;
      if (claim.kind === 'held_elsewhere') {
        heldElsewhere.push(channel);
        continue;
      }
      const ts = await poster.post(channel, facts(release, 'published', await outlookOnce()));
      const recorded = await announcements.recordPosted(tag, channel, claim.token, ts, release.contentSha, false);
      if (!recorded) logger.error({ tag, channel, ts }, 'announcement claim was taken over while posting; the channel may show it twice');
      result.posted.push(channel);
    }
    if (heldElsewhere.length) {
      // Another worker holds a fresh claim; retry after its lease, in case it died before posting.
      throw new Error(`announcement of ${tag} is being posted elsewhere in ${heldElsewhere.join(', ')}; will check again`);
    }
    if (result.posted.length) logger.info({ tag, channels: result.posted }, 'release announced');
    return result;
  }

  return { announce };
}

export type Announcer = ReturnType<typeof createAnnouncer>;
