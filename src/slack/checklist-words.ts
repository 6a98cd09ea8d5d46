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

/** Neither Checkstack's API nor the platform told the running version: nothing can be planned. */
export function unknownVersionRefusal(target: string, instanceNoun: string): string {
  return `Cannot tell which version \`${target}\` runs: neither /api/about nor the ${instanceNoun} answered.`;
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
