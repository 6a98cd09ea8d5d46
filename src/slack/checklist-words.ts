// The words of an upgrade request outside its Block Kit layout: the state details recorded with a status change,
// the refusals of a second request, and what a rollback request says it does.
import { restoreRollbackNotice } from './rollback-outcome.js';

/** The state line of a queued upgrade. */
export function queuePositionDetail(position: number): string {
  return `position ${position} in the queue`;
}

export const EXPIRED_DETAIL = 'no one started it within the time allowed';
export const NOT_QUEUED_DETAIL = 'could not be queued; press Start again';

export function cancelledDetail(userId: string): string {
  return `cancelled by <@${userId}>`;
}

export function cancelledWhileWaitingForMergeDetail(userId: string): string {
  return `cancelled by <@${userId}> while waiting for the pull request to be merged`;
}

export function invalidatedDetail(runningNow: string | null): string {
  return `the target's version changed underneath this request (now ${runningNow}); plan it again`;
}

export function autoRollbackDetail(reason: string): string {
  return `automatic rollback: ${reason}`;
}

/** Why a second request for a target is refused while one is active. */
export function activeRequestRefusal(active: { kind: 'upgrade' | 'rollback'; target: string; toVersion: string; status: string }, threadLink: string | undefined): string {
  return `Target \`${active.target}\` already has ${active.kind === 'rollback' ? 'a rollback' : `an upgrade to \`${active.toVersion}\``} that is ${active.status}${threadLink ? `: <${threadLink}|see its thread>` : ''}. Finish or cancel it first (\`/checkstack cancel ${active.target}\`).`;
}

/** The same refusal when the other request ended before it could be read. */
export function activeRequestGoneRefusal(target: string): string {
  return `Target \`${target}\` already has an active request.`;
}

/** `/checkstack cancel`: the ephemeral answer once the request is cancelled. */
export function cancelledReply(cancelled: { kind: 'upgrade' | 'rollback'; target: string; toVersion: string }): string {
  return `Cancelled the ${cancelled.kind} of \`${cancelled.target}\` to \`${cancelled.toVersion}\`.`;
}

/** What a rollback request says it does and cannot undo, above its checklist. */
export function rollbackNoticeText(rollback: { fromVersion: string; toVersion: string; restoresDatabase: boolean; destructive: boolean }): string {
  const lines = [
    `*What this rollback does*: the image tag goes back from \`${rollback.fromVersion}\` to \`${rollback.toVersion}\`.`,
    '*What it cannot undo*: database migrations are not reversed; runtime plugins upgraded in the same window may not load on the older core.',
  ];
  if (rollback.restoresDatabase) lines[1] = restoreRollbackNotice();
  else if (rollback.destructive) lines.push('⚠️ A release in the upgraded range ran a *destructive migration*: restore the database from the backup taken before the upgrade first.');
  return lines.join('\n');
}

/** Why a request or a click on its checklist changed nothing: the ephemeral answer, through AppError's message. */
export const REQUEST_REFUSALS = {
  schedulingUnavailable: 'Scheduled upgrades (`--at`) are not available in this bot: nothing was planned.',
  buttonOfOtherChannel: 'That button does not belong to this channel; nothing changed.',
  buttonOfOtherMessage: 'That button does not belong to this message; nothing changed.',
  requestGone: 'This upgrade request no longer exists; type `/checkstack upgrade <version>` for a new one.',
  requestGoneNothingChanged: 'This upgrade request no longer exists; nothing changed.',
  messageNotRecorded: 'The bot has not recorded this checklist message yet; nothing changed. Press the button again in a moment.',
  expiredAskAgain: 'This upgrade request expired; nothing changed. Type `/checkstack upgrade <version>` for a new one.',
  expired: 'This upgrade request expired; nothing changed.',
  confirmNeedsApprover: 'Only approvers can confirm checklist items. Ask one of them, or an operator to add you to the approvers.',
  startNeedsApprover: 'Only approvers can start an upgrade.',
  startedByOther: 'This upgrade was already started (or changed) by someone else; nothing changed.',
  scheduledByOther: 'This upgrade was already started or scheduled (or changed) by someone else; nothing changed.',
  cancelNeedsRequesterOrApprover: 'Only the requester or an approver can cancel this upgrade.',
  runningCannotCancel: 'This upgrade is already running and cannot be stopped halfway. Follow its thread; if it fails, type `/checkstack rollback`.',
  noPromotionGate: 'This target has no promotion gate; nothing changed.',
} as const;

