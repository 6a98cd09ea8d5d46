// The fake Slack refuses what Slack refuses, with Slack's error codes, and records what Slack would cut.
import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectUntakenViolations, startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';

const CHANNEL = 'C0UPGRADES';
const USER = 'U0REQUESTER';
const noRetries = { retries: 0 };

const section = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'section', text: { type: 'mrkdwn', text }, ...extra });
const button = (extra: Record<string, unknown> = {}) => ({ type: 'button', action_id: 'go', text: { type: 'plain_text', text: 'Go' }, value: 'v', ...extra });
const actions = (...elements: unknown[]) => ({ type: 'actions', elements });

describe("the fake Slack enforces Slack's rules", () => {
  let slack: FakeSlack;
  let client: webApi.WebClient;

  beforeEach(async () => {
    slack = await startFakeSlack();
    client = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: noRetries, logLevel: webApi.LogLevel.ERROR });
  });

  afterEach(async () => {
    await slack.close();
  });

  /** Posts `blocks`, expects Slack's refusal, and returns the pointer messages it gave. */
  async function refused(blocks: unknown[], error = 'invalid_blocks'): Promise<string[]> {
    const before = slack.messages().length;
    const err = await client.chat.postMessage({ channel: CHANNEL, text: 'fallback', blocks: blocks as never }).then(
      () => null,
      (e: unknown) => e as { data: { error: string; errors?: string[] } },
    );
    expect(err?.data.error).toBe(error);
    const [violation, ...more] = slack.takeViolations();
    expect(more).toEqual([]);
    expect(violation).toMatchObject({ method: 'chat.postMessage', kind: 'refused', error });
    expect(slack.messages()).toHaveLength(before);
    return err?.data.errors ?? [];
  }

  async function accepted(blocks: unknown[]): Promise<void> {
    await client.chat.postMessage({ channel: CHANNEL, text: 'fallback', blocks: blocks as never });
    expect(slack.violations()).toEqual([]);
  }

  it('refuses more than 50 blocks', async () => {
    await accepted(Array.from({ length: 50 }, () => ({ type: 'divider' })));
    expect(await refused(Array.from({ length: 51 }, () => ({ type: 'divider' })))).toEqual(['must be less than 51 items [json-pointer:/blocks]']);
  });

  it('refuses section text over 3,000 characters, and an empty text object', async () => {
    await accepted([section('x'.repeat(3000))]);
    expect(await refused([section('x'.repeat(3001))])).toEqual(['must be less than 3001 characters [json-pointer:/blocks/0/text/text]']);
    expect(await refused([section('')])).toEqual(['must be more than 0 characters [json-pointer:/blocks/0/text/text]']);
    expect(await refused([{ type: 'section' }])).toEqual(['must define either `text` or `fields` [json-pointer:/blocks/0]']);
  });

  it('refuses more than 10 section fields and a field over 2,000 characters', async () => {
    const field = (text: string) => ({ type: 'mrkdwn', text });
    await accepted([{ type: 'section', fields: Array.from({ length: 10 }, () => field('f')) }]);
    expect(await refused([{ type: 'section', fields: Array.from({ length: 11 }, () => field('f')) }])).toEqual(['must be less than 11 items [json-pointer:/blocks/0/fields]']);
    expect(await refused([{ type: 'section', fields: [field('y'.repeat(2001))] }])).toEqual(['must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]']);
  });

  it('refuses a header over 150 characters, and one that is not plain_text', async () => {
    await accepted([{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(150) } }]);
    expect(await refused([{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }])).toEqual(['must be less than 151 characters [json-pointer:/blocks/0/text/text]']);
    expect(await refused([{ type: 'header', text: { type: 'mrkdwn', text: '*h*' } }])).toEqual(['must be plain_text [json-pointer:/blocks/0/text/type]']);
  });

  it('refuses button text over 75 characters or in mrkdwn, a value over 2,000, a url over 3,000 and an unknown style', async () => {
    await accepted([actions(button({ text: { type: 'plain_text', text: 'b'.repeat(75) }, value: 'v'.repeat(2000), url: `https://example.com/${'u'.repeat(2980)}` }))]);
    expect(await refused([actions(button({ text: { type: 'plain_text', text: 'b'.repeat(76) } }))])).toEqual(['must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]']);
    expect(await refused([actions(button({ text: { type: 'mrkdwn', text: '*Go*' } }))])).toEqual(['must be plain_text [json-pointer:/blocks/0/elements/0/text/type]']);
    expect(await refused([actions(button({ value: 'v'.repeat(2001) }))])).toEqual(['must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]']);
    expect(await refused([actions(button({ url: `https://example.com/${'u'.repeat(2982)}` }))])).toEqual(['must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]']);
    expect(await refused([actions(button({ style: 'green' }))])).toEqual(['must be one of primary, danger [json-pointer:/blocks/0/elements/0/style]']);
  });

  it("refuses a confirm dialog over its limits", async () => {
    const confirm = (title: string) => ({ title: { type: 'plain_text', text: title }, text: { type: 'plain_text', text: 'Sure?' }, confirm: { type: 'plain_text', text: 'Yes' }, deny: { type: 'plain_text', text: 'No' } });
    await accepted([actions(button({ confirm: confirm('t'.repeat(100)) }))]);
    expect(await refused([actions(button({ confirm: confirm('t'.repeat(101)) }))])).toEqual(['must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]']);
  });

  it('refuses action and block ids over 255 characters or repeated in a message', async () => {
    await accepted([{ ...section('a'), block_id: 'b'.repeat(255) }, actions(button({ action_id: 'a'.repeat(255) }))]);
    expect(await refused([{ ...section('a'), block_id: 'b'.repeat(256) }])).toEqual(['must be less than 256 characters [json-pointer:/blocks/0/block_id]']);
    expect(await refused([actions(button({ action_id: 'a'.repeat(256) }))])).toEqual(['must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]']);
    expect(await refused([{ ...section('a'), block_id: 'same' }, { ...section('b'), block_id: 'same' }])).toEqual(['duplicate block_id `same` [json-pointer:/blocks/1/block_id]']);
    expect(await refused([actions(button()), section('b', { accessory: button() })])).toEqual(['duplicate action_id `go` [json-pointer:/blocks/1/accessory/action_id]']);
  });

  it('refuses more than 10 context elements and more than 25 actions', async () => {
    const mrkdwn = { type: 'mrkdwn', text: 'c' };
    await accepted([{ type: 'context', elements: Array.from({ length: 10 }, () => mrkdwn) }]);
    expect(await refused([{ type: 'context', elements: Array.from({ length: 11 }, () => mrkdwn) }])).toEqual(['must be less than 11 items [json-pointer:/blocks/0/elements]']);
    const many = (n: number) => Array.from({ length: n }, (_, i) => button({ action_id: `a${i}` }));
    await accepted([actions(...many(25))]);
    expect(await refused([actions(...many(26))])).toEqual(['must be less than 26 items [json-pointer:/blocks/0/elements]']);
  });

  it('refuses blocks whose text adds up past 12,000 characters with msg_blocks_too_long', async () => {
    await accepted(Array.from({ length: 4 }, () => section('m'.repeat(3000))));
    await refused([...Array.from({ length: 4 }, () => section('m'.repeat(3000))), section('one more')], 'msg_blocks_too_long');
  });

  it('refuses blocks that are not a JSON array with invalid_blocks_format, and an unknown block type', async () => {
    const answer = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${slack.botToken}` },
      body: new URLSearchParams({ channel: CHANNEL, text: 't', blocks: '{"type":"divider"}' }).toString(),
    });
    expect(await answer.json()).toMatchObject({ ok: false, error: 'invalid_blocks_format' });
    expect(slack.takeViolations()).toMatchObject([{ error: 'invalid_blocks_format' }]);
    expect(await refused([{ type: 'input', element: {} }])).toEqual(['unsupported type: input [json-pointer:/blocks/0/type]']);
  });

  it('refuses more than 100 attachments with too_many_attachments', async () => {
    const attachments = Array.from({ length: 101 }, () => ({ text: 'a' }));
    await expect(client.chat.postMessage({ channel: CHANNEL, text: 't', attachments })).rejects.toMatchObject({ data: { error: 'too_many_attachments' } });
    expect(slack.takeViolations()).toMatchObject([{ method: 'chat.postMessage', error: 'too_many_attachments' }]);
  });

  it('cuts top-level text past 40,000 characters, as Slack does, and records it as a defect', async () => {
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 't'.repeat(40_001) });

    expect(slack.message(CHANNEL, String(posted.ts))?.text).toHaveLength(40_000);
    expect(slack.takeViolations()).toMatchObject([{ method: 'chat.postMessage', kind: 'truncated', error: 'text_truncated' }]);
    await client.chat.postMessage({ channel: CHANNEL, text: 't'.repeat(40_000) });
    expect(slack.violations()).toEqual([]);
  });

  it('applies the same rules to chat.update and chat.postEphemeral', async () => {
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'ok', blocks: [section('ok')] });
    const tooLong = [section('x'.repeat(3001))];

    await expect(client.chat.update({ channel: CHANNEL, ts: String(posted.ts), text: 'new', blocks: tooLong as never })).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    await expect(client.chat.postEphemeral({ channel: CHANNEL, user: USER, text: 'e', blocks: tooLong as never })).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });

    expect(slack.takeViolations().map((v) => v.method)).toEqual(['chat.update', 'chat.postEphemeral']);
    expect(slack.message(CHANNEL, String(posted.ts))?.versions).toHaveLength(1);
    expect(slack.ephemerals()).toEqual([]);
  });

  it('answers a response_url that breaks the rules with HTTP 400 and the code, and changes nothing', async () => {
    const url = slack.responseUrl({ channel: CHANNEL, user: USER });
    const send = (body: unknown) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    const answer = await send({ response_type: 'ephemeral', text: 'e', blocks: [section('x'.repeat(3001))] });
    const empty = await send({ response_type: 'ephemeral' });

    expect([answer.status, await answer.text()]).toEqual([400, 'invalid_blocks']);
    expect([empty.status, await empty.text()]).toEqual([400, 'no_text']);
    expect(slack.responses()).toEqual([]);
    expect(slack.takeViolations()).toMatchObject([{ method: 'response_url', error: 'invalid_blocks' }]);
  });

  it('hands every violation no test took to the harness once, which fails the test that caused it', async () => {
    await client.chat.postMessage({ channel: CHANNEL, text: 'x'.repeat(40_001) });

    const lines = collectUntakenViolations();

    expect(lines).toEqual(['chat.postMessage: text truncated (top-level text of 40001 characters cut to 40000)']);
    expect(collectUntakenViolations()).toEqual([]);
  });
  describe('views.publish (the Home tab)', () => {
    const home = (blocks: unknown[], extra: Record<string, unknown> = {}) => ({ type: 'home', blocks, ...extra });

    /** Publishes `view` for USER, expects Slack's refusal, and returns its response_metadata messages. */
    async function refusedView(view: unknown, error = 'invalid_arguments', userId = USER): Promise<string[]> {
      const err = await client.views.publish({ user_id: userId, view: view as never }).then(
        () => null,
        (e: unknown) => e as { data: { error: string; response_metadata?: { messages?: string[] } } },
      );
      expect(err?.data.error).toBe(error);
      expect(slack.takeViolations()).toMatchObject([{ method: 'views.publish', kind: 'refused', error }]);
      return err?.data.response_metadata?.messages ?? [];
    }

    it('refuses a view without user_id or with one Slack does not know, and a view that is not a home view', async () => {
      const strictSlack = await startFakeSlack({ strict: true });
      const strictClient = new webApi.WebClient(strictSlack.botToken, { slackApiUrl: strictSlack.apiUrl, retryConfig: noRetries, logLevel: webApi.LogLevel.ERROR });
      try {
        const unknownUser = await strictClient.views.publish({ user_id: 'U0NOBODY', view: home([section('x')]) as never }).catch((e: unknown) => (e as { data: unknown }).data);
        expect(unknownUser).toMatchObject({ ok: false, error: 'invalid_arguments', response_metadata: { messages: ['[ERROR] invalid `user_id`'] } });
        expect(strictSlack.takeViolations()).toMatchObject([{ method: 'views.publish', error: 'invalid_arguments' }]);
      } finally {
        await strictSlack.close();
      }
      expect(await refusedView(home([section('x')]), 'invalid_arguments', '')).toEqual(['[ERROR] missing required field: user_id [json-pointer:/user_id]']);
      expect(await refusedView({ type: 'modal', blocks: [section('x')] })).toEqual(['[ERROR] must be home, not modal [json-pointer:/view/type]']);
      expect(await refusedView({ blocks: [section('x')] })).toEqual(['[ERROR] missing required field: type [json-pointer:/view/type]']);
      expect(slack.homeViews()).toEqual([]);
    });

    it('refuses more than 100 blocks, text over its limits, unknown block types and bad action ids, with pointer messages', async () => {
      expect(await refusedView(home(Array.from({ length: 101 }, () => ({ type: 'divider' }))))).toEqual(['[ERROR] must be less than 101 items [json-pointer:/view/blocks]']);
      expect(await refusedView(home([section('x'.repeat(3001))]))).toEqual(['[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]']);
      expect(await refusedView(home([{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }]))).toEqual(['[ERROR] must be less than 151 characters [json-pointer:/view/blocks/0/text/text]']);
      expect(await refusedView(home([{ type: 'carousel' }]))).toEqual(['[ERROR] unsupported type: carousel [json-pointer:/view/blocks/0/type]']);
      expect(await refusedView(home([actions(button({ action_id: '' }))]))).toEqual(['[ERROR] must be a non-empty string [json-pointer:/view/blocks/0/elements/0/action_id]']);
      expect(await refusedView(home([actions(button({ action_id: 'a'.repeat(256) }))]))).toEqual(['[ERROR] must be less than 256 characters [json-pointer:/view/blocks/0/elements/0/action_id]']);
      expect(await refusedView(home([actions(button(), button())]))).toEqual(['[ERROR] duplicate action_id `go` [json-pointer:/view/blocks/0/elements/1/action_id]']);
      expect(await refusedView(home([section('x')], { private_metadata: 'm'.repeat(3001) }))).toEqual(['[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]']);
      expect(slack.homeViews()).toEqual([]);
    });

    it('refuses a view over 250 kB with view_too_large', async () => {
      const big = Array.from({ length: 100 }, () => section('x'.repeat(2999)));
      expect(await refusedView(home(big), 'view_too_large')).toEqual([]);
    });

    it('takes 100 blocks, an action_id repeated in other blocks, and text past 12,000 in all, and records the view per user', async () => {
      const blocks = [...Array.from({ length: 95 }, () => section('y'.repeat(200))), ...Array.from({ length: 5 }, () => actions(button()))];

      const answer = await client.views.publish({ user_id: USER, view: home(blocks) as never });

      expect(answer).toMatchObject({ ok: true, view: { type: 'home', team_id: slack.teamId } });
      expect(slack.violations()).toEqual([]);
      expect(slack.homeViews(USER)).toHaveLength(1);
      expect(slack.homeViews(USER)[0]!.view.blocks).toHaveLength(100);
      expect(slack.homeViews('U0SOMEONEELSE')).toEqual([]);
    });

    it('refuses an app-level token and answers not_enabled when the Home tab is off, neither recorded as a view', async () => {
      const appClient = new webApi.WebClient(slack.appToken, { slackApiUrl: slack.apiUrl, retryConfig: noRetries, logLevel: webApi.LogLevel.ERROR });
      await expect(appClient.views.publish({ user_id: USER, view: home([section('x')]) as never })).rejects.toMatchObject({ data: { error: 'not_allowed_token_type' } });
      const noHome = await startFakeSlack({ homeTabEnabled: false });
      try {
        const c = new webApi.WebClient(noHome.botToken, { slackApiUrl: noHome.apiUrl, retryConfig: noRetries, logLevel: webApi.LogLevel.ERROR });
        await expect(c.views.publish({ user_id: USER, view: home([section('x')]) as never })).rejects.toMatchObject({ data: { error: 'not_enabled' } });
        expect(noHome.homeViews()).toEqual([]);
      } finally {
        await noHome.close();
      }
      expect(slack.homeViews()).toEqual([]);
    });

    it('hands a refused view to the harness, which fails the test that sent it', async () => {
      await client.views.publish({ user_id: USER, view: home([{ type: 'carousel' }]) as never }).catch(() => undefined);

      expect(collectUntakenViolations()).toEqual(['views.publish: refused with invalid_arguments (unsupported type: carousel [json-pointer:/view/blocks/0/type])']);
    });
  });
});
