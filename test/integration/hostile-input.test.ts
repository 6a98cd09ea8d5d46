// Hostile input through the real HTTP entry point: generated slash-command texts, malformed and forged
// interactivity payloads, and requests that are not signed by Slack. Nothing may crash, 5xx, enqueue or change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/domain/command-grammar.js';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { hostileCommandTexts } from '../support/hostile-input.js';
import { waitForQueueIdle } from '../support/queues.js';
import type { ClickableMessage } from '../support/slack-driver.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';

const APPROVER = 'U0APPROVER1';
const SECOND_APPROVER = 'U0APPROVER2';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';
const OTHER_CHANNEL = 'C0ELSEWHERE';
const FUZZ_CHANNEL = 'C0FUZZ';
const SEED = 20_240_611;
const FUZZ_COUNT = 2_150;
const CONCURRENCY = 12;

const fixtures = loadFixtureReleases();
const published = new Set(fixtures.filter((r) => !r.draft).map((r) => r.tag_name.replace(/^v/, '')));

/** What the bot must do with a text: refuse it in the parser, or run it (read-only commands, refused requests). */
type Expectation = { kind: 'grammar_refusal'; message: string } | { kind: 'answered' } | { kind: 'excluded' };

/** The text as the bot receives it: form encoding turns a lone surrogate into U+FFFD. */
const onTheWire = (text: string) => new URLSearchParams(new URLSearchParams({ text }).toString()).get('text') ?? '';

function expectationFor(text: string): Expectation {
  try {
    const command = parseCommand(onTheWire(text));
    // These would change state on purpose; the fuzz corpus is about input that must change nothing.
    if (command.kind === 'subscribe' || command.kind === 'unsubscribe') return { kind: 'excluded' };
    if (command.kind === 'upgrade' && published.has(command.version)) return { kind: 'excluded' };
    return { kind: 'answered' };
  } catch (err) {
    return { kind: 'grammar_refusal', message: (err as Error).message };
  }
}

async function inBatches<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

