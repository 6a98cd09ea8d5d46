// A loopback Slack: the Web API wire protocol, response_urls and the Socket Mode WebSocket, with recording and faults.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { checkHomeView, checkMessagePayload, type SlackRefusal } from './slack-block-kit.js';

export type SlackBlock = Record<string, unknown> & { type: string; block_id?: string };

export interface FakeSlackOptions {
  /** Bot token the bot uses (`SLACK_BOT_TOKEN`). Default `xoxb-fake-bot-token`. */
  botToken?: string;
  /** App-level token for Socket Mode (`SLACK_APP_TOKEN`). Default `xapp-1-fake-app-token`. */
  appToken?: string;
  /** Further bot tokens accepted (e.g. a second workspace). */
  extraTokens?: string[];
  teamId?: string;
  teamDomain?: string;
  enterpriseId?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** Known users by id; unknown `U…`/`W…` ids get a generated profile unless `strict`. */
  users?: Record<string, { name?: string; real_name?: string; is_bot?: boolean; deleted?: boolean; tz?: string }>;
  /** Members of each user group (`S…` id). */
  usergroups?: Record<string, string[]>;
  /**
   * Known channels by id; unknown `C…`/`G…` ids get a generated channel unless `strict`. `is_member` (default true):
   * whether the bot is in it; a private channel the bot is not in is `channel_not_found` to it, as in Slack.
   */
  channels?: Record<string, { name: string; is_private?: boolean; is_archived?: boolean; is_member?: boolean }>;
  /**
   * The bot token's granted scopes (default `DEFAULT_BOT_SCOPES`). Sent as `x-oauth-scopes` on every answer to a bot
   * token, as Slack sends it; a method needing a scope not granted answers `missing_scope` with `needed` and `provided`.
   */
  scopes?: string[];
  /** When true, unknown users and channels answer `user_not_found` / `channel_not_found`. */
  strict?: boolean;
  /** Server pings on each Socket Mode connection, as Slack sends them. 0 disables. Default 5000. */
  socketPingIntervalMs?: number;
  /** Whether the app has its Home tab enabled (manifest `features.app_home.home_tab_enabled`); views.publish answers `not_enabled` otherwise. Default true. */
  homeTabEnabled?: boolean;
}

/** One fault served instead of the normal answer. */
export interface FakeSlackFault {
  /** HTTP status. Default: 429 when `retryAfter` is set, 200 when `error` is set, else 500. */
  status?: number;
  /** Seconds, sent as `Retry-After` on a 429. Default 1 on a 429. */
  retryAfter?: number;
  /** Answer HTTP 200 `{ ok: false, error }`. */
  error?: string;
  /** Wait this long before answering (a slow Slack). With no other field the call then succeeds normally. */
  delayMs?: number;
  /**
   * Do the call at once but answer only after this long: a posted message is in the channel (and clickable) before
   * the caller learns its ts. Ignored with a failing fault.
   */
  lateAnswerMs?: number;
}

export interface FakeSlackCall {
  method: string;
  /** Arguments as Slack parses them: form fields (JSON-typed fields such as `blocks` decoded) or the JSON body. */
  args: Record<string, unknown>;
  token: string | undefined;
  contentType: string;
  headers: IncomingHttpHeaders;
  /** `Date.now()` when the request arrived. */
  time: number;
  status: number;
  response: unknown;
}

/**
 * A payload that broke one of Slack's rules (`test/fakes/slack-block-kit.ts`): refused as Slack refuses it, or
 * accepted and changed as Slack changes it (a top-level text cut at 40,000 characters: a defect of the bot either way).
 */
export interface FakeSlackViolation {
  /** `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `views.publish` or `response_url`. */
  method: string;
  kind: 'refused' | 'truncated';
  /** Slack's error code for a refusal (`invalid_blocks`, `msg_blocks_too_long`, …); `text_truncated` for a cut. */
  error: string;
  /** Slack's pointer messages (`must be less than 3001 characters [json-pointer:/blocks/0/text/text]`). */
  errors: string[];
  time: number;
}

export interface FakeMessageVersion {
  text: string | undefined;
  blocks: SlackBlock[] | undefined;
  time: number;
}

export interface FakeMessage {
  type: 'message';
  channel: string;
  ts: string;
  /** Set on replies, and on a parent once it has replies (as Slack does). */
  thread_ts?: string;
  reply_count?: number;
  text: string | undefined;
  blocks: SlackBlock[] | undefined;
  user: string;
  bot_id: string;
  app_id: string;
  team: string;
  /** Every state of the message in order: `versions[0]` as posted, the last one is the current state. */
  versions: FakeMessageVersion[];
  /** How it came to be: a Web API call or a `response_url` with `response_type: in_channel`. */
  source: 'chat.postMessage' | 'response_url';
  args: Record<string, unknown>;
}

