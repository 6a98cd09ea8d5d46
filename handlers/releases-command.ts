// `/checkstack releases [n]`: the newest releases with their bump, breaking-change count and flags.
import type { ReleaseStore } from '../src/db/release-store.js';
import { policyHint } from '../src/domain/bump-policy.js';
import { flagNames } from '../src/domain/release-summary-text.js';
import { escapeMrkdwn } from '../src/slack/announcement-message.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function releasesCommand(releases: ReleaseStore, includePrereleases: boolean): SubcommandHandler<'releases'> {
  return async ({ command, reply }) => {
    const recent = await releases.recent(command.count, includePrereleases);
    if (recent.length === 0) {
      await reply({ text: 'No Checkstack releases are known yet: the bot records them on its first poll of GitHub, right after it starts.' });
      return;
    }
    const lines = recent.map((r) => {
      const s = r.summary;
      const date = r.publishedAt ? r.publishedAt.toISOString().slice(0, 10) : 'unpublished';
      const flags = flagNames(s);
      const breaking = s.breaking.length === 1 ? '1 breaking change' : `${s.breaking.length} breaking changes`;
      return `• <${r.htmlUrl}|v${escapeMrkdwn(r.version)}>${r.prerelease ? ' (prerelease)' : ''} · ${date} · ${s.bump} · ${breaking}${flags.length ? ` · ${flags.join(', ')}` : ''}`;
    });
    const newest = recent[0]!;
    await reply({ text: [`*Newest ${recent.length} Checkstack release(s)*`, ...lines, `_${escapeMrkdwn(policyHint(newest.summary.bump))}_`].join('\n') });
  };
}
