// Plays Slack's side towards the bot: signed slash commands and button clicks over HTTP, or envelopes over Socket Mode.
import { createHmac, randomBytes } from 'node:crypto';
import type { FakeEphemeral, FakeMessage, FakeSlack, SlackBlock, SocketAck } from '../fakes/fake-slack.js';

export interface SlackDriverOptions {
  /** `http://127.0.0.1:PORT` of the bot in HTTP mode; omit for a Socket Mode-only driver. */
  botUrl?: string;
  /** The bot's `SLACK_SIGNING_SECRET`; required with `botUrl`. */
  signingSecret?: string;
  fakeSlack: FakeSlack;
  /** Default `/slack/events` (Bolt's default path). */
  path?: string;
}

export interface SlackHttpResponse {
  status: number;
  headers: Record<string, string>;
  /** The raw response body. */
  text: string;
  /** The body parsed as JSON when it is JSON (e.g. an `ack({ text })`), else undefined. */
  body: unknown;
  /** The response_url handed to the bot with this request, if any. */
  responseUrl?: string;
  triggerId?: string;
}

export interface SlashCommandOptions {
  user: string;
  channel: string;
  /** Sends `X-Slack-Retry-Num` (and `X-Slack-Retry-Reason`), as Slack does when it redelivers. */
  retryNum?: number;
  retryReason?: string;
  /** Reuse a response_url (e.g. to replay the same delivery); default: a fresh one from the fake. */
  responseUrl?: string;
  triggerId?: string;
}

export interface ClickOptions {
  user: string;
  /** Default: the button's own `value`. */
  value?: string;
  retryNum?: number;
  retryReason?: string;
  responseUrl?: string;
  triggerId?: string;
  /**
   * By default the click uses the message's current state in the fake (what the user sees now).
   * `stale: true` clicks exactly the snapshot passed in, e.g. a button the bot has since removed.
   */
  stale?: boolean;
}

export interface SendOptions {
  /** Unix seconds for `X-Slack-Request-Timestamp`; default now. */
  timestamp?: number;
  /** Sign with this secret instead of the bot's. */
  secret?: string;
  /** Send this `X-Slack-Signature` verbatim instead of computing it. */
  signature?: string;
  headers?: Record<string, string>;
  /** Default `application/x-www-form-urlencoded`, or `application/json` for a body starting with `{`. */
  contentType?: string;
}

/** A message as the driver needs it: anything from `fakeSlack.messages()`, `lastMessage()` or `ephemerals()`. */
export interface ClickableMessage {
  channel: string;
  ts: string;
  text?: string | undefined;
  blocks?: SlackBlock[] | undefined;
  thread_ts?: string;
  ephemeral?: boolean;
}

export interface EventOptions {
  retryNum?: number;
  retryReason?: string;
  /** Default: a fresh `Ev…` id. */
  eventId?: string;
}

export interface SocketDelivery extends SocketAck {
  envelopeId: string;
  responseUrl: string;
}

export interface SlackDriver {
  slashCommand(command: string, text: string, options: SlashCommandOptions): Promise<SlackHttpResponse>;
  click(message: ClickableMessage, actionId: string, options: ClickOptions): Promise<SlackHttpResponse>;
  /** Clicks every button whose action_id starts with the prefix, one after the other (skipping any the bot removed meanwhile). */
  clickAll(message: ClickableMessage, actionIdPrefix: string, options: ClickOptions): Promise<SlackHttpResponse[]>;
  /** Posts a raw body to the events URL, signed (or forged) as the options say. */
  send(body: string, options?: SendOptions): Promise<SlackHttpResponse>;
  /** Slack's signature for a body: `v0=` + HMAC-SHA256(secret, `v0:{timestamp}:{body}`). */
  sign(body: string, timestamp?: number, secret?: string): { timestamp: number; signature: string };
  /** A click on a button of a published Home tab view: no channel, no message and no response_url, as Slack sends it. */
  clickHome(view: { blocks: SlackBlock[] }, actionId: string, options: { user: string; value?: string }): Promise<SlackHttpResponse>;
  /** Delivers an Events API event (`event_callback`, signed JSON), as Slack does for each subscribed bot event. */
  event(event: Record<string, unknown>, options?: EventOptions): Promise<SlackHttpResponse>;
  /** `app_home_opened`: `user` opened the bot's Home tab (or, with `tab: 'messages'`, its Messages tab). */
  openHome(user: string, options?: EventOptions & { tab?: 'home' | 'messages' }): Promise<SlackHttpResponse>;
  eventCallback(event: Record<string, unknown>, options?: EventOptions): Record<string, unknown>;
  slashCommandFields(command: string, text: string, options: SlashCommandOptions): Record<string, string>;
  blockActionsPayload(message: ClickableMessage, actionId: string, options: ClickOptions): Record<string, unknown>;
  /** The same deliveries over the fake's Socket Mode connection; each resolves with the bot's acknowledgement. */
  socket: {
    slashCommand(command: string, text: string, options: SlashCommandOptions & { timeoutMs?: number }): Promise<SocketDelivery>;
    click(message: ClickableMessage, actionId: string, options: ClickOptions & { timeoutMs?: number }): Promise<SocketDelivery>;
    event(event: Record<string, unknown>, options?: EventOptions & { timeoutMs?: number }): Promise<SocketDelivery>;
  };
}

