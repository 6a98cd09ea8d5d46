// Every word of automatic patch upgrades: the notice with Cancel, what becomes of it, the pause and resume, and the
// per-target lines of a release announcement ("staging: automatic, in tonight's window").
import type { KnownBlock } from '@slack/types';
import type { AutoUpgradePause, AutoUpgradeStatus, HoldReason } from '../domain/auto-upgrade.js';
import { formatDuration } from '../domain/durations.js';
import { localTimeIn, type MaintenanceWindow } from '../domain/maintenance-window.js';
import type { TargetOutlook } from '../domain/release-outlook.js';
import { clipMrkdwn, clipPlain, escapeMrkdwn } from './clip.js';
import { ACTION_IDS } from './action-ids.js';

export const AUTO_UPGRADE_CANCEL_ACTION = ACTION_IDS.cancelAutoUpgrade;

const TEXT_LIMIT = 3000;
const OUTLOOK_LINES = 20;
/** The announcement's own budget keeps its blocks near 10,000 characters; this section takes at most 1,500 more. */
const OUTLOOK_CHARS = 1500;

type Block = KnownBlock;

function code(text: string): string {
  return `\`${escapeMrkdwn(clipPlain(text, 80))}\``;
}

/** An instant as people read it: UTC, and the window's own zone when there is one. */
export function whenText(t: Date, window: MaintenanceWindow | null = null): string {
  const utc = `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  if (window === null || window.timeZone === 'UTC') return utc;
  const local = localTimeIn(window.timeZone, t);
  return `${local.weekday} ${local.date} ${local.time} ${window.timeZone} (${utc})`;
}

export interface NoticeFacts {
  target: string;
  from: string;
  version: string;
  startAt: Date;
  noticeMs: number;
  skipping: string[];
  key: string;
  window: MaintenanceWindow | null;
}

/** The notice `notice` before an automatic start, with the one button that stops it. */
export function noticeMessage(facts: NoticeFacts): { text: string; blocks: Block[] } {
  const skipping = facts.skipping.length > 0 ? ` (past ${facts.skipping.map(code).join(', ')})` : '';
  const text = `⏰ Automatic patch upgrade of ${code(facts.target)} from ${code(facts.from)} to ${code(facts.version)}${skipping} starts at ${whenText(facts.startAt, facts.window)}, in ${formatDuration(facts.noticeMs)}.`;
  const detail =
    'It runs the ordinary upgrade job (backup when configured, pin, pull, recreate, readiness, post-flight, log watch), requested by the bot. ' +
    'An approver can press *Cancel* until it starts: this version is then never applied automatically.';
  return {
    text: clipPlain(text, 300),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clipMrkdwn(text, TEXT_LIMIT) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: detail }] },
      {
        type: 'actions',
        elements: [{ type: 'button', action_id: AUTO_UPGRADE_CANCEL_ACTION, text: { type: 'plain_text', text: 'Cancel' }, value: facts.key, style: 'danger' }],
      },
    ],
  };
}

function plain(text: string): { text: string; blocks: Block[] } {
  return { text: clipPlain(text.replace(/\*/g, ''), 300), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: clipMrkdwn(text, TEXT_LIMIT) } }] };
}

export function noticeCancelledMessage(target: string, version: string, by: string): { text: string; blocks: Block[] } {
  return plain(`🚫 Automatic upgrade of ${code(target)} to ${code(version)} *cancelled* by <@${by}>. The bot will not apply ${code(version)} (or an older patch) automatically; a newer patch still may.`);
}

export function cancelledReply(target: string, version: string): string {
  return `Cancelled: ${code(target)} will not be upgraded to ${code(version)} automatically.`;
}

/** Why a scheduled automatic upgrade no longer goes ahead. */
export function holdText(hold: HoldReason): string {
  switch (hold.reason) {
    case 'disabled':
      return 'automatic patch upgrades are off for this target';
    case 'version_unknown':
      return 'the bot cannot tell which version the target runs';
    case 'runs_prerelease':
      return `the target runs the prerelease ${code(hold.running)}`;
    case 'paused':
      return `automatic upgrades are paused since the automatic upgrade to ${code(hold.pause.version)} failed`;
    case 'busy':
      return hold.busy.kind === 'request' ? `a request to upgrade to ${code(hold.busy.version)} is open` : `an upgrade to ${code(hold.busy.version)} is under way`;
    case 'no_patch':
      return hold.declined ? `${code(hold.declined.version)} was cancelled by <@${hold.declined.by}>` : `no newer patch of ${code(hold.running)} is left to apply`;
    case 'not_yet':
      return `${code(hold.version)} is not eligible any more (${hold.waitingFor.map((g) => g.gate).join(', ') || 'waiting'})`;
  }
}

export function noticeDroppedMessage(target: string, version: string, hold: HoldReason): { text: string; blocks: Block[] } {
  return plain(`⏹️ The automatic upgrade of ${code(target)} to ${code(version)} does not go ahead: ${holdText(hold)}.`);
}

export function noticeReplacedMessage(target: string, version: string, by: string): { text: string; blocks: Block[] } {
  return plain(`⏭️ The automatic upgrade of ${code(target)} to ${code(version)} was replaced: ${code(by)} goes in instead.`);
}

export function noticeMovedMessage(target: string, version: string): { text: string; blocks: Block[] } {
  return plain(`⏭️ The automatic upgrade of ${code(target)} to ${code(version)} moved to a later start (the window changed, or the bot was down when it was due): a new notice comes before it.`);
}

/** The failed automatic upgrade's thread: the target is paused, and how to go on. */
export function pausedText(target: string, version: string): string {
  return `⏸️ Automatic upgrades of ${code(target)} are *paused* because this automatic upgrade to ${code(version)} failed. Type \`/checkstack resume ${escapeMrkdwn(target)}\` to resume them (approvers), or upgrade it by hand with \`/checkstack upgrade <version> ${escapeMrkdwn(target)}\`.`;
}