describe('hostile input', () => {
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let t: TestBot;

  beforeAll(async () => {
    github = await startFakeGithub({ releases: fixtures });
    checkstack = await startFakeCheckstack({ state: { releaseVersion: '0.25.0' } });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', LOG_LEVEL: 'warn' },
      configYaml: `approvers:
  users: [${APPROVER}, ${SECOND_APPROVER}]
  requireSecondPerson: true
targets:
  - name: prod
    default: true
    baseUrl: ${checkstack.url}
    docker: { container: checkstack }
  - name: staging
    baseUrl: ${checkstack.url}
    docker: { container: checkstack-staging }
`,
      deployers: { docker: () => staticDeployer({ tag: '0.25.0' }) },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
  });
  afterAll(async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
  });

  async function rows<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await t.bot.deps.pool.query(sql, params)).rows as T[];
  }

  async function jobCount(): Promise<number> {
    const counts = await t.bot.deps.queues.upgrades.raw.getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Everything a hostile request could change: requests, confirmations, queue, subscriptions, channel messages. */
  async function snapshot() {
    return {
      upgrades: await rows(`SELECT id, kind, status, started_by, requester FROM upgrades ORDER BY created_at`),
      confirmations: await rows(`SELECT upgrade_id, item_id, user_id FROM confirmations ORDER BY upgrade_id, item_id`),
      subscriptions: await rows(`SELECT channel_id, active FROM subscriptions ORDER BY channel_id`),
      jobs: await jobCount(),
      messages: t.slack.messages().map((m) => `${m.channel}/${m.ts}`),
    };
  }

  const errorLines = () => t.logs.entries().filter((e) => typeof e.level === 'number' && e.level >= 50);

  describe('generated slash-command texts', () => {
    it(`answers ${FUZZ_COUNT}+ generated texts with an ephemeral reply each, changing nothing`, { timeout: 120_000 }, async () => {
      const corpus = hostileCommandTexts(SEED, FUZZ_COUNT).map((text) => ({ text, expected: expectationFor(text) }));
      const sent = corpus.filter((c) => c.expected.kind !== 'excluded');
      expect(sent.length).toBeGreaterThanOrEqual(2_000);
      const before = await snapshot();
      const auditBefore = (await rows<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`))[0]!.n;
      const errorsBefore = errorLines().length;

      const answers = await inBatches(sent, CONCURRENCY, async (c) => {
        const response = await t.driver.slashCommand('/checkstack', c.text, { user: MEMBER, channel: FUZZ_CHANNEL });
        return { ...c, status: response.status, responseUrl: response.responseUrl! };
      });

      expect(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.text.slice(0, 80)])).toEqual([]);
      const urls = new Set(answers.map((a) => a.responseUrl));
      const replies = await t.slack.waitFor(() => {
        const mine = t.slack.responses().filter((r) => urls.has(r.url));
        return mine.length >= answers.length && mine;
      }, 60_000);
      const byUrl = new Map(replies.map((r) => [r.url, r]));
      expect(byUrl.size).toBe(answers.length);
      for (const answer of answers) {
        const reply = byUrl.get(answer.responseUrl)!;
        const text = reply.payload.text ?? '';
        expect.soft(reply.payload.response_type, answer.text.slice(0, 80)).toBe('ephemeral');
        if (answer.expected.kind === 'grammar_refusal') expect.soft(text, answer.text.slice(0, 80)).toBe(answer.expected.message);
        // Typed input must never become a mention, a broadcast or a raw control character in Slack.
        expect.soft(text, answer.text.slice(0, 80)).not.toMatch(/<!(channel|here|everyone)>|<@U0APPROVER1>|<#C0OPS>|<https?:\/\/evil/);
        // eslint-disable-next-line no-control-regex
        expect.soft(text, answer.text.slice(0, 80)).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
        expect.soft(text.length, answer.text.slice(0, 80)).toBeLessThan(3_000);
        expect.soft(text, answer.text.slice(0, 80)).not.toMatch(/reference `/);
      }

      await expect.poll(async () => (await rows<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`))[0]!.n, { timeout: 10_000 }).toBe(auditBefore + answers.length);
      const outcomes = await rows<{ outcome: string; n: number }>(`SELECT outcome, count(*)::int AS n FROM audit_log WHERE channel_id = $1 GROUP BY outcome`, [FUZZ_CHANNEL]);
      const refusedByGrammar = answers.filter((a) => a.expected.kind === 'grammar_refusal').length;
      expect(outcomes.find((o) => o.outcome === 'error')).toBeUndefined();
      expect(outcomes.find((o) => o.outcome === 'refused')?.n ?? 0).toBeGreaterThanOrEqual(refusedByGrammar);
      expect(await snapshot()).toEqual(before);
      expect(await rows(`SELECT id FROM upgrades`)).toEqual([]);
      expect((await fetch(`${t.bot.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${t.bot.url}/readyz`)).status).toBe(200);
      expect(errorLines().slice(errorsBefore)).toEqual([]);
      expect(t.logs.text()).not.toMatch(/unhandled/i);
    });
  });

  describe('interactivity payloads', () => {
    let prod: FakeMessage;
    let staging: FakeMessage;
    let prodId: string;
    let stagingId: string;
    let finishedElsewhereId: string;

    async function requestUpgrade(text: string): Promise<{ message: FakeMessage; id: string }> {
      const before = t.slack.messages(CHANNEL).length;
      const response = await t.driver.slashCommand('/checkstack', text, { user: APPROVER, channel: CHANNEL });
      const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl), 10_000);
      expect(reply.payload.text).toMatch(/planned/);
      const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
      const [row] = await rows<{ id: string }>(`SELECT id FROM upgrades WHERE message_ts = $1`, [message.ts]);
      return { message, id: row!.id };
    }

    beforeAll(async () => {
      ({ message: prod, id: prodId } = await requestUpgrade('upgrade 0.30.0'));
      ({ message: staging, id: stagingId } = await requestUpgrade('upgrade 0.30.0 staging'));
      // A finished upgrade whose thread lives in another channel: its Roll back button must not work from here.
      finishedElsewhereId = '7f4c1e2a-0b6d-4c8e-9a3f-5d2b1c0e9f8a';
      await t.bot.deps.pool.query(
        `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, channel_id, message_ts, status, plan, items, automatic, expires_at, finished_at)
         SELECT $1, 'upgrade', 'prod', '0.24.0', '0.25.0', requester, $2, '1700000999.000100', 'succeeded', plan, items, automatic, now(), now()
         FROM upgrades WHERE id = $3`,
        [finishedElsewhereId, OTHER_CHANNEL, prodId],
      );
    });

    /** A message carrying one button, as a forger would present it: the value is whatever they chose. */
    const withButton = (message: ClickableMessage, actionId: string, value: string): ClickableMessage => ({
      ...message,
      blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: actionId, value, text: { type: 'plain_text', text: 'x' } }] }],
    });

    type Mutate = (payload: Record<string, unknown>) => void;
    const forgedCases: [string, () => { message: ClickableMessage; actionId: string; value: string; mutate?: Mutate }, RegExp][] = [
      ['a confirm whose value names another upgrade', () => ({ message: staging, actionId: 'confirm:backup', value: `${prodId}:backup` }), /does not belong/],
      ['a confirm whose value names another item', () => ({ message: prod, actionId: 'confirm:backup', value: `${prodId}:downtime` }), /not valid for this message/],
      ['a confirm whose value carries another user id', () => ({ message: prod, actionId: 'confirm:backup', value: `${prodId}:backup:${SECOND_APPROVER}` }), /not valid for this message/],
      ['a confirm whose value is a user id', () => ({ message: prod, actionId: 'confirm:backup', value: SECOND_APPROVER }), /not valid for this message/],
      ['a start whose value names another upgrade', () => ({ message: prod, actionId: 'start_upgrade', value: stagingId }), /does not belong/],
      ['a cancel whose value names another upgrade', () => ({ message: prod, actionId: 'cancel_upgrade', value: stagingId }), /does not belong/],
      ['a cancel whose value is a target name', () => ({ message: prod, actionId: 'cancel_upgrade', value: 'staging' }), /does not name an upgrade/],
      [
        'a confirm sent with the ts of another message',
        () => ({ message: prod, actionId: 'confirm:backup', value: `${prodId}:backup`, mutate: (p) => {
          (p.message as Record<string, unknown>).ts = staging.ts;
          (p.container as Record<string, unknown>).message_ts = staging.ts;
        } }),
        /does not belong/,
      ],
      [
        'a cancel sent from another channel',
        () => ({ message: prod, actionId: 'cancel_upgrade', value: prodId, mutate: (p) => {
          p.channel = { id: OTHER_CHANNEL };
          (p.container as Record<string, unknown>).channel_id = OTHER_CHANNEL;
        } }),
        /does not belong/,
      ],
      ['a Roll back whose value names an upgrade of another channel', () => ({ message: prod, actionId: 'rollback_upgrade', value: finishedElsewhereId }), /does not belong to this channel/],
      ['a Roll back whose value is a path', () => ({ message: prod, actionId: 'rollback_upgrade', value: '../../etc/passwd' }), /does not name an upgrade/],
      ['a Plan upgrade whose value is a shell command', () => ({ message: prod, actionId: 'plan_upgrade', value: '0.30.0; rm -rf /' }), /does not name a version/],
      ['a Plan upgrade with build metadata while prod is busy', () => ({ message: prod, actionId: 'plan_upgrade', value: '0.141.0-rc.1+build' }), /already has an upgrade/],
      ['a confirm with a 200 KB value', () => ({ message: prod, actionId: 'confirm:backup', value: 'x'.repeat(200_000) }), /could not be understood/],
      ['a confirm with a 200 KB action_id', () => ({ message: prod, actionId: `confirm:${'a'.repeat(200_000)}`, value: `${prodId}:backup` }), /could not be understood/],
      ['a confirm from a 200 KB user id', () => ({ message: prod, actionId: 'confirm:backup', value: `${prodId}:backup`, mutate: (p) => void (p.user = { id: 'U'.repeat(200_000) }) }), /could not be understood/],
      ['a confirm without channel or message', () => ({ message: prod, actionId: 'confirm:backup', value: `${prodId}:backup`, mutate: (p) => {
        delete p.channel;
        delete p.message;
        delete p.container;
      } }), /not on a message the bot can find/],
      ['a confirm whose actions are not objects', () => ({ message: prod, actionId: 'confirm:backup', value: `${prodId}:backup`, mutate: (p) => void (p.actions = [{ action_id: 'confirm:backup', value: { $ne: null } }]) }), /could not be understood/],
    ];

    it.each(forgedCases)('refuses %s ephemerally and changes nothing', async (_name, build, refusal) => {
      const { message, actionId, value, mutate } = build();
      const before = await snapshot();
      const payload = t.driver.blockActionsPayload(withButton(message, actionId, value), actionId, { user: SECOND_APPROVER, stale: true });
      mutate?.(payload);

      const response = await t.driver.send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());

      expect(response.status).toBe(200);
      const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === payload.response_url), 10_000);
      expect(reply.payload).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(refusal) });
      await expect.poll(() => rows(`SELECT outcome FROM audit_log WHERE kind = 'action' ORDER BY id DESC LIMIT 1`)).toEqual([{ outcome: 'refused' }]);
      expect(await snapshot()).toEqual(before);
    });

    const malformed = (payload: unknown) => `payload=${encodeURIComponent(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
    const malformedCases: [string, () => string, { contentType?: string }?][] = [
      ['a payload that is not JSON', () => malformed('{"type":"block_actions",')],
      ['a payload that is JSON null', () => 'payload=null'],
      ['a payload that is a JSON number', () => 'payload=42'],
      ['a payload that is a JSON string', () => malformed('"block_actions"')],
      ['a payload that is a JSON array', () => malformed([{ type: 'block_actions' }])],
      ['a JSON body that is null', () => 'null', { contentType: 'application/json' }],
      ['a block_actions without actions', () => malformed({ type: 'block_actions', user: { id: MEMBER }, channel: { id: CHANNEL } })],
      ['a block_actions with an empty actions list', () => malformed({ type: 'block_actions', user: { id: MEMBER }, actions: [] })],
      ['a block_actions with an unknown action id', () => malformed({ type: 'block_actions', user: { id: MEMBER }, channel: { id: CHANNEL }, actions: [{ action_id: 'drop_tables', value: prodId }] })],
      ['a block_actions with a numeric action id', () => malformed({ type: 'block_actions', user: { id: MEMBER }, actions: [{ action_id: 5 }] })],
      ['an unknown payload type', () => malformed({ type: 'totally_new_thing', user: { id: MEMBER } })],
      ['a 5 MB body', () => malformed({ type: 'block_actions', pad: 'x'.repeat(5 * 1024 * 1024) })],
    ];

    // Several of these wait out Bolt's 3-second "not acknowledged" timer: run them side by side.
    it.concurrent.each(malformedCases)('answers %s without a 5xx, crash or state change', { timeout: 20_000 }, async (_name, body, options) => {
      const before = await snapshot();
      const auditBefore = await rows(`SELECT id FROM audit_log`);

      const response = await t.driver.send(body(), options?.contentType ? { contentType: options.contentType } : {});

      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(500);
      expect(await snapshot()).toEqual(before);
      expect(await rows(`SELECT id FROM audit_log`)).toEqual(auditBefore);
      expect((await fetch(`${t.bot.url}/healthz`)).status).toBe(200);
    });

    // Bolt 5 throws inside App.processEvent for these (it reads `body.user.id` and `body.view`); the bot's
    // processEventErrorHandler answers 400 instead of Bolt's default 500.
    it.each([
      ['a block_actions without a user', () => malformed({ type: 'block_actions', actions: [{ action_id: 'confirm:backup', value: `${prodId}:backup` }] })],
      ['a view_submission without a view', () => malformed({ type: 'view_submission', user: { id: MEMBER } })],
    ])('answers %s without a 5xx', async (_name, body) => {
      const response = await t.driver.send(body());
      expect(response.status).toBeLessThan(500);
    });

    it('refuses a slash command whose text field is repeated (Bolt hands over an array) ephemerally', async () => {
      const fields = t.driver.slashCommandFields('/checkstack', 'upgrade 0.30.0', { user: MEMBER, channel: CHANNEL });
      const body = `${new URLSearchParams(fields).toString()}&text=${encodeURIComponent('cancel prod')}`;

      const response = await t.driver.send(body);

      expect(response.status).toBe(200);
      const reply = await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === fields.response_url), 10_000);
      expect(reply.payload).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/could not be read/) });
      await expect.poll(() => rows(`SELECT outcome, error_code FROM audit_log WHERE kind = 'command' ORDER BY id DESC LIMIT 1`)).toEqual([{ outcome: 'refused', error_code: 'invalid_input' }]);
    });

    it('keeps the bot healthy after all of it', async () => {
      expect((await fetch(`${t.bot.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${t.bot.url}/readyz`)).status).toBe(200);
      const ours = t.logs.entries().filter((e) => {
        if (e.msg === 'interaction failed' || e.msg === 'could not write the audit log') return true;
        // Bolt's own action matcher throws on a numeric action_id; only errors from our code count here.
        return e.msg === 'unhandled error in a Slack listener' && /\/(handlers|src)\//.test(JSON.stringify(e.err));
      });
      expect(ours).toEqual([]);
    });
  });

  describe('requests not signed by Slack', () => {
    const now = () => Math.floor(Date.now() / 1000);
    type Forgery = (body: string) => { body: string; headers: Record<string, string> };
    const signedWith = (secret: string | undefined, timestamp: number): Forgery => (body) => {
      const signed = t.driver.sign(body, timestamp, secret);
      return { body, headers: { 'x-slack-request-timestamp': String(signed.timestamp), 'x-slack-signature': signed.signature } };
    };
    const forgeries: [string, Forgery][] = [
      ['no signature headers at all', (body) => ({ body, headers: {} })],
      ['an empty signature', (body) => ({ body, headers: { 'x-slack-request-timestamp': String(now()), 'x-slack-signature': '' } })],
      ['a made-up signature', (body) => ({ body, headers: { 'x-slack-request-timestamp': String(now()), 'x-slack-signature': `v0=${'ab'.repeat(32)}` } })],
      ['a signature with a v1 prefix', (body) => {
        const signed = t.driver.sign(body);
        return { body, headers: { 'x-slack-request-timestamp': String(signed.timestamp), 'x-slack-signature': signed.signature.replace('v0=', 'v1=') } };
      }],
      ['a signature made with another secret', (body) => signedWith('not-the-signing-secret', now())(body)],
      ['a replay of a request signed 6 minutes ago', (body) => signedWith(undefined, now() - 6 * 60)(body)],
      ['a timestamp 6 minutes in the future', (body) => signedWith(undefined, now() + 6 * 60)(body)],
      ['a non-numeric timestamp', (body) => {
        const signed = t.driver.sign(body);
        return { body, headers: { 'x-slack-request-timestamp': 'NaN', 'x-slack-signature': signed.signature } };
      }],
      ['a body altered after signing', (body) => {
        const signed = t.driver.sign(body);
        return { body: body.replace(/help|confirm/, (w) => (w === 'help' ? 'subscribe' : 'start')), headers: { 'x-slack-request-timestamp': String(signed.timestamp), 'x-slack-signature': signed.signature } };
      }],
    ];
    const bodies: [string, () => string][] = [
      ['slash command', () => new URLSearchParams(t.driver.slashCommandFields('/checkstack', 'help', { user: MEMBER, channel: CHANNEL })).toString()],
      [
        'click',
        () => {
          const payload = t.driver.blockActionsPayload(
            { channel: CHANNEL, ts: '1700000000.000100', blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'confirm:backup', value: 'x:backup', text: { type: 'plain_text', text: 'x' } }] }] },
            'confirm:backup',
            { user: APPROVER, stale: true },
          );
          return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
        },
      ],
    ];
    const cases = forgeries.flatMap(([forgery, forge]) => bodies.map(([kind, body]) => [`${kind} with ${forgery}`, forge, body] as const));

    it.each(cases)('refuses a %s with 401 and reaches no listener', async (_name, forge, body) => {
      const auditBefore = await rows(`SELECT id FROM audit_log`);
      const responsesBefore = t.slack.responses().length;
      const forged = forge(body());

      const response = await fetch(`${t.bot.url}/slack/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...forged.headers },
        body: forged.body,
      });

      expect(response.status).toBe(401);
      await new Promise((r) => setTimeout(r, 150));
      expect(t.slack.responses().length).toBe(responsesBefore);
      expect(await rows(`SELECT id FROM audit_log`)).toEqual(auditBefore);
    });

    it('accepts the very same request once it is signed properly (the forgeries were refused for their signature)', async () => {
      const body = new URLSearchParams(t.driver.slashCommandFields('/checkstack', 'help', { user: MEMBER, channel: CHANNEL })).toString();
      const response = await t.driver.send(body);
      expect(response.status).toBe(200);
    });
  });
});
