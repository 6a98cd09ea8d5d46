// The words of an upgrade's or rollback's steps in its thread: each step's title, its started / finished /
// interrupted lines, its progress lines and details, the resume line after a restart, and the reasons a step gives
// when it refuses to go on. The runner passes facts; the outcome of the whole upgrade is in upgrade-thread.ts.
import type { PinRecord } from '../db/upgrade-store.js';
import type { PullProgress } from '../targets/deployer.js';

export const STEP_TITLES = {
  recheck: 'Re-check',
  git_record: 'Git record',
  pull: 'Pull',
  backup: 'Backup',
  recreate: 'Recreate',
  rollback: 'Roll back',
  git_revert: 'Git revert',
  readiness: 'Readiness',
  postflight: 'Post-flight checks',
} as const;

export type StepName = keyof typeof STEP_TITLES;

export function isStepName(step: string): step is StepName {
  return step in STEP_TITLES;
}

/** How long a step took, as the thread says it: `2.4 s`. */
export function durationText(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function stepStartedText(step: StepName, again: boolean): string {
  return `▶️ *${STEP_TITLES[step]}* started${again ? ' again' : ''}`;
}

export function stepFinishedText(step: StepName, durationMs: number, detail: string): string {
  return `✅ *${STEP_TITLES[step]}* finished in ${durationText(durationMs)}: ${detail}`;
}

/** The step stopped because the bot shuts down; it runs again on restart. */
export function stepShutdownText(step: StepName, elapsedMs: number): string {
  return `⏸️ *${STEP_TITLES[step]}* interrupted after ${durationText(elapsedMs)}: the bot is shutting down and resumes it on restart`;
}

/** A step left running by a crash, seen after the restart. */
export function stepWasInterruptedText(step: StepName): string {
  return `⏸️ *${STEP_TITLES[step]}* was interrupted; it runs again below`;
}

/** The step ended because the upgrade was cancelled (`message` says how). */
export function stepCancelledText(step: StepName, message: string): string {
  return `⏹️ *${STEP_TITLES[step]}*: ${message}`;
}

/** The job runs again: after the last finished step, or from the first one when none finished. */
export function resumeText(resume: { after: StepName } | { restart: StepName }, reason: string): string {
  return 'after' in resume ? `↩️ Resuming after *${STEP_TITLES[resume.after]}* (${reason}).` : `↩️ Restarting *${STEP_TITLES[resume.restart]}* (${reason}).`;
}

/** A step's progress line (`⏳ *Recreate*: …`), replaced in place as the step goes on. */
export function stepProgressText(step: StepName, text: string): string {
  return `⏳ *${STEP_TITLES[step]}*: ${text}`;
}

export function pullProgressText(image: string, p: PullProgress): string {
  const bytes = p.bytesTotal > 0 ? `, ${formatBytes(p.bytesCurrent)} of ${formatBytes(p.bytesTotal)}` : '';
  return `⏳ *${STEP_TITLES.pull}* ${image}: ${p.layersDone}/${p.layersTotal} layers${bytes} (${p.status})`;
}

/** The Pull step's detail: the image, with what the last progress report said about it. */
export function pullDetail(image: string, last: PullProgress | null): string {
  return last ? `${image}: ${last.layersTotal} layers, ${formatBytes(last.bytesTotal)}` : image;
}

/** The Re-check's detail: what runs, and what `/api/about` says when it answers. */
export function recheckDetail(instance: { name: string; image: string }, releaseVersion: string | null): string {
  return `${instance.name} runs ${instance.image}${releaseVersion !== null ? `, /api/about says ${releaseVersion}` : ''}`;
}

/** Why the Re-check stops an upgrade whose target is no longer what the plan saw. */
export type RecheckDrift =
  | { kind: 'tag'; running: string; planned: string }
  | { kind: 'not_running'; name: string }
  | { kind: 'about'; reported: string; planned: string };

export function recheckDriftText(d: RecheckDrift): string {
  if (d.kind === 'tag') return `the target runs \`${d.running}\`, not the planned \`${d.planned}\``;
  if (d.kind === 'not_running') return `${d.name} is not running`;
  return `/api/about reports \`${d.reported}\`, not the planned \`${d.planned}\``;
}

export const APPROVALS_NO_LONGER_HOLD = 'the checklist is no longer fully confirmed by current approvers';

/** The Git record step when the target has no `pin`. */
export const NO_PIN_DETAIL = 'no pin configured: nothing recorded';

/** A restarted Git record step still waits for the pull request it opened before. */
export function gitRecordWaitingText(pullRequest: { url: string; number: number }): string {
  return stepProgressText('git_record', `still waiting for pull request <${pullRequest.url}|#${pullRequest.number}> to be merged`);
}

export function pullRequestOpenedText(url: string): string {
  return `🔀 Pull request opened: <${url}>. The upgrade waits until it is merged (\`/checkstack cancel\` ends the wait).`;
}

/** The Git record step's detail: where the new tag is pinned now. */
export function pinRecordDetail(record: PinRecord | null): string {
  if (!record) return 'nothing recorded';
  if (record.kind === 'file') return `${record.path} now pins the new tag`;
  if (record.kind === 'commit') return `committed ${record.commitSha.slice(0, 7)} to ${record.repo}@${record.branch}`;
  return `pull request <${record.url}|#${record.number}> merged`;
}

/** Why the Git record step ended while it waited for its pull request to be merged. */
export function pullRequestEndedText(pr: { number: number }, how: { kind: 'closed' } | { kind: 'cancelled' } | { kind: 'timed_out'; mergeTimeoutSeconds: number }): string {
  if (how.kind === 'closed') return `Pull request #${pr.number} was closed without being merged; the upgrade did not start.`;
  if (how.kind === 'cancelled') return `the upgrade was cancelled while waiting for pull request #${pr.number}; it was closed and nothing changed`;
  return `Pull request #${pr.number} was not merged within ${how.mergeTimeoutSeconds} s; it was closed and nothing changed.`;
}

/** The Git revert step's detail: nothing was recorded, or the record pins the old version again. */
export function gitRevertDetail(pinnedAgain: string | null): string {
  return pinnedAgain === null ? 'nothing to revert' : `the record pins ${pinnedAgain} again`;
}

/** What became of the Git record after an upgrade failed before its new version ran: appended to the failure. */
export function pinRevertCleanup(reverted: boolean): string {
  return reverted ? ' The Git record was reverted.' : ' The Git record could NOT be reverted: fix it by hand.';
}

/** The Backup step of a target without `backup` (a leftover step row of an earlier config). */
export const NO_BACKUP_DETAIL = 'no `backup` configured for this target: no dump taken';

/** Why Restore and roll back stops before anything is stopped. */
export function restoreRefusalText(target: string, missing: 'backup' | 'database_url'): string {
  return missing === 'backup'
    ? `The rollback of target "${target}" restores the database, but its upgrade recorded no pre-upgrade backup; nothing was stopped.`
    : `The rollback of target "${target}" restores the database, but the bot has no database URL for it (set the environment variable of \`backup.databaseUrlEnv\`); nothing was stopped.`;
}

/** The parent message's status line for a failure at a step. */
export function failedStatusDetail(step: StepName, reason: string): string {
  return `${STEP_TITLES[step]}: ${reason}`;
}

/** The parent message's status line for a success. */
export function succeededStatusDetail(warnings: boolean, detail: string): string {
  return warnings ? `with warnings; post-flight: ${detail}` : `post-flight: ${detail}`;
}

/** The upgrade's status line while its rollback runs, and once it succeeded. */
export function rollingBackStatusDetail(toVersion: string): string {
  return `to ${toVersion}`;
}

export function rolledBackStatusDetail(toVersion: string): string {
  return `rolled back to ${toVersion}`;
}
