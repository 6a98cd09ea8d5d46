// `/checkstack releases [n]`: the newest releases with their bump, breaking-change count and flags.
import type { ReleaseStore } from '../src/db/release-store.js';
import { flagNames } from '../src/domain/release-summary-text.js';
import { releasesReply } from '../src/slack/command-replies.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function releasesCommand(releases: ReleaseStore, includePrereleases: boolean): SubcommandHandler<'releases'> {
  return async ({ command, reply }) => {
    const recent = await releases.recent(command.count, includePrereleases);
    await reply({
      text: releasesReply(
        recent.map((r) => ({
          version: r.version,
          htmlUrl: r.htmlUrl,
          prerelease: r.prerelease,
          publishedAt: r.publishedAt,
          bump: r.summary.bump,
          breakingCount: r.summary.breaking.length,
          flags: flagNames(r.summary),
        })),
      ),
    });
  };
}
