// The Slack calls of an upgrade request: its checklist (posted once, then updated in place) and the replies a
// rollback request leaves in the thread of the upgrade it undoes. The service decides when; this says it.
import type { WebClient } from '@slack/web-api';
import { checklistMessage, type ChecklistMessageView } from './checklist-message.js';
import { autoRollbackText, rollbackRequestedText } from './upgrade-thread.js';
import { postBlocks, postReply, updateBlocks, type ThreadRef } from './chat-calls.js';

export type { ThreadRef } from './chat-calls.js';

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
    post: (channelId, view) => postBlocks(slack, channelId, checklistMessage(view)),
    update: (channelId, ts, view) => updateBlocks(slack, channelId, ts, checklistMessage(view)),
    rollbackRequested: (thread, facts) => postReply(slack, thread, rollbackRequestedText(facts.userId, facts.toVersion, facts.checklistLink)),
    autoRollbackStarted: (thread, facts) => postReply(slack, thread, autoRollbackText(facts.reason, facts.rollbackLink)),
  };
}