export function requestIsRefusal(status: string): string {
  return `This upgrade request is ${status}; nothing changed.`;
}

export function alreadyStatusRefusal(status: string): string {
  return `This upgrade is already ${status}; nothing changed.`;
}

export function notConfirmedRefusal(restoresDatabase: boolean): string {
  return restoresDatabase
    ? 'Every checklist item must be confirmed first, by two different approvers: this rollback restores the database.'
    : 'Every checklist item must be confirmed first (with at least one confirmation by someone other than the requester, when a second person is required).';
}

export function nothingPendingRefusal(target: string): string {
  return `Target \`${target}\` has no upgrade pending.`;
}

export function noFinishedUpgradeRefusal(target: string): string {
  return `Target \`${target}\` has no finished upgrade to roll back.`;
}

export function unfinishedRollbackRefusal(toVersion: string, status: string): string {
  return `The upgrade to \`${toVersion}\` is ${status}: only a finished upgrade (succeeded or failed) can be rolled back.`;
}

export function nothingToRollBackRefusal(f: { toVersion: string; fromVersion: string; step: string | null }): string {
  return `The upgrade to \`${f.toVersion}\` failed before the new container ran (at ${f.step}); \`${f.fromVersion}\` still runs, so there is nothing to roll back.`;
}

/** `/checkstack upgrade`: the ephemeral answer once the checklist is posted. */
export function upgradePlannedReply(upgrade: { target: string; fromVersion: string; toVersion: string; scheduledAt: Date | null }, checklistLink: string | undefined): string {
  const when = upgrade.scheduledAt ? `, to start at ${upgrade.scheduledAt.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
  return `Upgrade of \`${upgrade.target}\` from \`${upgrade.fromVersion}\` to \`${upgrade.toVersion}\` planned${when}: approvers confirm its checklist <${checklistLink}|here>.`;
}

/** An announcement's Plan upgrade button: the ephemeral answer once the checklist is posted. */
export function upgradePlannedFromButtonReply(upgrade: { target: string; toVersion: string }, checklistLink: string | undefined): string {
  return `Upgrade to \`${upgrade.toVersion}\` planned for \`${upgrade.target}\`: <${checklistLink}|its checklist>.`;
}

export function rollbackPlannedReply(rollback: { target: string; toVersion: string }, checklistLink: string | undefined): string {
  return `Rollback of \`${rollback.target}\` to \`${rollback.toVersion}\` planned: approvers confirm <${checklistLink}|its checklist>.`;
}

export function rollbackPlannedFromButtonReply(rollback: { toVersion: string }, checklistLink: string | undefined): string {
  return `Rollback to \`${rollback.toVersion}\` planned: approvers confirm <${checklistLink}|its checklist>.`;
}

export function scheduledCancelledReply(cancelled: { target: string; toVersion: string }): string {
  return `Cancelled the scheduled upgrade of \`${cancelled.target}\` to \`${cancelled.toVersion}\`.`;
}

export const ALREADY_CONFIRMED_REPLY = 'That item was already confirmed; nothing changed.';
export const OVERRIDE_ALREADY_CONFIRMED_REPLY = 'Your confirmation of the override was already recorded; nothing changed.';

/** The automatic checks of a request's pre-flight inspection: their titles and what each found. */
export const TARGET_READY_TITLE = 'Target reachable and ready';
export const MASTER_KEY_TITLE = '`ENCRYPTION_MASTER_KEY` present';

export const READINESS_UNKNOWN_CHECK_DETAIL = 'readiness unknown: this release has no /.checkstack/ready';

export function readyChecksPassDetail(checks: number): string {
  return `${checks} readiness checks pass`;
}

export function notReadyCheckDetail(ready: { status: number; reason?: string; error?: string }): string {
  return `not ready (${ready.reason ?? ready.error ?? `HTTP ${ready.status}`})`;
}

/** The instance check's detail: what runs, or that it does not. */
export function instanceCheckDetail(instance: { name: string; image: string; running: boolean }): string {
  return `${instance.name} ${instance.running ? 'runs' : 'is NOT running'} ${instance.image}`;
}

export const MASTER_KEY_UNKNOWN_DETAIL = 'cannot tell: the container was not found';
export const MASTER_KEY_RECORDED_DETAIL = 'recorded as a SHA-256 fingerprint; the new container must get the same key';
export const MASTER_KEY_MISSING_DETAIL = 'the running container has no ENCRYPTION_MASTER_KEY in its environment';