interface FoundButton {
  block: SlackBlock;
  blockIndex: number;
  element: Record<string, unknown>;
}

export function createSlackDriver(options: SlackDriverOptions): SlackDriver {
  const { fakeSlack } = options;
  const path = options.path ?? '/slack/events';

  const sign = (body: string, timestamp = nowSeconds(), secret = options.signingSecret): { timestamp: number; signature: string } => {
    if (secret === undefined) throw new Error('slack-driver: no signing secret (pass signingSecret to createSlackDriver)');
    const digest = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
    return { timestamp, signature: `v0=${digest}` };
  };

  const send = async (body: string, sendOptions: SendOptions = {}): Promise<SlackHttpResponse> => {
    if (options.botUrl === undefined) throw new Error('slack-driver: no botUrl; use driver.socket for Socket Mode');
    const signed = sign(body, sendOptions.timestamp, sendOptions.secret);
    const contentType =
      sendOptions.contentType ?? (body.trimStart().startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded');
    const response = await fetch(`${options.botUrl}${path}`, {
      method: 'POST',
      headers: {
        'Content-Type': contentType,
        'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
        'X-Slack-Request-Timestamp': String(signed.timestamp),
        'X-Slack-Signature': sendOptions.signature ?? signed.signature,
        ...sendOptions.headers,
      },
      body,
    });
    const text = await response.text();
    return { status: response.status, headers: Object.fromEntries(response.headers.entries()), text, body: parseJson(text) };
  };

  const retryHeaders = (retryNum?: number, retryReason?: string): Record<string, string> =>
    retryNum === undefined ? {} : { 'X-Slack-Retry-Num': String(retryNum), 'X-Slack-Retry-Reason': retryReason ?? 'http_timeout' };

  const slashCommandFields = (command: string, text: string, opts: SlashCommandOptions): Record<string, string> => ({
    // The order and set of fields Slack sends for a slash command.
    token: fakeSlack.verificationToken,
    team_id: fakeSlack.teamId,
    team_domain: fakeSlack.teamDomain,
    channel_id: opts.channel,
    channel_name: fakeSlack.channel(opts.channel)?.name ?? opts.channel.toLowerCase(),
    user_id: opts.user,
    user_name: fakeSlack.user(opts.user)?.name ?? opts.user.toLowerCase(),
    command,
    text,
    api_app_id: fakeSlack.appId,
    is_enterprise_install: 'false',
    response_url: opts.responseUrl ?? fakeSlack.responseUrl({ channel: opts.channel, user: opts.user }),
    trigger_id: opts.triggerId ?? triggerId(),
  });

  const currentState = (message: ClickableMessage, user: string): ClickableMessage => {
    if (message.ephemeral) {
      return fakeSlack.ephemerals(user).find((e) => e.channel === message.channel && e.ts === message.ts) ?? message;
    }
    return fakeSlack.message(message.channel, message.ts) ?? message;
  };

  const blockActionsPayload = (message: ClickableMessage, actionId: string, opts: ClickOptions): Record<string, unknown> => {
    const seen = opts.stale ? message : currentState(message, opts.user);
    const found = findButton(seen.blocks, actionId);
    if (!found) {
      const available = buttons(seen.blocks).map((b) => String(b.element.action_id));
      throw new Error(`slack-driver: no button with action_id "${actionId}" in message ${seen.ts} (buttons: ${available.join(', ') || 'none'})`);
    }
    const user = fakeSlack.user(opts.user);
    const channelInfo = fakeSlack.channel(seen.channel);
    const container: Record<string, unknown> = {
      type: 'message',
      message_ts: seen.ts,
      channel_id: seen.channel,
      is_ephemeral: seen.ephemeral === true,
    };
    if (seen.thread_ts !== undefined) container.thread_ts = seen.thread_ts;
    const action: Record<string, unknown> = {
      type: 'button',
      action_id: found.element.action_id,
      block_id: found.block.block_id ?? `fake-block-${found.blockIndex}`,
      text: found.element.text,
      value: opts.value ?? found.element.value,
      action_ts: (Date.now() / 1000).toFixed(6),
    };
    if (found.element.style !== undefined) action.style = found.element.style;
    // A link button opens its URL in the browser, and Slack still sends the click, with the URL and no value.
    if (found.element.url !== undefined) action.url = found.element.url;
    const payload: Record<string, unknown> = {
      type: 'block_actions',
      user: { id: opts.user, username: user?.name ?? opts.user, name: user?.name ?? opts.user, team_id: fakeSlack.teamId },
      api_app_id: fakeSlack.appId,
      token: fakeSlack.verificationToken,
      container,
      trigger_id: opts.triggerId ?? triggerId(),
      team: { id: fakeSlack.teamId, domain: fakeSlack.teamDomain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: seen.channel, name: channelInfo?.name ?? seen.channel.toLowerCase() },
      state: { values: {} },
      response_url:
        opts.responseUrl ??
        fakeSlack.responseUrl({ channel: seen.channel, user: opts.user, messageTs: seen.ts, ephemeral: seen.ephemeral === true }),
      actions: [action],
    };
    // Slack leaves out the message body for clicks in ephemeral messages.
    if (!seen.ephemeral) payload.message = wireMessage(seen, fakeSlack);
    return payload;
  };

  const click = async (message: ClickableMessage, actionId: string, opts: ClickOptions): Promise<SlackHttpResponse> => {
    const payload = blockActionsPayload(message, actionId, opts);
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const response = await send(body, { headers: retryHeaders(opts.retryNum, opts.retryReason) });
    return { ...response, responseUrl: String(payload.response_url), triggerId: String(payload.trigger_id) };
  };

  // The envelope Slack wraps every Events API event in (docs.slack.dev, "The Events API": event_callback).
  const eventCallback = (event: Record<string, unknown>, opts: EventOptions = {}): Record<string, unknown> => {
    const eventTime = nowSeconds();
    return {
      token: fakeSlack.verificationToken,
      team_id: fakeSlack.teamId,
      api_app_id: fakeSlack.appId,
      event: { event_ts: `${eventTime}.${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`, ...event },
      type: 'event_callback',
      event_id: opts.eventId ?? `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
      event_time: eventTime,
      authorizations: [{ enterprise_id: null, team_id: fakeSlack.teamId, user_id: fakeSlack.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: `4-${randomBytes(12).toString('hex')}`,
    };
  };

  const homeOpenedEvent = (user: string, tab: 'home' | 'messages'): Record<string, unknown> => ({
    type: 'app_home_opened',
    user,
    channel: `D0${user.slice(1, 10).toUpperCase()}`,
    tab,
  });

  const deliver = async (
    type: 'slash_commands' | 'interactive' | 'events_api',
    payload: Record<string, unknown>,
    timeoutMs: number | undefined,
    retryNum?: number,
    retryReason?: string,
  ): Promise<SocketDelivery> => {
    const envelopeId = fakeSlack.sendEnvelope({
      type,
      payload,
      accepts_response_payload: type === 'slash_commands',
      ...(retryNum === undefined ? {} : { retry_attempt: retryNum, retry_reason: retryReason ?? 'timeout' }),
    });
    const ack = await fakeSlack.waitForAck(envelopeId, timeoutMs);
    return { ...ack, envelopeId, responseUrl: String(payload.response_url) };
  };

  return {
    sign,
    send,
    slashCommandFields,
    blockActionsPayload,
    slashCommand: async (command, text, opts) => {
      const fields = slashCommandFields(command, text, opts);
      const response = await send(new URLSearchParams(fields).toString(), { headers: retryHeaders(opts.retryNum, opts.retryReason) });
      return { ...response, responseUrl: fields.response_url, triggerId: fields.trigger_id };
    },
    click,
    clickHome: async (view, actionId, opts) => {
      const found = findButton(view.blocks, actionId);
      if (!found) throw new Error(`slack-driver: no button with action_id "${actionId}" in the Home view`);
      const user = fakeSlack.user(opts.user);
      const viewId = `V${randomBytes(5).toString('hex').toUpperCase()}`;
      const payload = {
        type: 'block_actions',
        user: { id: opts.user, username: user?.name ?? opts.user, name: user?.name ?? opts.user, team_id: fakeSlack.teamId },
        api_app_id: fakeSlack.appId,
        token: fakeSlack.verificationToken,
        container: { type: 'view', view_id: viewId },
        trigger_id: triggerId(),
        team: { id: fakeSlack.teamId, domain: fakeSlack.teamDomain },
        enterprise: null,
        is_enterprise_install: false,
        view: { id: viewId, team_id: fakeSlack.teamId, type: 'home', blocks: view.blocks, app_id: fakeSlack.appId, bot_id: fakeSlack.botId, state: { values: {} } },
        actions: [
          {
            type: 'button',
            action_id: found.element.action_id,
            block_id: found.block.block_id ?? `fake-block-${found.blockIndex}`,
            text: found.element.text,
            value: opts.value ?? found.element.value,
            action_ts: (Date.now() / 1000).toFixed(6),
          },
        ],
      };
      return send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    },
    eventCallback,
    event: (event, opts = {}) => send(JSON.stringify(eventCallback(event, opts)), { headers: retryHeaders(opts.retryNum, opts.retryReason) }),
    openHome: (user, opts = {}) => send(JSON.stringify(eventCallback(homeOpenedEvent(user, opts.tab ?? 'home'), opts)), { headers: retryHeaders(opts.retryNum, opts.retryReason) }),
    clickAll: async (message, prefix, opts) => {
      const start = opts.stale ? message : currentState(message, opts.user);
      const actionIds = buttons(start.blocks)
        .map((b) => String(b.element.action_id))
        .filter((id) => id.startsWith(prefix));
      if (actionIds.length === 0) throw new Error(`slack-driver: no button with an action_id starting "${prefix}" in message ${start.ts}`);
      const responses: SlackHttpResponse[] = [];
      for (const actionId of actionIds) {
        const seen = opts.stale ? message : currentState(message, opts.user);
        if (!findButton(seen.blocks, actionId)) continue;
        responses.push(await click(seen, actionId, { ...opts, stale: true }));
      }
      return responses;
    },
    socket: {
      slashCommand: (command, text, opts) =>
        deliver('slash_commands', slashCommandFields(command, text, opts), opts.timeoutMs, opts.retryNum, opts.retryReason),
      click: (message, actionId, opts) =>
        deliver('interactive', blockActionsPayload(message, actionId, opts), opts.timeoutMs, opts.retryNum, opts.retryReason),
      event: (event, opts = {}) => deliver('events_api', eventCallback(event, opts), opts.timeoutMs, opts.retryNum, opts.retryReason),
    },
  };
}

function buttons(blocks: SlackBlock[] | undefined): FoundButton[] {
  const found: FoundButton[] = [];
  (blocks ?? []).forEach((block, blockIndex) => {
    const candidates: unknown[] = [];
    if (block.type === 'actions' && Array.isArray(block.elements)) candidates.push(...(block.elements as unknown[]));
    if (block.type === 'section' && block.accessory !== undefined) candidates.push(block.accessory);
    for (const element of candidates) {
      if (isRecord(element) && element.type === 'button' && typeof element.action_id === 'string') {
        found.push({ block, blockIndex, element });
      }
    }
  });
  return found;
}

function findButton(blocks: SlackBlock[] | undefined, actionId: string): FoundButton | undefined {
  return buttons(blocks).find((b) => b.element.action_id === actionId);
}

function wireMessage(message: ClickableMessage | FakeMessage | FakeEphemeral, fakeSlack: FakeSlack): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    type: 'message',
    user: 'user' in message ? message.user : fakeSlack.botUserId,
    bot_id: 'bot_id' in message ? message.bot_id : fakeSlack.botId,
    app_id: fakeSlack.appId,
    team: fakeSlack.teamId,
    ts: message.ts,
    text: message.text ?? '',
  };
  if (message.blocks) wire.blocks = message.blocks;
  if (message.thread_ts !== undefined) wire.thread_ts = message.thread_ts;
  if ('reply_count' in message && message.reply_count !== undefined) wire.reply_count = message.reply_count;
  return wire;
}

function triggerId(): string {
  return `${Date.now()}.${1_000_000 + Math.floor(Math.random() * 8_999_999)}.${randomBytes(16).toString('hex')}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