export interface FakeEphemeral {
  type: 'message';
  ephemeral: true;
  channel: string;
  user: string;
  /** Slack's `message_ts` for the ephemeral message. */
  ts: string;
  thread_ts?: string;
  text: string | undefined;
  blocks: SlackBlock[] | undefined;
  versions: FakeMessageVersion[];
  deleted: boolean;
  source: 'chat.postEphemeral' | 'response_url';
}

/** A Home tab view Slack took (`views.publish`): what the user sees on the bot's Home tab from then on. */
export interface FakeHomeView {
  userId: string;
  view: Record<string, unknown> & { type: 'home'; blocks: SlackBlock[] };
  time: number;
}

export interface ResponseUrlContext {
  /** Channel the command or click came from. */
  channel?: string;
  /** The user who triggered it (ephemeral responses go to them). */
  user?: string;
  /** The message a click came from: `replace_original` / `delete_original` act on it. */
  messageTs?: string;
  /** Whether that message is ephemeral. */
  ephemeral?: boolean;
}

export interface FakeResponse {
  id: string;
  url: string;
  context: ResponseUrlContext;
  payload: {
    response_type?: 'ephemeral' | 'in_channel';
    replace_original?: boolean;
    delete_original?: boolean;
    text?: string;
    blocks?: SlackBlock[];
    thread_ts?: string;
    [key: string]: unknown;
  };
  time: number;
}

export interface SocketEnvelope {
  type: 'slash_commands' | 'interactive' | 'events_api' | (string & {});
  payload: Record<string, unknown>;
  envelope_id?: string;
  accepts_response_payload?: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

export interface SocketAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
  time: number;
  raw: string;
}

export interface FakeUser {
  id: string;
  name: string;
  real_name: string;
  is_bot: boolean;
  deleted: boolean;
  tz: string;
}

export interface FakeChannel {
  id: string;
  name: string;
  is_private: boolean;
  is_archived: boolean;
  is_member: boolean;
}

/** What a bot installed from manifest.yml is granted, plus users:read for tests of users.info. */
export const DEFAULT_BOT_SCOPES: readonly string[] = ['commands', 'chat:write', 'chat:write.public', 'usergroups:read', 'channels:read', 'groups:read', 'users:read'];

/** The scope Slack requires per method (a public or a private channel for conversations.info). */
function scopeNeeded(method: string, channel: FakeChannel | undefined): string | null {
  switch (method) {
    case 'chat.postMessage':
    case 'chat.update':
    case 'chat.postEphemeral':
      return 'chat:write';
    case 'users.info':
      return 'users:read';
    case 'usergroups.users.list':
      return 'usergroups:read';
    case 'conversations.info':
      return channel?.is_private ? 'groups:read' : 'channels:read';
    default:
      return null;
  }
}

