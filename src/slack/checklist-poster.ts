// The Slack calls of an upgrade request: its checklist (posted once, then updated in place) and the replies a
// rollback request leaves in the thread of the upgrade it undoes. The service decides when; this says it.
import type { WebClient } from '@slack/web-api';
import { checklistMessage, type ChecklistMessageView } from './checklist-message.js';
import { autoRollbackText, rollbackRequestedText } from './upgrade-thread.js';

/** A message a reply goes under. */
export interface ThreadRef {
  channelId: string;
  messageTs: string;
}

export interface ChecklistPoster {
  /** Posts the checklist; resolves with its ts. */
  post(channelId: string, view: ChecklistMessageView): Promise<string>;
  update(channelId: string, ts: string, view: ChecklistMessageView): Promise<void>;
  /** In the original upgrade's thread: someone asked for its rollback. */
  rollbackRequested(thread: ThreadRef, facts: { userId: string; toVersion: string; checklistLink: string | undefined }): Promise<void>;
  /** In the failed upgrade's thread: the bot rolls it back by itself (`postflight.autoRollback`). */
  autoRollbackStarted(thread: ThreadRef, facts: { reason: string; rollbackLink: string | undefined }): Promise<void>;
}

export function createChecklistPoster(slack: Pick<WebClient, 'chat'>): ChecklistPoster {
  return {
    async post(channelId, view) {
      const message = checklistMessage(view);
      const posted = await slack.chat.postMessage({ channel: channelId, text: message.text, blocks: message.blocks, unfurl_links: false });
      return posted.ts!;
    },
    async update(channelId, ts, view) {
      const message = checklistMessage(view);
      await slack.chat.update({ channel: channelId, ts, text: message.text, blocks: message.blocks });
    },
    async rollbackRequested(thread, facts) {
      await slack.chat.postMessage({ channel: thread.channelId, thread_ts: thread.messageTs, text: rollbackRequestedText(facts.userId, facts.toVersion, facts.checklistLink) });
    },
    async autoRollbackStarted(thread, facts) {
      await slack.chat.postMessage({ channel: thread.channelId, thread_ts: thread.messageTs, text: autoRollbackText(facts.reason, facts.rollbackLink) });
    },
  };
}
