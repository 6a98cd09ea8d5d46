// The ephemeral answers to `/checkstack status`, `history` and `releases`: facts in, Slack text out. Whatever the
// database holds (a status detail may be a 45,000-character check message) is escaped and clipped here.
import type { BackupFreshness, DrillFreshness } from '../domain/backup.js';
import { policyHint } from '../domain/bump-policy.js';
import { backupStatusLine } from './backup-words.js';
import { drillStatusLine } from './drill-words.js';
import { autoUpgradeStatusLine } from './auto-upgrade-words.js';
import type { AutoUpgradeStatus } from '../domain/auto-upgrade.js';
import type { Bump } from '../domain/release-types.js';
import { escapeMrkdwn, outside } from './clip.js';
import type { VersionProofs } from '../domain/promotion.js';
import { provenLines, scheduledLine, whenText } from './promotion-words.js';
import { floatingRunsText, floatingStatusHint, withPinButton, type FloatingFacts } from './adoption-words.js';

/** Characters of a status detail one history line shows: ten lines stay well under a message's 4,000. */
const HISTORY_DETAIL_SHOWN = 120;

export interface ListedUpgrade {
  kind: 'upgrade' | 'rollback';
  fromVersion: string;
  toVersion: string;
  status: string;
  statusDetail: string | null;
  outcome: string | null;
  requester: string;
  createdAt: Date;
  /** Permalink of its thread, when it has one. */
  link?: string | undefined;
  /** `--at`: when it starts (or was to start). */
  scheduledAt?: Date | null;
}

export function mention(userId: string): string {
  return /^[UW][A-Z0-9]{2,20}$/.test(userId) ? `<@${userId}>` : `\`${escapeMrkdwn(userId.slice(0, 32))}\``;
}

function linked(link: string | undefined, label: string): string {
  return link && /^https?:\/\/[^\s<>|]+$/.test(link) && link.length <= 1000 ? `<${link}|${label}>` : label;
}

function code(text: string): string {
  return `\`${outside(text, 60).replace(/`/g, "'")}\``;
}

export function historyReply(target: string, entries: Array<{ upgrade: ListedUpgrade; approvers: string[] }>, now: Date = new Date()): string {
  if (entries.length === 0) return 'No upgrades recorded for this target yet.';
  const lines = entries.map(({ upgrade: u, approvers }) => {
    // An upgrade the bot requested itself is an automatic patch upgrade: its policy stood in for approvals.
    const who = approvers.map(mention).join(', ') || (u.kind === 'upgrade' && u.requester === 'checkstack-chatops' ? 'no one: automatic patch upgrade' : 'nobody');
    const when = u.createdAt.toISOString().slice(0, 16).replace('T', ' ');
    const what = linked(u.link, `${u.kind} ${outside(u.fromVersion, 40)} → ${outside(u.toVersion, 40)}`);
    const detail = u.statusDetail ? ` (${outside(u.statusDetail, HISTORY_DETAIL_SHOWN)})` : '';
    const starts = u.status === 'scheduled' && u.scheduledAt ? ` · starts ${whenText(u.scheduledAt, now)}` : '';
    return `• ${when} UTC · ${what} · requested by ${mention(u.requester)} · approved by ${who} · *${u.status}*${starts}${detail}`;
  });
  return [`*Last ${entries.length} upgrade(s) of ${outside(target, 63)}*`, ...lines].join('\n');
}

export interface TargetStatus {
  target: string;
  current: { apiVersion: string | null; imageTag: string | null; reachable: boolean };
  /** When the target runs a floating tag (`latest`): the exact version behind it, or why it is not known. */
  floating?: FloatingFacts | null;
  latest: { version: string; htmlUrl: string } | null;
  behind: { minors: number; patches: number } | null;
  active: (ListedUpgrade & { link?: string | undefined }) | null;
  last: (ListedUpgrade & { link?: string | undefined }) | null;
  /** The newest backup, for a target with `backup`. */
  backup?: { freshness: BackupFreshness; maxAgeMs: number } | null;
  /** The last restore drill, for a target with `backup`. */
  drill?: { last: { passed: boolean } | null; freshness: DrillFreshness } | null;
  /** Per version, where it has run and how it went (when some target has `promotion`). */
  proven?: VersionProofs[] | null;
  /** Automatic patches of a target with `autoUpgrade.patches`: the planned upgrade and the pause. */
  automatic?: AutoUpgradeStatus | null;
  /** The active upgrade's start time, when it is scheduled (`--at`). */
  scheduledAt?: Date | null;
  now?: Date;
}

