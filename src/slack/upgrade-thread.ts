// The words of an upgrade's outcome in its thread: failed (with the Roll back offer), succeeded, given up, and the
// automatic rollback. Reasons come from outside (Checkstack's check messages, Docker and Kubernetes errors): they
// are escaped and clipped here, and each outcome has a short form for when Slack refuses the full one.
import type { ActionsBlock, KnownBlock } from '@slack/types';
import { ACTION_IDS, BLOCK_IDS } from './action-ids.js';
import { escapeMrkdwn, outside } from './clip.js';
import { mention } from './command-replies.js';

export interface ThreadText {
  text: string;
  blocks?: KnownBlock[];
}

/** Characters of a foreign reason a thread reply shows; the parent message and the log keep more. */
const REASON_SHOWN = 1500;
/** The same in the one-line step reply, which has no Roll back prompt to leave room for. */
const STEP_REASON_SHOWN = 2500;

export interface FailureFacts {
  upgradeId: string;
  kind: 'upgrade' | 'rollback';
  /** The step's title as the thread names it (`Readiness`). */
  stepTitle: string;
  reason: string;
  fromVersion: string;
  /** The old version still runs: the failure came before anything was replaced. */
  stillRuns: boolean;
  /** What the cleanup did (` The Git record was reverted.`), or ''. */
  cleanup: string;
  offerRollback: boolean;
}

/**
 * The failure reply. `full` shows the reason; `short` is what goes out when Slack refused the full one: no foreign
 * text at all, and still the Roll back offer.
 */
export function failureMessage(f: FailureFacts, form: 'full' | 'short'): ThreadText {
  const noun = f.kind === 'rollback' ? 'Rollback' : 'Upgrade';
  const why = form === 'full' ? `: ${outside(f.reason, REASON_SHOWN).replace(/\.$/, '')}.` : ". The reason is in the parent message and in the bot's log.";
  const still = f.stillRuns && f.kind === 'upgrade' ? ` \`${escapeMrkdwn(f.fromVersion)}\` is still running.` : '';
  const text = `❌ *${noun} failed* at *${f.stepTitle}*${why}${still}${f.cleanup}`;
  if (!f.offerRollback || f.kind !== 'upgrade') return { text };
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${text}\nThe previous container is kept. Roll back? (Database migrations are not reversed.)` } },
      rollbackActions(f.upgradeId),
    ],
  };
}

/** The Roll back button of a failed upgrade, wherever it is offered (the failure reply, the parent message). */
export function rollbackActions(upgradeId: string): ActionsBlock {
  return {
    type: 'actions',
    block_id: BLOCK_IDS.rollbackButton(upgradeId),
    elements: [{ type: 'button', action_id: ACTION_IDS.rollback, value: upgradeId, style: 'danger', text: { type: 'plain_text', text: 'Roll back' } }],
  };
}

/** The step's own reply once it failed. */
export function stepFailedText(stepTitle: string, elapsed: string, reason: string): string {
  return `❌ *${stepTitle}* failed after ${elapsed}: ${outside(reason, STEP_REASON_SHOWN)}`;
}

/** What a step failing for a reason the bot did not foresee records and shows: a reference, never the raw error. */
export function unexpectedReason(referenceId: string): string {
  return `an unexpected error on the bot's side (reference \`${referenceId}\`; the details are in the bot's log)`;
}

export function stepRetryingText(stepTitle: string, elapsed: string, referenceId: string): string {
  return `⚠️ *${stepTitle}* hit an unexpected error after ${elapsed} (reference \`${referenceId}\`); retrying`;
}

export function successText(s: { kind: 'upgrade' | 'rollback'; warnings: boolean; target: string; toVersion: string; detail: string }): string {
  const noun = s.kind === 'rollback' ? 'Rollback' : 'Upgrade';
  const verdict = s.warnings ? 'succeeded with warnings' : 'succeeded';
  return `${s.warnings ? '⚠️' : '🎉'} *${noun} ${verdict}*: \`${escapeMrkdwn(s.target)}\` runs \`${escapeMrkdwn(s.toVersion)}\`. Post-flight: ${outside(s.detail, REASON_SHOWN)}.`;
}

/** A job BullMQ gave up on: what happened in our words, and the reference that finds the error in the log. */
export function abandonedText(kind: 'upgrade' | 'rollback', stepTitle: string | null, summary: string, referenceId: string): string {
  return `❌ *${kind === 'rollback' ? 'Rollback' : 'Upgrade'} failed*${stepTitle ? ` at *${stepTitle}*` : ''}: ${outside(summary, REASON_SHOWN)} (reference \`${referenceId}\`; the details are in the bot's log)`;
}

/** In the failed upgrade's thread, when `postflight.autoRollback` starts the rollback. */
export function autoRollbackText(reason: string, rollbackLink: string | undefined): string {
  const follow = rollbackLink ? ` <${rollbackLink}|Follow the rollback>.` : '';
  return `🔁 *Rolling back automatically* (\`postflight.autoRollback\` is on): ${outside(reason, REASON_SHOWN).replace(/\.$/, '')}.${follow}`;
}

/** In the original upgrade's thread, when someone asks for its rollback. */
export function rollbackRequestedText(userId: string, toVersion: string, checklistLink: string | undefined): string {
  const link = checklistLink ? `: <${checklistLink}|its checklist>` : '';
  return `↩️ ${mention(userId)} requested a rollback to \`${escapeMrkdwn(toVersion)}\`${link}.`;
}
