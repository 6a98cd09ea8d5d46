// The Slack side of an upgrade as a person drives it, shared by the end-to-end suites: type the command,
// wait for the checklist, confirm every item as an approver, press Start, and read the outcome.
import { expect } from 'vitest';
import type { FakeMessage, FakeSlack } from '../fakes/fake-slack.js';
import { pollUntil } from './docker-images.js';
import type { SlackDriver } from './slack-driver.js';

/** The parent message's fallback text ends with its state: `Upgrade prod from 0.28.0 to 0.30.0: succeeded`. */
const FINAL_STATE = /: (succeeded|failed|rolled back|cancelled|expired)$/;

/** How many of a thread's texts match `pattern`: "exactly once" is the claim the crash and fault suites make. */
export function countMatching(texts: string[], pattern: RegExp): number {
  return texts.filter((t) => pattern.test(t)).length;
}


export interface UpgradeFlowOptions {
  slack: FakeSlack;
  channel: string;
  requester: string;
  approver: string;
}

export function upgradeFlow({ slack, channel, requester, approver }: UpgradeFlowOptions) {
  const topLevel = () => slack.messages(channel).filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const current = (message: FakeMessage) => slack.message(channel, message.ts)!;
  const threadTexts = (message: FakeMessage) => slack.threadReplies(message.ts).map((reply) => reply.text ?? '');

  /** Types `/checkstack <text>` and returns the checklist message it posts; the ephemeral reply must match `planned`. */
  async function request(driver: SlackDriver, text: string, planned = /planned/, user = requester): Promise<FakeMessage> {
    const before = topLevel().length;
    const response = await driver.slashCommand('/checkstack', text, { user, channel });
    const reply = await slack.waitFor(() => slack.responses().find((r) => r.url === response.responseUrl), 20_000);
    expect(reply.payload.text).toMatch(planned);
    return slack.waitFor(() => topLevel().length > before && topLevel().at(-1), 20_000);
  }

  /** Confirms every item as the approver, then presses Start (the button appears once the checklist is complete). */
  async function confirmAndStart(driver: SlackDriver, message: FakeMessage): Promise<void> {
    await driver.clickAll(message, 'confirm', { user: approver });
    const ready = await slack.waitFor(() => JSON.stringify(current(message).blocks).includes('start_upgrade') && current(message), 20_000);
    await driver.click(ready, 'start_upgrade', { user: approver });
  }

  async function finalState(message: FakeMessage, timeoutMs = 120_000): Promise<string> {
    return slack.waitFor(() => FINAL_STATE.exec(current(message).text ?? '')?.[1], timeoutMs);
  }

  /**
   * Waits until the parent message has shown `state`, even if a later update replaced it at once (a failed upgrade
   * that rolls back on its own shows `failed` only until the rollback starts).
   */
  async function reachedState(message: FakeMessage, state: string, timeoutMs = 120_000): Promise<void> {
    await slack.waitFor(() => current(message).versions.some((v) => FINAL_STATE.exec(v.text ?? '')?.[1] === state), timeoutMs);
  }

  return { topLevel, current, threadTexts, request, confirmAndStart, finalState, reachedState };
}

/** A restarted container may still boot: the bot rightly refuses to plan against a target that is not ready. */
export async function waitUntilReady(baseUrl: string, timeoutMs = 60_000): Promise<void> {
  await pollUntil(async () => ((await fetch(`${baseUrl}/.checkstack/ready`).catch(() => null))?.status === 200 ? true : undefined), timeoutMs);
}
