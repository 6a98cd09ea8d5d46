// Every word about the promotion gate and scheduled upgrades a Slack user reads: the checklist's promotion check,
// the refusal of Start, the lines of `/checkstack status`, and the reminder and refusal in a scheduled upgrade's
// thread. Facts in, text out.
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../domain/durations.js';
import type { NotProvenWhy, PromotionGate, VersionProofs } from '../domain/promotion.js';
import { formatAge } from './backup-words.js';
import { escapeMrkdwn, outside } from './clip.js';
import { ACTION_IDS } from './action-ids.js';

function code(text: string): string {
  return `\`${escapeMrkdwn(outside(text, 63)).replace(/`/g, "'")}\``;
}

/** `2026-12-04 10:00 UTC`: readable in a plain fallback and unambiguous across zones. */
export function utc(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `in 3 h 20 min` / `2 min ago`, from `now`. */
export function relative(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  return ms >= 0 ? `in ${formatAge(ms)}` : `${formatAge(-ms)} ago`;
}

/** `2026-12-04 10:00 UTC (in 3 h)`. */
export function whenText(at: Date, now: Date): string {
  return `${utc(at)} (${relative(at, now)})`;
}

export function promotionCheckTitle(gate: Pick<PromotionGate, 'version' | 'from' | 'soakMs'>): string {
  return `\`${gate.version}\` succeeded on \`${gate.from}\` (post-flight green, not rolled back) and has run there for ${formatDuration(gate.soakMs)}`;
}

const WHY: Record<NotProvenWhy, string> = {
  never_ran: 'the bot never upgraded it there',
  failed: 'its upgrade there failed',
  rolled_back: 'it was rolled back there',
  postflight_failed: 'its post-flight checks failed there',
  postflight_pending: 'its post-flight checks still run there',
  soaking: 'it runs there, green, but not yet for the soak time',
  left_early: 'it ran there, green, but the target moved on before the soak time was up',
};

/** The check's detail: the times when it holds, the reason and when it will hold when it does not. */
export function promotionCheckDetail(gate: PromotionGate, now: Date): string {
  if (gate.holds) {
    return `ready there since ${utc(gate.run.since)}, ran ${formatAge(gate.ranForMs)} (soak ${formatDuration(gate.soakMs)} done at ${utc(gate.heldSince)})`;
  }
  const since = gate.run ? `; ready there since ${utc(gate.run.since)}, ran ${formatAge(gate.ranForMs)}` : '';
  const holds = gate.holdsAt ? `; holds at ${whenText(gate.holdsAt, now)} if nothing goes wrong` : `; it will not hold by itself: upgrade \`${gate.from}\` to \`${gate.version}\` first`;
  return `not proven: ${WHY[gate.why]}${since}${holds}. Start stays refused until then, unless two approvers confirm the override`;
}

export function promotionStartRefusal(gate: Extract<PromotionGate, { holds: false }>, now: Date, missing: number): string {
  const holds = gate.holdsAt ? ` It will hold at ${whenText(gate.holdsAt, now)}.` : ` It will not hold by itself: upgrade ${code(gate.from)} to ${code(gate.version)} first.`;
  return `Start refused: ${code(gate.version)} is not proven on ${code(gate.from)}: ${WHY[gate.why]}.${holds} Or ${missing === 1 ? 'one more approver confirms' : 'two different approvers confirm'} the override item ("ship without a green run on ${code(gate.from)}"). Nothing changed.`;
}

export type OverrideRefusalWhy = 'not_an_approver' | 'already_confirmed_by_you' | 'already_approved' | 'not_needed';

export function overrideRefusal(why: OverrideRefusalWhy): string {
  switch (why) {
    case 'not_an_approver':
      return 'Only approvers can confirm the promotion override; nothing changed.';
    case 'already_confirmed_by_you':
      return 'You already confirmed the override: a second, different approver must confirm it too. Nothing changed.';
    case 'already_approved':
      return 'Two approvers already confirmed the override; nothing changed.';
    case 'not_needed':
      return 'The version is proven on the earlier stage: no override is needed, and nothing changed.';
  }
}

const STATE: Record<VersionProofs['targets'][number]['state'], string> = {
  running: 'runs',
  ran: 'ran',
  postflight_pending: 'post-flight running',
  failed: 'failed',
  rolled_back: 'rolled back',
  postflight_failed: 'post-flight failed',
};

/** `/checkstack status`: per version, where it has run and how it went (at most `limit` versions). */
export function provenLines(proofs: VersionProofs[], limit = 5): string {
  if (proofs.length === 0) return '';
  const lines = proofs.slice(0, limit).map(
    (p) => `• ${code(p.version)}: ${p.targets.map((t) => `${code(t.target)} ${STATE[t.state]} ${formatAge(t.ranForMs)}${t.state === 'running' || t.state === 'ran' ? ' ✅' : t.state === 'postflight_pending' ? ' ⏳' : ' ❌'}`).join(', ')}`,
  );
  return ['*Where versions have been proven*', ...lines].join('\n');
}

/** `/checkstack status` and `history`: a scheduled upgrade and when it starts. */
export function scheduledLine(version: string, at: Date, now: Date): string {
  return `scheduled: upgrade to ${code(version)} at ${whenText(at, now)}`;
}

/** The action of the reminder's Cancel button; its value is the upgrade id. */
export const CANCEL_SCHEDULED_ACTION = ACTION_IDS.cancelScheduled;

export function scheduleReminderText(version: string, target: string, at: Date, now: Date): string {
  return `⏰ Reminder: the upgrade of ${code(target)} to ${code(version)} starts at ${whenText(at, now)}. Approvals, version and promotion are checked again then. Press *Cancel* to stop it.`;
}

/** The reminder in the thread, with its Cancel button. */
export function scheduleReminderMessage(upgradeId: string, version: string, target: string, at: Date, now: Date): { text: string; blocks: KnownBlock[] } {
  const text = scheduleReminderText(version, target, at, now);
  return {
    text,
    blocks: [
      { type: 'section', block_id: 'reminder', text: { type: 'mrkdwn', text } },
      {
        type: 'actions',
        block_id: 'reminder_actions',
        elements: [
          {
            type: 'button',
            action_id: CANCEL_SCHEDULED_ACTION,
            text: { type: 'plain_text', text: 'Cancel', emoji: true },
            value: upgradeId,
            style: 'danger',
            confirm: {
              title: { type: 'plain_text', text: 'Cancel this scheduled upgrade?' },
              text: { type: 'plain_text', text: `The upgrade of ${outside(target, 63)} to ${outside(version, 40)} will not run.` },
              confirm: { type: 'plain_text', text: 'Cancel upgrade' },
              deny: { type: 'plain_text', text: 'Keep it' },
              style: 'danger',
            },
          },
        ],
      },
    ],
  };
}

/** The reminder once its moment has passed: the words stay, the button goes. */
export function scheduleReminderDoneMessage(version: string, target: string, at: Date, outcome: string): { text: string; blocks: KnownBlock[] } {
  const text = `⏰ The upgrade of ${code(target)} to ${code(version)} was scheduled for ${utc(at)}: ${escapeMrkdwn(outcome)}.`;
  return { text, blocks: [{ type: 'section', block_id: 'reminder', text: { type: 'mrkdwn', text } }] };
}

/** Why a scheduled upgrade did not start at its time, one phrase each. */
export function scheduleLapseReasons(facts: {
  approvalsHold: boolean;
  /** The approver who scheduled it, when they no longer are one. */
  starter: string | null;
  /** The version the target runs now when it changed (undefined: the target did not answer). */
  versionNow: string | null | undefined;
  gate: Extract<PromotionGate, { holds: false }> | null;
}): string[] {
  const reasons: string[] = [];
  if (!facts.approvalsHold) reasons.push('its checklist is no longer confirmed by current approvers');
  if (facts.starter) reasons.push(`<@${facts.starter}>, who scheduled it, is no longer an approver`);
  if (facts.versionNow === undefined) reasons.push('the target did not answer, so its version could not be checked');
  else if (facts.versionNow !== null) reasons.push(`the target's version changed underneath it (now \`${escapeMrkdwn(outside(facts.versionNow, 40))}\`)`);
  if (facts.gate) reasons.push(`\`${facts.gate.version}\` is not proven on \`${facts.gate.from}\` any more: ${WHY[facts.gate.why]}`);
  return reasons;
}

export function scheduledStartedText(version: string): string {
  return `▶️ The scheduled upgrade to ${code(version)} starts now: approvals, version and promotion still hold.`;
}

export function scheduledLapsedText(reason: string): string {
  return `🚫 The scheduled upgrade did not start: ${escapeMrkdwn(outside(reason, 1500))}. Type \`/checkstack upgrade\` for a new request.`;
}

export function scheduledCancelledText(userId: string): string {
  return `🚫 Scheduled upgrade cancelled by <@${userId}>.`;
}

export function scheduledConfirmationText(target: string, version: string, at: Date, now: Date): string {
  return `🗓️ Upgrade of ${code(target)} to ${code(version)} scheduled for ${whenText(at, now)}. The thread is reminded 15 minutes before, with a *Cancel* button.`;
}

export function scheduleTimePassedText(at: Date): string {
  return `This upgrade was to start at ${utc(at)}, which has passed: nothing changed. Cancel it and type \`/checkstack upgrade\` again with a later \`--at\`, or without one to start it when ready.`;
}

/** The state detail of a scheduled upgrade that lapsed at its time. */
export function scheduledLapsedDetail(reason: string): string {
  return `not started at its time: ${reason}`;
}
