// The chat.postMessage / chat.update calls the posters share: a message of blocks posted in a channel (links not
// unfurled), the same message updated in place, and a plain reply in a thread.
import type { Block, KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';

/** A message a reply goes under. */
export interface ThreadRef {
  channelId: string;
  messageTs: string;
}

export interface BlockMessage {
  /** Also the notification and accessibility fallback. */
  text: string;
  blocks: (KnownBlock | Block)[];
}

type Chat = Pick<WebClient, 'chat'>;

/** Posts `message` in the channel; resolves with its ts. */
export async function postBlocks(slack: Chat, channelId: string, message: BlockMessage): Promise<string> {
  const posted = await slack.chat.postMessage({ channel: channelId, text: message.text, blocks: message.blocks, unfurl_links: false });
  return posted.ts!;
}

export async function updateBlocks(slack: Chat, channelId: string, ts: string, message: BlockMessage): Promise<void> {
  await slack.chat.update({ channel: channelId, ts, text: message.text, blocks: message.blocks });
}

export async function postReply(slack: Chat, thread: ThreadRef, text: string): Promise<void> {
  await slack.chat.postMessage({ channel: thread.channelId, thread_ts: thread.messageTs, text });
}
