// The Slack calls of automatic patch upgrades: the notice with Cancel, what becomes of it, the parent message of an
// upgrade without a notice, and the pause in a failed upgrade's thread.
import type { WebClient } from '@slack/web-api';
import type { HoldReason } from '../domain/auto-upgrade.js';
import { postBlocks, postReply, updateBlocks, type ThreadRef } from './chat-calls.js';
import {
  autoUpgradeParentText,
  noticeCancelledMessage,
  noticeDroppedMessage,
  noticeMessage,
  noticeMovedMessage,
  noticeReplacedMessage,
  pausedText,
  type NoticeFacts,
} from './auto-upgrade-words.js';

/** What became of a notice's plan; the notice is edited to say it. */
export type NoticeOutcome =
  | { kind: 'replaced'; target: string; version: string; by: string }
  | { kind: 'moved'; target: string; version: string }
  | { kind: 'dropped'; target: string; version: string; hold: HoldReason }
  | { kind: 'cancelled'; target: string; version: string; by: string };

export interface AutoUpgradePoster {
  /** Posts the notice; resolves with its ts. */
  notice(channelId: string, facts: NoticeFacts): Promise<string>;
  noticeOutcome(channelId: string, ts: string, outcome: NoticeOutcome): Promise<void>;
  /** Posts the parent message of an upgrade that has no notice; resolves with its ts. */
  parent(channelId: string, facts: { target: string; version: string }): Promise<string>;
  paused(thread: ThreadRef, facts: { target: string; version: string }): Promise<void>;
}

function outcomeMessage(outcome: NoticeOutcome) {
  switch (outcome.kind) {
    case 'replaced':
      return noticeReplacedMessage(outcome.target, outcome.version, outcome.by);
    case 'moved':
      return noticeMovedMessage(outcome.target, outcome.version);
    case 'dropped':
      return noticeDroppedMessage(outcome.target, outcome.version, outcome.hold);
    case 'cancelled':
      return noticeCancelledMessage(outcome.target, outcome.version, outcome.by);
  }
}

export function createAutoUpgradePoster(slack: Pick<WebClient, 'chat'>): AutoUpgradePoster {
  return {
    notice: (channelId, facts) => postBlocks(slack, channelId, noticeMessage(facts)),
    noticeOutcome: (channelId, ts, outcome) => updateBlocks(slack, channelId, ts, outcomeMessage(outcome)),
    async parent(channelId, facts) {
      const posted = await slack.chat.postMessage({ channel: channelId, text: autoUpgradeParentText(facts.target, facts.version) });
      return posted.ts!;
    },
    paused: (thread, facts) => postReply(slack, thread, pausedText(facts.target, facts.version)),
  };
}
