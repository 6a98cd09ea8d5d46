// `/checkstack doctor` in Slack: approvers get the problems and their fixes ephemerally; anyone else is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BOT_SCOPES } from '../fakes/fake-slack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { startOwnRedis, type OwnRedis } from '../support/redis-server.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';

const APPROVER = 'U0APPROVER1';
const MEMBER = 'U0MEMBER1';
const CHANNEL = 'C0OPS';

describe('/checkstack doctor', () => {
  let t: TestBot;
  let github: FakeGithub;
  let redis: OwnRedis;

  beforeAll(async () => {
    github = await startFakeGithub();
    // The bot (queues and doctor) uses a Redis of the test's own, with AOF on: the shared one runs without persistence.
    redis = await startOwnRedis({ maxmemoryPolicy: 'noeviction', appendonly: true });
    t = await startTestBot({
      env: { GITHUB_API_URL: github.url, GITHUB_TOKEN: 'ghp_doctor_slack', RELEASE_POLL_INTERVAL: '3600', REDIS_URL: redis.url },
      slack: { scopes: DEFAULT_BOT_SCOPES.filter((s) => s !== 'chat:write.public') },
      configYaml: `approvers:\n  users: [${APPROVER}]\nannounce:\n  channels: [${CHANNEL}]\n`,
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await github?.close();
    await redis?.close();
  });

  async function doctorReply(user: string) {
    const response = await t.driver.slashCommand('/checkstack', 'doctor', { user, channel: CHANNEL });
    return (await t.slack.waitFor(() => t.slack.responses().find((r) => r.url === response.responseUrl), 30_000)).payload;
  }

  it('refuses a member who is not an approver, and runs nothing', async () => {
    const before = t.slack.calls('auth.test').length;
    const reply = await doctorReply(MEMBER);
    expect(reply.text).toMatch(/Only approvers can run the doctor/);
    expect(t.slack.calls('auth.test').length).toBe(before);
  });

  it('answers an approver ephemerally with the missing scope and its fix, and changes nothing', async () => {
    const reply = await doctorReply(APPROVER);
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toMatch(/^Doctor: :x: 1 problem\(s\)/);
    const blocks = JSON.stringify(reply.blocks);
    expect(blocks).toContain('Slack: scope chat:write.public');
    expect(blocks).toMatch(/Fix:\* Add `chat:write.public`/);
    expect(t.slack.messages()).toEqual([]);
  });
});
