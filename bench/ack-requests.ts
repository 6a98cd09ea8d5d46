// The two signed Slack requests the acknowledgement bench replays: `/checkstack help` and a click on a checklist
// button of an upgrade that does not exist. Built by the fake Slack, which owns the response_urls they carry.
import { randomUUID } from 'node:crypto';
import type { FakeSlack } from '../test/fakes/fake-slack.js';
import type { ClickableMessage, SlackDriver } from '../test/support/slack-driver.js';

export type AckScenario = 'help' | 'click';

export const ACK_SCENARIOS: readonly AckScenario[] = ['help', 'click'];
export const CLICK_ACTION_ID = 'confirm:notes_read';
export const BENCH_USER = 'U0BENCHUSER';
export const BENCH_CHANNEL = 'C0BENCHOPS';

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
  /** Where the server's reply to this request lands in the fake Slack. */
  responseUrl: string;
}

/** A checklist message with the one button the click presses; its upgrade id matches no upgrade. */
export function checklistWithOneButton(upgradeId: string = randomUUID()) {
  return {
    channel: BENCH_CHANNEL,
    ts: '1700000000.000100',
    text: 'Upgrade checklist',
    blocks: [
      {
        type: 'actions',
        block_id: 'checklist',
        elements: [
          {
            type: 'button',
            action_id: CLICK_ACTION_ID,
            value: `${upgradeId}:notes_read`,
            text: { type: 'plain_text', text: 'I have read the release notes' },
          },
        ],
      },
    ],
  };
}

/** One fixed body per scenario, signed once with the current timestamp (Bolt accepts it for 5 minutes). */
export function signedAckRequest(driver: SlackDriver, slack: FakeSlack, scenario: AckScenario): SignedRequest {
  let body: string;
  let responseUrl: string;
  if (scenario === 'help') {
    const fields = driver.slashCommandFields('/checkstack', 'help', { user: BENCH_USER, channel: BENCH_CHANNEL });
    body = new URLSearchParams(fields).toString();
    responseUrl = fields.response_url!;
  } else {
    const message = checklistWithOneButton();
    responseUrl = slack.responseUrl({ channel: message.channel, user: BENCH_USER, messageTs: message.ts });
    const payload = driver.blockActionsPayload(message, CLICK_ACTION_ID, { user: BENCH_USER, stale: true, responseUrl });
    body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  }
  return signed(driver, body, responseUrl);
}

/** A signed `/checkstack <command>` or a click (by `user`, on `message` as the fake shows it now), for the load bench. */
export function signedRequest(
  driver: SlackDriver,
  slack: FakeSlack,
  what: { command: string } | { click: { message: ClickableMessage; actionId: string; user: string } },
): SignedRequest {
  if ('command' in what) {
    const fields = driver.slashCommandFields('/checkstack', what.command, { user: BENCH_USER, channel: BENCH_CHANNEL });
    return signed(driver, new URLSearchParams(fields).toString(), fields.response_url!);
  }
  const { message, actionId, user } = what.click;
  const responseUrl = slack.responseUrl({ channel: message.channel, user, messageTs: message.ts });
  const payload = driver.blockActionsPayload(message, actionId, { user, stale: true, responseUrl });
  return signed(driver, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), responseUrl);
}

function signed(driver: SlackDriver, body: string, responseUrl: string): SignedRequest {
  const { timestamp, signature } = driver.sign(body);
  return {
    body,
    responseUrl,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature,
    },
  };
}