export interface FakeSlack {
  /** `http://127.0.0.1:PORT`; the Web API base for a WebClient is `url + '/api/'`. */
  readonly url: string;
  readonly apiUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  /** The verification token Slack puts in every payload (deprecated by Slack, still sent). */
  readonly verificationToken: string;
  calls(method?: string): FakeSlackCall[];
  /** Posted messages (top-level and replies), in posting order, each in its current state. */
  messages(channel?: string): FakeMessage[];
  /** The current state of one message. */
  message(channel: string, ts: string): FakeMessage | undefined;
  /** The most recently posted top-level message (not a thread reply), in its current state. */
  lastMessage(channel?: string): FakeMessage | undefined;
  /** Replies in the thread of `ts`, in posting order, without the parent. */
  threadReplies(ts: string): FakeMessage[];
  ephemerals(user?: string): FakeEphemeral[];
  /** Every Home tab view published (of one user, or all), in order: the last of a user's is what their Home tab shows. */
  homeViews(user?: string): FakeHomeView[];
  responses(): FakeResponse[];
  /** A fresh response_url; the context says what `replace_original` and ephemeral responses act on. */
  responseUrl(context?: ResponseUrlContext): string;
  /** The next `n` calls of `method` (`'*'` for any, `'response_url'` for response_urls) get `fault`. */
  failNext(method: string, n?: number, fault?: FakeSlackFault): void;
  /** The next `n` calls of `method` whose arguments `matches` get `fault`; other calls are answered as usual. */
  failWhen(method: string, matches: (args: Record<string, unknown>) => boolean, n?: number, fault?: FakeSlackFault): void;
  setUsergroupMembers(usergroup: string, users: string[]): void;
  /** Replaces the bot token's granted scopes (a reinstall with another manifest). */
  setGrantedScopes(scopes: string[]): void;
  /** Invites the bot to a channel or removes it (`/invite`, `/remove`). */
  setBotMembership(channel: string, member: boolean): void;
  /** Every payload that broke Slack's rules since the last `takeViolations()`. */
  violations(): FakeSlackViolation[];
  /**
   * Returns the violations and forgets them. The test harness (`test/support/slack-rules.ts`) fails every test that
   * leaves one behind; a test that sends a bad payload on purpose takes them and asserts on them.
   */
  takeViolations(): FakeSlackViolation[];
  user(id: string): FakeUser | undefined;
  channel(id: string): FakeChannel | undefined;
  /** Polls until `predicate` returns a value other than false/undefined/null without throwing; returns it. */
  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs?: number): Promise<Exclude<T, false | null | undefined>>;
  /** Sends an envelope to the newest open Socket Mode connection; returns its envelope_id. */
  sendEnvelope(envelope: SocketEnvelope): string;
  socketAcks(): SocketAck[];
  waitForAck(envelopeId: string, timeoutMs?: number): Promise<SocketAck>;
  /** Resolves once a Socket Mode client has connected and been sent `hello`. */
  waitForSocket(timeoutMs?: number): Promise<void>;
  socketConnections(): number;
  /** Sends Slack's `{type:'disconnect'}` to every connection (the client reconnects via apps.connections.open). */
  disconnectSockets(reason?: 'warning' | 'refresh_requested' | 'link_disabled'): void;
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata', 'user_auth_blocks', 'unfurls', 'view']);
const BASE_SECONDS = 1_700_000_000;

type ApiResult = Record<string, unknown> & { ok: boolean };

/** Every fake started in this test process, until the harness has collected its violations after it closed. */
const startedFakes = new Map<FakeSlack, { closed: boolean }>();

/**
 * The violations no test took, from every fake of this process, as lines naming the method and Slack's error; each is
 * returned once. Fakes closed since the last call are forgotten after it.
 */