export function statusReply(s: TargetStatus): string {
  const running = s.current.apiVersion ?? s.current.imageTag ?? 'unknown';
  const disagree = s.current.apiVersion && s.current.imageTag && s.current.apiVersion !== s.current.imageTag ? ` (image tag ${code(s.current.imageTag)}: they disagree)` : '';
  const runs = s.floating ? floatingRunsText(s.floating) : `runs ${code(running)}${disagree}`;
  const lines = [
    `*${outside(s.target, 63)}* ${runs}${s.current.reachable ? '' : ' — the instance did not answer'}`,
    s.latest ? `Latest release: ${linked(s.latest.htmlUrl, `v${outside(s.latest.version, 40)}`)}` : 'Latest release: not known yet',
    s.behind
      ? s.behind.minors === 0 && s.behind.patches === 0
        ? 'Up to date.'
        : `Behind by ${s.behind.minors} minor release line(s) and ${s.behind.patches} patch(es)${s.behind.minors > 0 ? ': each minor may break, read every one' : ''}.`
      : '',
    s.active ? `Active: ${linked(s.active.link, `${s.active.kind} to ${code(s.active.toVersion)}, ${s.active.status}`)}` : 'No upgrade pending.',
    s.last
      ? `Last: ${linked(s.last.link, `${s.last.kind} ${outside(s.last.fromVersion, 40)} → ${outside(s.last.toVersion, 40)}`)}: ${s.last.status}${s.last.outcome === 'succeeded_with_warnings' ? ' (with warnings)' : ''}`
      : '',
    s.backup ? backupStatusLine(s.backup.freshness, s.backup.maxAgeMs) : '',
    s.drill ? drillStatusLine(s.drill.last, s.drill.freshness) : '',
    s.automatic ? autoUpgradeStatusLine(s.automatic, s.target) : '',
    s.active && s.scheduledAt ? scheduledLine(s.active.toVersion, s.scheduledAt, s.now ?? new Date()) : '',
    s.proven ? provenLines(s.proven) : '',
    s.floating ? floatingStatusHint(s.target, s.floating) : '',
  ].filter(Boolean);
  return lines.join('\n');
}

/** The status reply, with **Pin to <version>** under it when the target runs a floating tag whose version is known. */
export function statusMessage(s: TargetStatus): { text: string; blocks?: unknown[] } {
  const text = statusReply(s);
  return withPinButton(text, s.floating?.kind === 'identified' ? { target: s.target, version: s.floating.version } : null);
}

export interface ListedReleaseFacts {
  version: string;
  htmlUrl: string;
  prerelease: boolean;
  publishedAt: Date | null;
  bump: Bump;
  breakingCount: number;
  flags: string[];
}

export function releasesReply(releases: ListedReleaseFacts[]): string {
  if (releases.length === 0) return 'No Checkstack releases are known yet: the bot records them on its first poll of GitHub, right after it starts.';
  const lines = releases.map((r) => {
    const date = r.publishedAt ? r.publishedAt.toISOString().slice(0, 10) : 'unpublished';
    const breaking = r.breakingCount === 1 ? '1 breaking change' : `${r.breakingCount} breaking changes`;
    return `• ${linked(r.htmlUrl, `v${outside(r.version, 40)}`)}${r.prerelease ? ' (prerelease)' : ''} · ${date} · ${r.bump} · ${breaking}${r.flags.length ? ` · ${r.flags.join(', ')}` : ''}`;
  });
  return [`*Newest ${releases.length} Checkstack release(s)*`, ...lines, `_${escapeMrkdwn(policyHint(releases[0]!.bump))}_`].join('\n');
}