export function resumedReply(target: string, pause: AutoUpgradePause | null): string {
  if (pause === null) return `Automatic upgrades of ${code(target)} were not paused; nothing changed.`;
  return `▶️ Automatic upgrades of ${code(target)} resumed (paused since the automatic upgrade to ${code(pause.version)} failed on ${whenText(pause.since)}). The bot decides again now.`;
}

function soakText(ms: number): string {
  const hours = ms / 3_600_000;
  return Number.isInteger(hours) && hours > 0 ? `${hours} h` : formatDuration(ms);
}

function outlookLine(outlook: TargetOutlook, now: Date): string {
  const name = escapeMrkdwn(clipPlain(outlook.target, 63));
  switch (outlook.outlook) {
    case 'version_unknown':
      return `*${name}*: version unknown, nothing automatic`;
    case 'up_to_date':
      return `*${name}*: already runs ${code(outlook.running)}`;
    case 'checklist': {
      const why =
        outlook.why === 'not_a_patch' ? `${outlook.bump} — needs a checklist`
        : outlook.why === 'prerelease' ? 'prerelease — needs a checklist'
        : outlook.why === 'paused' ? 'automatic upgrades paused — needs a checklist or `resume`'
        : outlook.why === 'runs_prerelease' ? 'runs a prerelease — needs a checklist'
        : `${outlook.bump} — needs a checklist`;
      const promotion = outlook.promotion && !outlook.promotion.gate.holds ? ` (after ${soakText(outlook.promotion.soakMs)} on ${escapeMrkdwn(outlook.promotion.from)})` : '';
      return `*${name}*: ${why}${promotion}`;
    }
    case 'automatic': {
      const promotion = outlook.promotion && !outlook.promotion.gate.holds ? `after ${soakText(outlook.promotion.soakMs)} on ${escapeMrkdwn(outlook.promotion.from)}` : null;
      if (outlook.startAt === null) return `*${name}*: automatic, ${promotion ?? 'once proven'}`;
      const at = outlook.window === null ? `at ${whenText(outlook.startAt)}` : outlook.inCurrentWindow ? `in ${outlook.startAt.getTime() - now.getTime() < 86_400_000 ? "tonight's" : 'the next'} window (${whenText(outlook.startAt, outlook.window)})` : `in a later window (${whenText(outlook.startAt, outlook.window)})`;
      return promotion ? `*${name}*: ${promotion}, automatic ${at}` : `*${name}*: automatic, ${at}`;
    }
  }
}

/** The announcement's "what happens where" section; null when no target has anything to say. */
export function outlookBlock(outlooks: readonly TargetOutlook[], now: Date): Block | null {
  if (outlooks.length === 0) return null;
  const heading = '*What happens where*';
  const lines: string[] = [];
  let used = heading.length;
  for (const outlook of outlooks.slice(0, OUTLOOK_LINES)) {
    const line = `• ${outlookLine(outlook, now)}`;
    // Room is kept for the "+N more" line.
    if (used + 1 + line.length > OUTLOOK_CHARS - 30) break;
    lines.push(line);
    used += 1 + line.length;
  }
  const hidden = outlooks.length - lines.length;
  if (hidden > 0) lines.push(`+${hidden} more targets`);
  return { type: 'section', text: { type: 'mrkdwn', text: clipMrkdwn(`${heading}\n${lines.join('\n')}`, OUTLOOK_CHARS) } };
}

/** The `/checkstack status` line of a target with automatic patches: paused, planned, or waiting for a patch. */
export function autoUpgradeStatusLine(status: AutoUpgradeStatus, target: string): string {
  if (status.paused) {
    return `⏸️ Automatic patches: *paused* since the automatic upgrade to ${code(status.paused.version)} failed (${whenText(status.paused.since)}); \`/checkstack resume ${escapeMrkdwn(target)}\` lifts it.`;
  }
  if (status.planned) {
    const notice = status.planned.noticePosted ? 'notice posted' : `notice at ${whenText(status.planned.noticeAt, status.window)}`;
    return `🗓️ Automatic patch: ${code(status.planned.version)} starts ${whenText(status.planned.startAt, status.window)} (${notice}).`;
  }
  return '🗓️ Automatic patches: on; nothing planned.';
}

/** The parent message of an automatic upgrade whose notice Slack did not take: its thread needs a message. */
export function autoUpgradeParentText(target: string, version: string): string {
  return `Automatic patch upgrade of ${target} to ${version}`;
}

/** Why `/checkstack resume` or a notice's Cancel changed nothing: the ephemeral answer, through AppError's message. */
export const AUTO_UPGRADE_REFUSALS = {
  resumeNeedsApprover: 'Only approvers can resume automatic upgrades. Ask one of them.',
  buttonNamesNoUpgrade: 'That button does not name a scheduled upgrade; nothing changed.',
  cancelNeedsApprover: 'Only approvers can cancel an automatic upgrade. Ask one of them.',
  noLongerScheduled: 'This automatic upgrade is no longer scheduled; nothing changed.',
  buttonOfOtherMessage: 'That button does not belong to this message; nothing changed.',
  busy: 'Try again in a moment; nothing changed.',
} as const;

export function nothingToResumeRefusal(target: string): string {
  return `Target \`${target}\` has no automatic patch upgrades (\`autoUpgrade.patches\`): there is nothing to resume.`;
}

export function startedAlreadyRefusal(target: string): string {
  return `This automatic upgrade has started already; nothing changed. While it is queued, \`/checkstack cancel ${target}\` stops it; once it runs, follow its thread.`;
}
