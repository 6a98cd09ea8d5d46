// The Slack calls of scheduled upgrades (`--at`): the replies in the checklist's thread, and the reminder with its
// Cancel button, which keeps its words but loses the button once its moment passed.
import type { WebClient } from '@slack/web-api';
import { postReply, updateBlocks, type ThreadRef } from './chat-calls.js';
import {
  scheduledCancelledText,
  scheduledConfirmationText,
  scheduledLapsedText,
  scheduledStartedText,
  scheduleReminderDoneMessage,
  scheduleReminderMessage,
} from './promotion-words.js';

/** A reply in a scheduled upgrade's thread. */
export type ScheduledNote =
  | { kind: 'scheduled'; target: string; version: string; at: Date; now: Date }
  | { kind: 'started'; version: string }
  | { kind: 'lapsed'; reason: string }
  | { kind: 'cancelled'; by: string };

export interface ReminderFacts {
  upgradeId: string;
  target: string;
  version: string;
  at: Date;
}

export interface ScheduledUpgradePoster {
  note(thread: ThreadRef, note: ScheduledNote): Promise<void>;
  /** Posts the reminder with Cancel in the thread; resolves with its ts. */
  reminder(thread: ThreadRef, facts: ReminderFacts & { now: Date }): Promise<string>;
  /** The reminder without its button, saying how it ended. */
  closeReminder(channelId: string, ts: string, facts: Omit<ReminderFacts, 'upgradeId'> & { outcome: 'started' | 'did not start' | 'cancelled' }): Promise<void>;
}

function noteText(note: ScheduledNote): string {
  switch (note.kind) {
    case 'scheduled':
      return scheduledConfirmationText(note.target, note.version, note.at, note.now);
    case 'started':
      return scheduledStartedText(note.version);
    case 'lapsed':
      return scheduledLapsedText(note.reason);
    case 'cancelled':
      return scheduledCancelledText(note.by);
  }
}

export function createScheduledUpgradePoster(slack: Pick<WebClient, 'chat'>): ScheduledUpgradePoster {
  return {
    note: (thread, note) => postReply(slack, thread, noteText(note)),
    async reminder(thread, facts) {
      const message = scheduleReminderMessage(facts.upgradeId, facts.version, facts.target, facts.at, facts.now);
      const posted = await slack.chat.postMessage({ channel: thread.channelId, thread_ts: thread.messageTs, text: message.text, blocks: message.blocks });
      return posted.ts!;
    },
    closeReminder: (channelId, ts, facts) => updateBlocks(slack, channelId, ts, scheduleReminderDoneMessage(facts.version, facts.target, facts.at, facts.outcome)),
  };
}
