// Every word of the log watch after an upgrade (its announcement with the Stop button, the alerts in the thread) and
// of the retention of the kept container.
import type { SectionBlock } from '@slack/types';
import type { LogCounts, LogWatchEnd, LogWatchRuntime } from '../domain/log-levels.js';
import { escapeMrkdwn } from '../util/escape-mrkdwn.js';
import { plural } from '../util/plural.js';
import { ACTION_IDS, BLOCK_IDS } from './action-ids.js';
import type { ActionsBlock } from './checklist-message.js';

export const STOP_LOG_WATCH_ACTION = ACTION_IDS.stopLogWatch;

/** The button that stops the watch, for the thread message that announces it. */
export function logWatchStopButton(upgradeId: string): ActionsBlock {
  return {
    type: 'actions',
    block_id: BLOCK_IDS.logWatchStop(upgradeId),
    elements: [
      {
        type: 'button',
        action_id: STOP_LOG_WATCH_ACTION,
        text: { type: 'plain_text', text: 'Stop log watch' },
        value: upgradeId,
      },
    ],
  };
}

/** The thread reply that announces the watch, with its Stop button. */
export function logWatchStartedMessage(upgradeId: string, seconds: number): { text: string; blocks: [SectionBlock, ActionsBlock] } {
  const text = `🔎 Watching the logs for ${seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${seconds} s`}: fatal lines, restarts and exits are reported here at once.`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }, logWatchStopButton(upgradeId)] };
}

/** A Slack code block that the line cannot break out of. */
function codeBlock(text: string): string {
  const safe = escapeMrkdwn(text).replace(/```/g, "'''");
  return `\`\`\`${safe}\`\`\``;
}

/** A fatal line, already scrubbed and shortened; `last` says that further ones are only counted. */
export function fatalLineAlert(f: { target: string; version: string; line: string; last: boolean }): string {
  const more = f.last ? '\n_Further fatal lines are only counted, in the summary._' : '';
  return `🚨 Fatal log line from \`${f.target}\` (${f.version}):\n${codeBlock(f.line)}${more}`;
}

export function lostSightAlert(target: string, problem: string): string {
  return `⚠️ The log watch cannot see \`${target}\` any more: ${problem}`;
}

export function restartedAlert(f: { target: string; restartCount: number; oomKilled: boolean }): string {
  const oom = f.oomKilled ? ', OOM killed' : '';
  return `🔁 \`${f.target}\` restarted (${plural(f.restartCount, 'time')} since the upgrade${oom})`;
}

export function exitedAlert(f: { target: string; exitCode: number | null; oomKilled: boolean; error: string | null; restarting: boolean }): string {
  const code = f.exitCode === null ? 'an unknown code' : `code ${f.exitCode}`;
  const why = [f.oomKilled ? 'OOM killed' : null, f.error].filter(Boolean).join('; ');
  const restarting = f.restarting ? '; the platform is restarting it' : '';
  return `🛑 \`${f.target}\` exited with ${code}${why ? ` (${why})` : ''}${restarting}`;
}

/** In the upgrade's thread once the previous container kept for a fast rollback was removed. */
export function retentionEndedText(fromVersion: string): string {
  return `🧹 The retention period ended: the previous container kept for a fast rollback was removed. A rollback now recreates \`${fromVersion}\` from its image.`;
}

function describeRuntime(runtime: LogWatchRuntime | null | undefined): string {
  if (!runtime || runtime.running) return '';
  const code = runtime.exitCode === null ? '' : ` with code ${runtime.exitCode}`;
  return `; the container is not running (exited${code}${runtime.oomKilled ? ', OOM killed' : ''})`;
}

/** One line for the thread: `🔎 Log watch ended after 60 min: 2 warnings, 1 error, 0 fatal; no restarts`. */
export function summarizeLogWatch(counts: LogCounts, restarts: number, state: LogWatchEnd): string {
  const minutes = state.minutes < 1 ? 'less than a minute' : `${Math.round(state.minutes)} min`;
  const head =
    state.kind === 'stopped'
      ? `🔎 Log watch stopped${state.by ? ` by <@${state.by}>` : ''} after ${minutes}`
      : state.kind === 'superseded'
        ? `🔎 Log watch ended after ${minutes} (the upgrade is now ${state.status.replace(/_/g, ' ')})`
        : `🔎 Log watch ended after ${minutes}`;
  const tally = `${plural(counts.warn, 'warning')}, ${plural(counts.error, 'error')}, ${counts.fatal} fatal`;
  const restartText = restarts > 0 ? `restarted ${plural(restarts, 'time')}` : 'no restarts';
  return `${head}: ${tally}; ${restartText}${describeRuntime(state.runtime)}`;
}

/** The Stop log watch button's ephemeral answer. */
export function stopLogWatchReply(outcome: 'stopped' | 'not_running' | 'not_found'): string {
  return outcome === 'stopped' ? 'The log watch stops at its next check and posts its summary.' : 'The log watch is not running any more; nothing changed.';
}