export function collectUntakenViolations(): string[] {
  const lines: string[] = [];
  for (const [fake, state] of startedFakes) {
    for (const v of fake.takeViolations()) lines.push(`${v.method}: ${v.kind === 'refused' ? `refused with ${v.error}` : 'text truncated'}${v.errors.length > 0 ? ` (${v.errors.slice(0, 5).join('; ')})` : ''}`);
    if (state.closed) startedFakes.delete(fake);
  }
  return lines;
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = options.botToken ?? 'xoxb-fake-bot-token';
  const appToken = options.appToken ?? 'xapp-1-fake-app-token';
  const botTokens = new Set([botToken, ...(options.extraTokens ?? [])]);
  const teamId = options.teamId ?? 'T0FAKETEAM';
  const teamDomain = options.teamDomain ?? 'fake-team';
  const botUserId = options.botUserId ?? 'U0FAKEBOT';
  const botId = options.botId ?? 'B0FAKEBOT';
  const appId = options.appId ?? 'A0FAKEAPP';
  const verificationToken = 'fake-verification-token';
  const strict = options.strict ?? false;
  const pingIntervalMs = options.socketPingIntervalMs ?? 5000;
  let grantedScopes = [...(options.scopes ?? DEFAULT_BOT_SCOPES)];
  const membership = new Map<string, boolean>();

  const callLog: FakeSlackCall[] = [];
  const posted: FakeMessage[] = [];
  const ephemeralLog: FakeEphemeral[] = [];
  const homeViewLog: FakeHomeView[] = [];
  const homeTabEnabled = options.homeTabEnabled ?? true;
  const responseLog: FakeResponse[] = [];
  const responseContexts = new Map<string, ResponseUrlContext>();
  const faults = new Map<string, FakeSlackFault[]>();
  const rateLimitedUntil = new Map<string, number>();
  const usergroups = new Map(Object.entries(options.usergroups ?? {}).map(([id, users]) => [id, [...users]]));
  const socketTickets = new Set<string>();
  const sockets = new Set<WebSocket>();
  const acks: SocketAck[] = [];
  const greeted = new WeakSet<WebSocket>();
  const violationLog: FakeSlackViolation[] = [];
  let tsCounter = 0;
  let base = '';

  const nextTs = (): string => {
    tsCounter += 1;
    const micros = tsCounter * 100;
    return `${BASE_SECONDS + Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  };

  const user = (id: string): FakeUser | undefined => {
    const known = options.users?.[id];
    if (!known && (strict || !/^[UW][A-Z0-9]+$/.test(id))) return undefined;
    const name = known?.name ?? id.toLowerCase();
    return {
      id,
      name,
      real_name: known?.real_name ?? name,
      is_bot: known?.is_bot ?? id === botUserId,
      deleted: known?.deleted ?? false,
      tz: known?.tz ?? 'Europe/Berlin',
    };
  };

  const channel = (id: string): FakeChannel | undefined => {
    const known = options.channels?.[id];
    if (!known && (strict || !/^[CGD][A-Z0-9]+$/.test(id))) return undefined;
    return {
      id,
      name: known?.name ?? id.toLowerCase(),
      is_private: known?.is_private ?? id.startsWith('G'),
      is_archived: known?.is_archived ?? false,
      is_member: membership.get(id) ?? known?.is_member ?? true,
    };
  };

  const findMessage = (ch: string, ts: string): FakeMessage | undefined =>
    posted.find((m) => m.channel === ch && m.ts === ts);

  const messageView = (m: FakeMessage): FakeMessage => structuredClone(m);

  const postMessage = (
    args: Record<string, unknown>,
    source: FakeMessage['source'],
  ): FakeMessage => {
    const ch = String(args.channel);
    const threadTs = optionalString(args.thread_ts);
    const message: FakeMessage = {
      type: 'message',
      channel: ch,
      ts: nextTs(),
      text: optionalString(args.text),
      blocks: asBlocks(args.blocks),
      user: botUserId,
      bot_id: botId,
      app_id: appId,
      team: teamId,
      versions: [],
      source,
      args,
    };
    if (threadTs !== undefined) message.thread_ts = threadTs;
    message.versions.push({ text: message.text, blocks: structuredClone(message.blocks), time: Date.now() });
    posted.push(message);
    const parent = threadTs === undefined ? undefined : findMessage(ch, threadTs);
    if (parent) {
      parent.thread_ts = parent.ts;
      parent.reply_count = (parent.reply_count ?? 0) + 1;
    }
    return message;
  };

  const wireMessage = (m: FakeMessage): Record<string, unknown> => {
    const wire: Record<string, unknown> = {
      type: 'message',
      user: m.user,
      bot_id: m.bot_id,
      app_id: m.app_id,
      team: m.team,
      ts: m.ts,
      text: m.text ?? '',
    };
    if (m.blocks) wire.blocks = m.blocks;
    if (m.thread_ts !== undefined) wire.thread_ts = m.thread_ts;
    return wire;
  };

  /**
   * Slack's rules for a message payload: a refusal is answered with Slack's error; a truncated text is kept cut,
   * as Slack keeps it. Either way the violation is recorded for the test harness.
   */
  const judge = (method: string, args: Record<string, unknown>): { refusal: SlackRefusal | null; args: Record<string, unknown> } => {
    const verdict = checkMessagePayload(args);
    const time = Date.now();
    if (verdict.refusal) {
      violationLog.push({ method, kind: 'refused', error: verdict.refusal.error, errors: verdict.refusal.errors, time });
      return { refusal: verdict.refusal, args };
    }
    for (const defect of verdict.defects) violationLog.push({ method, kind: 'truncated', error: 'text_truncated', errors: [defect.detail], time });
    return { refusal: null, args: verdict.defects.length > 0 ? { ...args, text: verdict.text } : args };
  };

  const refusedAnswer = (refusal: SlackRefusal): ApiResult =>
    refusal.errors.length > 0
      ? { ok: false, error: refusal.error, errors: refusal.errors, response_metadata: { messages: refusal.errors.map((e) => `[ERROR] ${e}`) } }
      : { ok: false, error: refusal.error };

  const methods: Record<string, (args: Record<string, unknown>, token: string) => ApiResult> = {
    'auth.test': () => ({
      ok: true,
      url: `https://${teamDomain}.slack.com/`,
      team: teamDomain,
      user: 'checkstack-bot',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (raw) => {
      if (raw.channel === undefined || raw.channel === '') return { ok: false, error: 'channel_not_found' };
      if (!channel(String(raw.channel))) return { ok: false, error: 'channel_not_found' };
      if (!hasContent(raw)) return { ok: false, error: 'no_text' };
      const { refusal, args } = judge('chat.postMessage', raw);
      if (refusal) return refusedAnswer(refusal);
      const message = postMessage(args, 'chat.postMessage');
      return { ok: true, channel: message.channel, ts: message.ts, message: wireMessage(message) };
    },
    'chat.update': (raw) => {
      const ch = String(raw.channel ?? '');
      const ts = String(raw.ts ?? '');
      if (!channel(ch)) return { ok: false, error: 'channel_not_found' };
      const message = findMessage(ch, ts);
      if (!message) return { ok: false, error: 'message_not_found' };
      if (!hasContent(raw)) return { ok: false, error: 'no_text' };
      const { refusal, args } = judge('chat.update', raw);
      if (refusal) return refusedAnswer(refusal);
      // Slack keeps fields that are not sent; `blocks: []` removes the blocks.
      if (args.text !== undefined) message.text = optionalString(args.text);
      if (args.blocks !== undefined) {
        const blocks = asBlocks(args.blocks);
        message.blocks = blocks && blocks.length > 0 ? blocks : undefined;
      }
      message.versions.push({ text: message.text, blocks: structuredClone(message.blocks), time: Date.now() });
      return { ok: true, channel: ch, ts, text: message.text ?? '', message: wireMessage(message) };
    },
    'chat.postEphemeral': (raw) => {
      const ch = String(raw.channel ?? '');
      const target = String(raw.user ?? '');
      if (!channel(ch)) return { ok: false, error: 'channel_not_found' };
      if (!user(target)) return { ok: false, error: 'user_not_found' };
      if (!hasContent(raw)) return { ok: false, error: 'no_text' };
      const { refusal, args } = judge('chat.postEphemeral', raw);
      if (refusal) return refusedAnswer(refusal);
      const ephemeral = newEphemeral(ch, target, args, 'chat.postEphemeral');
      return { ok: true, message_ts: ephemeral.ts };
    },
    'views.publish': (args) => {
      const invalid = (message: string): ApiResult => {
        violationLog.push({ method: 'views.publish', kind: 'refused', error: 'invalid_arguments', errors: [message], time: Date.now() });
        return { ok: false, error: 'invalid_arguments', response_metadata: { messages: [`[ERROR] ${message}`] } };
      };
      if (args.user_id === undefined || args.user_id === '') return invalid('missing required field: user_id [json-pointer:/user_id]');
      if (typeof args.user_id !== 'string' || !user(args.user_id)) return invalid('invalid `user_id`');
      if (args.view === undefined) return invalid('missing required field: view [json-pointer:/view]');
      const refusal = checkHomeView(args.view);
      if (refusal) {
        violationLog.push({ method: 'views.publish', kind: 'refused', error: refusal.error, errors: refusal.errors, time: Date.now() });
        // Unlike the chat methods, the views methods answer with the pointer messages only.
        return refusal.errors.length > 0 ? { ok: false, error: refusal.error, response_metadata: { messages: refusal.errors.map((e) => `[ERROR] ${e}`) } } : { ok: false, error: refusal.error };
      }
      if (!homeTabEnabled) return { ok: false, error: 'not_enabled' };
      const view = structuredClone(args.view) as FakeHomeView['view'];
      homeViewLog.push({ userId: args.user_id, view, time: Date.now() });
      return { ok: true, view: { id: `V${String(homeViewLog.length).padStart(8, '0')}`, team_id: teamId, app_id: appId, bot_id: botId, hash: `${BASE_SECONDS}.${homeViewLog.length}`, state: { values: {} }, ...view } };
    },
    'users.info': (args) => {
      const found = user(String(args.user ?? ''));
      if (!found) return { ok: false, error: 'user_not_found' };
      return {
        ok: true,
        user: {
          ...found,
          team_id: teamId,
          is_admin: false,
          profile: { real_name: found.real_name, display_name: found.name, team: teamId },
        },
      };
    },
    'usergroups.users.list': (args) => {
      const members = usergroups.get(String(args.usergroup ?? ''));
      if (!members) return { ok: false, error: 'no_such_subteam' };
      return { ok: true, users: [...members] };
    },
    'conversations.info': (args) => {
      const found = channel(String(args.channel ?? ''));
      if (!found || (found.is_private && !found.is_member)) return { ok: false, error: 'channel_not_found' };
      return {
        ok: true,
        channel: {
          ...found,
          is_channel: !found.is_private,
          is_group: found.is_private,
          is_im: false,
          created: BASE_SECONDS - 86_400,
          context_team_id: teamId,
        },
      };
    },
    'apps.connections.open': () => {
      const ticket = randomUUID();
      socketTickets.add(ticket);
      return { ok: true, url: `${base.replace(/^http/, 'ws')}/socket?ticket=${ticket}&app_id=${appId}` };
    },
  };

  const newEphemeral = (
    ch: string,
    target: string,
    args: Record<string, unknown>,
    source: FakeEphemeral['source'],
  ): FakeEphemeral => {
    const ephemeral: FakeEphemeral = {
      type: 'message',
      ephemeral: true,
      channel: ch,
      user: target,
      ts: nextTs(),
      text: optionalString(args.text),
      blocks: asBlocks(args.blocks),
      versions: [],
      deleted: false,
      source,
    };
    const threadTs = optionalString(args.thread_ts);
    if (threadTs !== undefined) ephemeral.thread_ts = threadTs;
    ephemeral.versions.push({ text: ephemeral.text, blocks: structuredClone(ephemeral.blocks), time: Date.now() });
    ephemeralLog.push(ephemeral);
    return ephemeral;
  };

  const conditionalFaults: Array<{ method: string; matches: (args: Record<string, unknown>) => boolean; left: number; fault: FakeSlackFault }> = [];

  const takeFault = (method: string, args?: Record<string, unknown>): FakeSlackFault | undefined => {
    const conditional = args && conditionalFaults.find((c) => c.method === method && c.left > 0 && c.matches(args));
    if (conditional) {
      conditional.left -= 1;
      return { ...conditional.fault };
    }
    for (const key of [method, '*']) {
      const queue = faults.get(key);
      const fault = queue?.shift();
      if (fault) return fault;
    }
    return undefined;
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, method: string): Promise<void> => {
    const time = Date.now();
    const raw = await readBody(req);
    const contentType = String(req.headers['content-type'] ?? '');
    const args = parseArgs(raw, contentType);
    const token = bearer(req.headers.authorization) ?? optionalString(args.token);
    const record = (status: number, response: unknown): void => {
      callLog.push({ method, args, token, contentType, headers: req.headers, time, status, response });
    };

    // Slack keeps rate-limiting a method until the Retry-After it announced has passed.
    const limitedUntil = rateLimitedUntil.get(method);
    if (limitedUntil !== undefined && time < limitedUntil) {
      const retryAfter = Math.ceil((limitedUntil - time) / 1000);
      record(429, { ok: false, error: 'ratelimited' });
      sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'Retry-After': String(retryAfter) });
      return;
    }

    const fault = takeFault(method, args);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault && (fault.status !== undefined || fault.retryAfter !== undefined || fault.error !== undefined)) {
      const status = fault.status ?? (fault.retryAfter !== undefined ? 429 : fault.error !== undefined ? 200 : 500);
      if (status === 429) {
        const retryAfter = fault.retryAfter ?? 1;
        rateLimitedUntil.set(method, Date.now() + retryAfter * 1000);
        record(429, { ok: false, error: 'ratelimited' });
        sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'Retry-After': String(retryAfter) });
      } else if (status >= 500) {
        record(status, 'upstream error');
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end('upstream error');
      } else {
        const body = { ok: false, error: fault.error ?? 'fatal_error' };
        record(status, body);
        sendJson(res, status, body);
      }
      return;
    }

    const result = answer(method, args, token);
    if (fault?.lateAnswerMs) await sleep(fault.lateAnswerMs);
    record(200, result);
    sendJson(res, 200, result, token !== undefined && botTokens.has(token) ? { 'x-oauth-scopes': grantedScopes.join(',') } : {});
  };

  const answer = (method: string, args: Record<string, unknown>, token: string | undefined): ApiResult => {
    if (!token) return { ok: false, error: 'not_authed' };
    const isAppToken = token === appToken;
    if (!isAppToken && !botTokens.has(token)) return { ok: false, error: 'invalid_auth' };
    const handler = methods[method];
    if (!handler) return { ok: false, error: 'unknown_method', req_method: method };
    if (isAppToken !== (method === 'apps.connections.open')) return { ok: false, error: 'not_allowed_token_type' };
    const needed = isAppToken ? null : scopeNeeded(method, channel(String(args.channel ?? '')));
    if (needed && !grantedScopes.includes(needed)) return { ok: false, error: 'missing_scope', needed, provided: grantedScopes.join(',') };
    return handler(args, token);
  };

  const handleResponseUrl = async (req: IncomingMessage, res: ServerResponse, id: string): Promise<void> => {
    const raw = await readBody(req);
    const context = responseContexts.get(id);
    if (!context) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no_such_response_url');
      return;
    }
    const fault = takeFault('response_url');
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault && (fault.status !== undefined || fault.retryAfter !== undefined || fault.error !== undefined)) {
      const status = fault.status ?? (fault.retryAfter !== undefined ? 429 : 500);
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
      res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }).end(fault.error ?? 'error');
      return;
    }
    let parsed: FakeResponse['payload'];
    try {
      parsed = parseArgs(raw, String(req.headers['content-type'] ?? 'application/json')) as FakeResponse['payload'];
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('invalid_payload');
      return;
    }
    // A response_url refuses what chat.postMessage refuses, as incoming webhooks do: HTTP 400 with the code as the body.
    if (!parsed.delete_original && !hasContent(parsed)) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('no_text');
      return;
    }
    const { refusal, args } = judge('response_url', parsed);
    if (refusal) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(refusal.error);
      return;
    }
    const payload = args as FakeResponse['payload'];
    responseLog.push({ id, url: `${base}/response/${id}`, context, payload, time: Date.now() });
    applyResponse(context, payload);
    sendJson(res, 200, { ok: true });
  };

  // What Slack does with a response_url payload: replace or delete the original, or post a new message.
  const applyResponse = (context: ResponseUrlContext, payload: FakeResponse['payload']): void => {
    const ch = context.channel;
    if (ch === undefined) return;
    if ((payload.replace_original || payload.delete_original) && context.messageTs !== undefined) {
      if (context.ephemeral) {
        const original = ephemeralLog.find((e) => e.channel === ch && e.ts === context.messageTs);
        if (!original) return;
        if (payload.delete_original) original.deleted = true;
        else applyUpdate(original, payload);
        return;
      }
      const original = findMessage(ch, context.messageTs);
      if (!original) return;
      if (payload.delete_original) posted.splice(posted.indexOf(original), 1);
      else applyUpdate(original, payload);
      return;
    }
    if (payload.response_type === 'in_channel') {
      postMessage({ channel: ch, ...payload }, 'response_url');
    } else if (context.user !== undefined) {
      newEphemeral(ch, context.user, payload, 'response_url');
    }
  };

  const applyUpdate = (target: FakeMessage | FakeEphemeral, payload: FakeResponse['payload']): void => {
    target.text = payload.text;
    target.blocks = asBlocks(payload.blocks);
    target.versions.push({ text: target.text, blocks: structuredClone(target.blocks), time: Date.now() });
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const api = /^\/api\/([A-Za-z0-9._]+)$/.exec(path);
    const response = /^\/response\/([A-Za-z0-9-]+)$/.exec(path);
    const work =
      req.method === 'POST' && api?.[1] !== undefined
        ? handleApi(req, res, api[1])
        : req.method === 'POST' && response?.[1] !== undefined
          ? handleResponseUrl(req, res, response[1])
          : Promise.resolve(void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found'));
    work.catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(err));
    });
  });

  const tcpSockets = new Set<Socket>();
  server.on('connection', (socket) => {
    tcpSockets.add(socket);
    socket.on('close', () => tcpSockets.delete(socket));
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', base);
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/socket' || !socketTickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws));
  });

  const onSocket = (ws: WebSocket): void => {
    sockets.add(ws);
    const pinger =
      pingIntervalMs > 0 ? setInterval(() => ws.ping(Buffer.from(`ping-${Date.now()}`)), pingIntervalMs).unref() : undefined;
    ws.on('close', () => {
      sockets.delete(ws);
      if (pinger) clearInterval(pinger);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const raw = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return;
      }
      if (!isRecord(parsed) || typeof parsed.envelope_id !== 'string') return;
      const ack: SocketAck = { envelope_id: parsed.envelope_id, time: Date.now(), raw };
      if (isRecord(parsed.payload)) ack.payload = parsed.payload;
      acks.push(ack);
    });
    // Slack's first frame on every connection; the SDK treats the connection as ready only after it.
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: sockets.size,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
      () => greeted.add(ws),
    );
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const waitFor = async <T>(
    predicate: () => T | Promise<T>,
    timeoutMs = 5000,
  ): Promise<Exclude<T, false | null | undefined>> => {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = await predicate();
        if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | null | undefined>;
        lastError = undefined;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() >= deadline) {
        if (lastError instanceof Error) throw lastError;
        throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
      }
      await sleep(10);
    }
  };

  const fake: FakeSlack = {
    url: base,
    apiUrl: `${base}/api/`,
    botToken,
    appToken,
    teamId,
    teamDomain,
    botUserId,
    botId,
    appId,
    verificationToken,
    calls: (method) => callLog.filter((c) => method === undefined || c.method === method),
    messages: (ch) => posted.filter((m) => ch === undefined || m.channel === ch).map(messageView),
    message: (ch, ts) => {
      const found = findMessage(ch, ts);
      return found && messageView(found);
    },
    lastMessage: (ch) => {
      const top = posted.filter((m) => (ch === undefined || m.channel === ch) && (m.thread_ts === undefined || m.thread_ts === m.ts));
      const last = top[top.length - 1];
      return last && messageView(last);
    },
    threadReplies: (ts) => posted.filter((m) => m.thread_ts === ts && m.ts !== ts).map(messageView),
    ephemerals: (target) =>
      ephemeralLog.filter((e) => !e.deleted && (target === undefined || e.user === target)).map((e) => structuredClone(e)),
    homeViews: (target) => homeViewLog.filter((v) => target === undefined || v.userId === target).map((v) => structuredClone(v)),
    responses: () => responseLog.map((r) => structuredClone(r)),
    responseUrl: (context = {}) => {
      const id = randomUUID();
      responseContexts.set(id, { ...context });
      return `${base}/response/${id}`;
    },
    failWhen: (method, matches, n = 1, fault = { status: 500 }) => {
      conditionalFaults.push({ method, matches, left: n, fault });
    },
    failNext: (method, n = 1, fault = { status: 500 }) => {
      const queue = faults.get(method) ?? [];
      for (let i = 0; i < n; i += 1) queue.push({ ...fault });
      faults.set(method, queue);
    },
    setUsergroupMembers: (usergroup, users) => void usergroups.set(usergroup, [...users]),
    setGrantedScopes: (scopes) => void (grantedScopes = [...scopes]),
    setBotMembership: (ch, member) => void membership.set(ch, member),
    violations: () => violationLog.map((v) => structuredClone(v)),
    takeViolations: () => violationLog.splice(0, violationLog.length),
    user,
    channel,
    waitFor,
    sendEnvelope: (envelope) => {
      const target = [...sockets].filter((s) => greeted.has(s) && s.readyState === s.OPEN).pop();
      if (!target) throw new Error('sendEnvelope: no open Socket Mode connection (start the app first, then waitForSocket())');
      const envelopeId = envelope.envelope_id ?? randomUUID();
      target.send(JSON.stringify({ ...envelope, envelope_id: envelopeId }));
      return envelopeId;
    },
    socketAcks: () => acks.map((a) => structuredClone(a)),
    waitForAck: (envelopeId, timeoutMs = 5000) =>
      waitFor(() => acks.find((a) => a.envelope_id === envelopeId), timeoutMs).catch(() => {
        throw new Error(`waitForAck: no acknowledgement of envelope ${envelopeId} within ${timeoutMs} ms`);
      }),
    waitForSocket: async (timeoutMs = 5000) => {
      await waitFor(() => [...sockets].some((s) => greeted.has(s) && s.readyState === s.OPEN), timeoutMs);
    },
    socketConnections: () => [...sockets].filter((s) => s.readyState === s.OPEN).length,
    disconnectSockets: (reason = 'refresh_requested') => {
      for (const s of sockets) s.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-slack' } }));
    },
    close: async () => {
      const registered = startedFakes.get(fake);
      if (registered) registered.closed = true;
      // Finish close handshakes (a stopping client has usually just sent its close frame) before cutting sockets.
      const open = [...sockets];
      for (const s of open) if (s.readyState === s.OPEN) s.close(1001, 'fake slack shutting down');
      await Promise.race([
        Promise.all(open.map((s) => (s.readyState === s.CLOSED ? undefined : new Promise((r) => s.once('close', r))))),
        sleep(1000),
      ]);
      for (const s of sockets) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const socket of tcpSockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  startedFakes.set(fake, { closed: false });
  return fake;
}

function hasContent(args: Record<string, unknown>): boolean {
  return (
    (typeof args.text === 'string' && args.text !== '') ||
    (Array.isArray(args.blocks) && args.blocks.length > 0) ||
    (Array.isArray(args.attachments) && args.attachments.length > 0)
  );
}

function parseArgs(raw: string, contentType: string): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return isRecord(parsed) ? parsed : {};
  }
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (JSON_FIELDS.has(key)) {
      try {
        args[key] = JSON.parse(value);
        continue;
      } catch {
        // Slack would answer invalid_blocks; keep the raw text so the test can see what was sent.
      }
    }
    args[key] = value;
  }
  return args;
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

function optionalString(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

function asBlocks(value: unknown): SlackBlock[] | undefined {
  return Array.isArray(value) ? (structuredClone(value) as SlackBlock[]) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
