import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../src/deps.js';
import { isAppError } from '../../src/errors.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { createSlackTransport } from '../../src/slack/slack-transport.js';
import { createThreadReporter, type ThreadReporterLogger } from '../../src/slack/thread-reporter.js';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.js';

const CHANNEL = 'C0UPGRADES';
const INTERVAL_MS = 300;
const fastRetries = { retries: 4, factor: 2, minTimeout: 20, maxTimeout: 100 };

function recordingLogger(): ThreadReporterLogger & { lines: Array<{ level: string; meta: object; message: string }> } {
  const lines: Array<{ level: string; meta: object; message: string }> = [];
  return {
    lines,
    warn: (meta, message) => void lines.push({ level: 'warn', meta, message }),
    error: (meta, message) => void lines.push({ level: 'error', meta, message }),
  };
}

describe('thread reporter against the fake Slack', () => {
  let slack: FakeSlack;
  let client: webApi.WebClient;
  let parentTs: string;

  beforeEach(async () => {
    slack = await startFakeSlack();
    client = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: fastRetries, logLevel: webApi.LogLevel.ERROR });
    parentTs = String((await client.chat.postMessage({ channel: CHANNEL, text: 'Upgrade prod to 0.141.0' })).ts);
  });

  afterEach(async () => {
    await slack.close();
  });

  it('posts replies in the thread in the order they were asked for, even without awaiting each', async () => {
    const reporter = createThreadReporter({ client, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });
    slack.failNext('chat.postMessage', 1, { status: 503, delayMs: 50 });

    const tss = await Promise.all(['pull', 'stop', 'recreate', 'ready', 'fingerprint'].map((step) => reporter.post(CHANNEL, parentTs, { text: step })));

    expect(slack.threadReplies(parentTs).map((m) => m.text)).toEqual(['pull', 'stop', 'recreate', 'ready', 'fingerprint']);
    expect(slack.threadReplies(parentTs).map((m) => m.ts)).toEqual(tss);
  });

  it('coalesces ten quick updates into at most two chat.update calls, the final content last', async () => {
    const reporter = createThreadReporter({ client, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });

    const landed = Array.from({ length: 10 }, (_, i) => reporter.update(CHANNEL, parentTs, { text: `checklist v${i + 1}` }));
    await Promise.all(landed);
    await reporter.flush();

    const updates = slack.calls('chat.update');
    expect(updates.length).toBeLessThanOrEqual(2);
    expect(updates.at(-1)?.args.text).toBe('checklist v10');
    expect(slack.message(CHANNEL, parentTs)?.text).toBe('checklist v10');
  });

  it('leaves at least the minimum interval between two updates of one message, but not between messages', async () => {
    const reporter = createThreadReporter({ client, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });
    const replyTs = await reporter.post(CHANNEL, parentTs, { text: 'pulling image' });

    await reporter.update(CHANNEL, parentTs, { text: 'v1', blocks: [{ type: 'divider' }] });
    await reporter.update(CHANNEL, replyTs, { text: 'pulled image' });
    await reporter.update(CHANNEL, parentTs, { text: 'v2' });
    await reporter.flush();

    const parentUpdates = slack.calls('chat.update').filter((c) => c.args.ts === parentTs);
    expect(parentUpdates.map((c) => c.args.text)).toEqual(['v1', 'v2']);
    expect(parentUpdates[0]?.args.blocks).toEqual([{ type: 'divider' }]);
    expect((parentUpdates[1]?.time ?? 0) - (parentUpdates[0]?.time ?? 0)).toBeGreaterThanOrEqual(INTERVAL_MS);
    expect(slack.message(CHANNEL, replyTs)?.text).toBe('pulled image');
  });

  it('sends nothing for a message until a 429 Retry-After has passed, then lands the latest state', async () => {
    const reporter = createThreadReporter({ client, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });
    slack.failNext('chat.update', 1, { retryAfter: 1 });

    const first = reporter.update(CHANNEL, parentTs, { text: 'v1' });
    await slack.waitFor(() => slack.calls('chat.update').length === 1);
    for (const version of ['v2', 'v3', 'v4']) void reporter.update(CHANNEL, parentTs, { text: version });
    await first;
    await reporter.flush();

    const [limited, ...after] = slack.calls('chat.update');
    expect(limited?.status).toBe(429);
    expect(after.length).toBeGreaterThan(0);
    for (const call of after) expect(call.time - (limited?.time ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(after.every((c) => c.status === 200)).toBe(true);
    expect(after.at(-1)?.args.text).toBe('v4');
    expect(slack.message(CHANNEL, parentTs)?.versions.map((v) => v.text)).toEqual(['Upgrade prod to 0.141.0', 'v1', 'v4']);
  });

  it("honours a 429 exactly once on every call path of the bot's client: one wait of Retry-After, one call again", async () => {
    const bots = createSlackClient({ botToken: slack.botToken, apiUrl: slack.apiUrl }, createSlackTransport(), createLogger({ level: 'silent', format: 'json', secrets: new SecretRegistry() }));
    const reporter = createThreadReporter({ client: bots, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });
    const paths: Array<[method: string, call: () => Promise<unknown>]> = [
      ['chat.postMessage', () => reporter.post(CHANNEL, parentTs, { text: 'reply' })],
      ['chat.update', () => reporter.update(CHANNEL, parentTs, { text: 'v1' })],
      // refreshMessage and the announcer call the client directly.
      ['chat.postEphemeral', () => bots.chat.postEphemeral({ channel: CHANNEL, user: 'U0REQUESTER', text: 'only you' })],
    ];

    for (const [method, call] of paths) {
      const earlier = slack.calls(method).length;
      slack.failNext(method, 1, { retryAfter: 1 });
      await call();
      const [limited, accepted, ...more] = slack.calls(method).slice(earlier);
      expect([limited?.status, accepted?.status, more.length]).toEqual([429, 200, 0]);
      expect((accepted?.time ?? 0) - (limited?.time ?? 0)).toBeGreaterThanOrEqual(1000);
    }
    expect(slack.threadReplies(parentTs).map((m) => m.text)).toEqual(['reply']);
    expect(slack.message(CHANNEL, parentTs)?.text).toBe('v1');
  });

  it('leaves rate limits to the client: a client that hands a 429 back fails the reply, the reporter does not wait it out again', async () => {
    const rejecting = new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: fastRetries, rejectRateLimitedCalls: true, logLevel: webApi.LogLevel.ERROR });
    const reporter = createThreadReporter({ client: rejecting, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });
    slack.failNext('chat.postMessage', 1, { retryAfter: 1 });

    await expect(reporter.post(CHANNEL, parentTs, { text: 'reply' })).rejects.toMatchObject({ code: 'slack_unavailable' });
    expect(slack.calls('chat.postMessage').map((c) => c.status)).toEqual([200, 429]);
  });

  it('retries 5xx answers with backoff instead of dropping posts or updates', async () => {
    const reporter = createThreadReporter({ client, logger: recordingLogger(), minUpdateIntervalMs: INTERVAL_MS });
    slack.failNext('chat.update', 2, { status: 502 });
    slack.failNext('chat.postMessage', 2, { status: 500 });

    void reporter.update(CHANNEL, parentTs, { text: 'step 1 done' });
    const replies = Promise.all([reporter.post(CHANNEL, parentTs, { text: 'a' }), reporter.post(CHANNEL, parentTs, { text: 'b' })]);
    void reporter.update(CHANNEL, parentTs, { text: 'step 2 done' });
    await replies;
    await reporter.flush();

    expect(slack.calls('chat.update').map((c) => c.status)).toEqual([502, 502, 200, 200]);
    expect(slack.message(CHANNEL, parentTs)?.text).toBe('step 2 done');
    expect(slack.threadReplies(parentTs).map((m) => m.text)).toEqual(['a', 'b']);
  });

  it('logs an update Slack refuses for good without rejecting, and rejects a refused reply with a coded error', async () => {
    const logger = recordingLogger();
    const reporter = createThreadReporter({ client, logger, minUpdateIntervalMs: INTERVAL_MS });

    await expect(reporter.update(CHANNEL, '1699999999.000001', { text: 'gone' })).resolves.toBeUndefined();
    slack.failNext('chat.postMessage', 1, { error: 'is_archived' });
    const refused = reporter.post(CHANNEL, parentTs, { text: 'refused' }).catch((err: unknown) => err);
    const next = reporter.post(CHANNEL, parentTs, { text: 'next' });
    await reporter.flush();

    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'slack message update failed', meta: expect.objectContaining({ err: expect.objectContaining({ slackError: 'message_not_found' }) }) }),
    );
    const error = await refused;
    expect(isAppError(error) && error.code).toBe('slack_unavailable');
    await expect(next).resolves.toMatch(/^\d+\.\d{6}$/);
    expect(slack.threadReplies(parentTs).map((m) => m.text)).toEqual(['next']);
    expect(JSON.stringify(logger.lines)).not.toContain(slack.botToken);
  });
});
