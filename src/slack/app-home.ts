// The bot's Home tab: per target, the version it runs, the newest release, how far behind it is, the upgrade in
// flight, the last result, and the one action the viewer may take. Facts in, a Home view out, within Slack's limits
// (100 blocks a view): targets past the budget are summarised by name, and the view says so.
import type { Button, HomeView, KnownBlock, SectionBlock } from '@slack/types';
import { isFloatingTag } from '../domain/adoption.js';
import { isValidVersion } from '../domain/versions.js';
import { plural } from '../util/plural.js';
import { ACTION_IDS, BLOCK_IDS, targetVersionValue } from './action-ids.js';
import { clipMrkdwn, clipPlain, escapeMrkdwn, outside, SLACK_LIMITS } from './clip.js';

/** Slack's limit for a Home view (docs.slack.dev, "Home tab views": "Max of 100 blocks"). */
export const HOME_VIEW_BLOCKS = 100;

export interface HomeUpgradeFacts {
  kind: 'upgrade' | 'rollback';
  fromVersion: string;
  toVersion: string;
  status: string;
  outcome?: string | null;
  /** Permalink of its thread, when it has one. */
  link?: string | undefined;
}

export interface HomeTargetFacts {
  target: string;
  /** null: the bot could not read this target's status (the log says why). */
  status: {
    /** The image tag the target runs (`0.140.0`, or a floating `latest`), and the exact version when it is known. */
    tag: string | null;
    version: string | null;
    reachable: boolean;
    latest: { version: string; htmlUrl: string } | null;
    behind: { minors: number; patches: number } | null;
    active: HomeUpgradeFacts | null;
    last: HomeUpgradeFacts | null;
  } | null;
}

export interface HomeViewFacts {
  targets: HomeTargetFacts[];
  /** Approver-only actions (Pin) are shown to approvers only. */
  viewerIsApprover: boolean;
  now: Date;
}

type Status = NonNullable<HomeTargetFacts['status']>;

/** A version or tag from outside (Docker, Kubernetes, GitHub), as a code span. */
function code(text: string): string {
  return `\`${outside(text, 60).replace(/`/g, "'")}\``;
}

function linked(link: string | undefined, label: string): string {
  return link && /^https?:\/\/[^\s<>|]+$/.test(link) && link.length <= 1000 ? `<${link}|${label}>` : label;
}

function runsLine(target: string, s: Status): string {
  const name = `*${escapeMrkdwn(target)}*`;
  const silent = s.reachable ? '' : ' — the instance did not answer';
  if (s.tag && isFloatingTag(s.tag)) {
    return s.version ? `${name} runs ${code(s.tag)} = ${code(s.version)}${silent}` : `${name} runs ${code(s.tag)}: the exact version is not known${silent}`;
  }
  const running = s.version ?? s.tag;
  return running ? `${name} runs ${code(running)}${silent}` : `${name}: the running version is not known${silent}`;
}

function releaseLine(s: Status): string {
  const newest = s.latest ? `Newest release ${linked(s.latest.htmlUrl, `v${outside(s.latest.version, 40)}`)}` : 'Newest release not known yet';
  if (!s.behind) return newest;
  if (s.behind.minors === 0 && s.behind.patches === 0) return `${newest} · up to date`;
  return `${newest} · behind by ${plural(s.behind.minors, 'minor line')} and ${plural(s.behind.patches, 'patch', 'patches')}`;
}

function upgradeLabel(u: HomeUpgradeFacts): string {
  return u.kind === 'rollback' ? `rollback to ${code(u.toVersion)}` : `upgrade ${code(u.fromVersion)} → ${code(u.toVersion)}`;
}

function targetText(t: HomeTargetFacts): string {
  if (!t.status) return `*${escapeMrkdwn(t.target)}*: its status could not be read just now (the bot's log says why).`;
  const s = t.status;
  const lines = [
    runsLine(t.target, s),
    releaseLine(s),
    s.active ? `In flight: ${linked(s.active.link, upgradeLabel(s.active))}, ${escapeMrkdwn(s.active.status)}` : '',
    s.last ? `Last: ${linked(s.last.link, upgradeLabel(s.last))}: ${escapeMrkdwn(s.last.status)}${s.last.outcome === 'succeeded_with_warnings' ? ' (with warnings)' : ''}` : '',
  ].filter(Boolean);
  return clipMrkdwn(lines.join('\n'), SLACK_LIMITS.sectionText);
}

/** The one action this viewer may take on this target, if any: Pin a floating tag (approvers), else Plan upgrade. */
function actionFor(t: HomeTargetFacts, viewerIsApprover: boolean): Button | null {
  const s = t.status;
  if (!s || s.active) return null;
  if (s.tag && isFloatingTag(s.tag)) {
    // The version comes from the target (`/api/about`): only an exact version goes into a button's value.
    if (!viewerIsApprover || !s.version || !isValidVersion(s.version)) return null;
    return {
      type: 'button',
      action_id: ACTION_IDS.pinVersion,
      text: { type: 'plain_text', text: clipPlain(`Pin to ${s.version}`, SLACK_LIMITS.buttonText) },
      value: targetVersionValue(t.target, s.version),
    };
  }
  const behind = s.behind && (s.behind.minors > 0 || s.behind.patches > 0);
  if (!behind || !s.latest) return null;
  return {
    type: 'button',
    action_id: ACTION_IDS.homePlanUpgrade,
    text: { type: 'plain_text', text: clipPlain(`Plan upgrade to ${s.latest.version}`, SLACK_LIMITS.buttonText) },
    value: targetVersionValue(t.target, s.latest.version),
    style: 'primary',
  };
}

function targetBlock(t: HomeTargetFacts, viewerIsApprover: boolean): SectionBlock {
  const action = actionFor(t, viewerIsApprover);
  return {
    type: 'section',
    block_id: BLOCK_IDS.home.target(t.target),
    text: { type: 'mrkdwn', text: targetText(t) },
    ...(action ? { accessory: action } : {}),
  };
}

/** The targets the view has no room for, by name; those with an upgrade in flight say so. */
function moreBlock(rest: HomeTargetFacts[]): SectionBlock {
  const names = rest.map((t) => `\`${escapeMrkdwn(t.target)}\`${t.status?.active ? ' (upgrade in flight)' : ''}`).join(', ');
  const text = `…and ${plural(rest.length, 'more target')} the Home tab has no room for (Slack shows at most ${HOME_VIEW_BLOCKS} blocks here): ${names}. Type \`/checkstack status <target>\` for one of them.`;
  return { type: 'section', block_id: BLOCK_IDS.home.more, text: { type: 'mrkdwn', text: clipMrkdwn(text, SLACK_LIMITS.sectionText) } };
}

export function appHomeView(facts: HomeViewFacts): HomeView {
  const updated = `${facts.now.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const head: KnownBlock[] = [
    { type: 'header', block_id: BLOCK_IDS.home.header, text: { type: 'plain_text', text: 'Checkstack targets' } },
    {
      type: 'context',
      block_id: BLOCK_IDS.home.updated,
      elements: [{ type: 'mrkdwn', text: `Updated ${updated} · refreshed when you open this tab and after each upgrade step · \`/checkstack help\` for every command` }],
    },
  ];
  if (facts.targets.length === 0) {
    return { type: 'home', blocks: [...head, { type: 'section', text: { type: 'mrkdwn', text: 'No targets are configured: add them under `targets:` in the config file.' } }] };
  }
  const room = HOME_VIEW_BLOCKS - head.length;
  const sections = (targets: HomeTargetFacts[]) => targets.map((t) => targetBlock(t, facts.viewerIsApprover));
  // A divider between targets while they all fit with one; without, when that makes them fit; else a summary.
  if (facts.targets.length * 2 - 1 <= room) {
    return { type: 'home', blocks: [...head, ...sections(facts.targets).flatMap((b, i) => (i === 0 ? [b] : [{ type: 'divider' } as const, b]))] };
  }
  if (facts.targets.length <= room) return { type: 'home', blocks: [...head, ...sections(facts.targets)] };
  const shown = facts.targets.slice(0, room - 1);
  return { type: 'home', blocks: [...head, ...sections(shown), moreBlock(facts.targets.slice(room - 1))] };
}

/** The clicker's answer to Plan upgrade on the Home tab, posted to them alone in the channel of the checklist. */
export function homePlannedText(upgrade: { target: string; fromVersion: string; toVersion: string }, link: string | undefined): string {
  return `Upgrade of \`${escapeMrkdwn(upgrade.target)}\` from ${code(upgrade.fromVersion)} to ${code(upgrade.toVersion)} planned from the Home tab: approvers confirm ${linked(link, 'its checklist')}.`;
}

export const HOME_NO_CHANNEL =
  "There is no channel to post this target's checklist in: set the target's `channel` or an announce channel (`/checkstack subscribe`), then try again.";
