// Who may do what: every (action, role) cell of the README's authorization table, against the running bot.
// Each cell asserts the effect in the database and the queue, the ephemeral answer, and the audit row.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeCheckstack, type FakeCheckstack } from '../fakes/fake-checkstack.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import { loadFixtureReleases } from '../support/fixtures.js';
import { waitForQueueIdle } from '../support/queues.js';
import type { ClickableMessage } from '../support/slack-driver.js';
import { staticDeployer } from '../support/static-deployer.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';

const REQUESTER = 'U0REQUESTER'; // a member, not an approver
const APPROVER = 'U0APPROVER1';
const SECOND_APPROVER = 'U0APPROVER2';
const OTHER = 'U0OTHER';
const CHANNEL = 'C0OPS';

type Role = 'requester' | 'approver' | 'second approver' | 'other member';
const USER: Record<Role, string> = { requester: REQUESTER, approver: APPROVER, 'second approver': SECOND_APPROVER, 'other member': OTHER };
const ROLES: Role[] = ['requester', 'approver', 'second approver', 'other member'];

interface Outcome {
  /** The ephemeral answer to the actor. */
  reply: string;
  /** The audit row of the actor's interaction. */
  audit: { outcome: string; error_code: string | null };
}

describe('authorization matrix', () => {
  let github: FakeGithub;
  let checkstack: FakeCheckstack;
  let t: TestBot;
  // `adopt` runs `:latest` (its /api/about says 0.25.0): the Pin button writes this file.
  let pinDir: string;
  const pinFile = () => join(pinDir, 'compose.yml');
  const composeFile = (tag: string) => `services:\n  checkstack:\n    image: ghcr.io/enyineer/checkstack:${tag}\n`;

  beforeAll(async () => {
    pinDir = await mkdtemp(join(tmpdir(), 'ck-authz-pin-'));
    github = await startFakeGithub({ releases: loadFixtureReleases() });
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
  - name: adopt
    baseUrl: ${checkstack.url}
    docker: { container: checkstack-latest }
    pin: { file: "${pinFile()}" }
`,
      deployers: { docker: (target) => staticDeployer({ tag: target.name === 'adopt' ? 'latest' : '0.25.0' }) },
    });
    await waitForQueueIdle(t.bot.deps.queues.releases);
    // A started upgrade stays queued: this file is about who may start it, not about running it.
    await t.bot.deps.queues.upgrades.raw.pause();
  });
  afterAll(async () => {
    await t?.close();
    await checkstack?.close();
    await github?.close();
    if (pinDir) await rm(pinDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await t.bot.deps.pool.query(`UPDATE upgrades SET status = 'cancelled' WHERE status IN ('confirming', 'queued', 'running')`);
  });

  async function rows<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await t.bot.deps.pool.query(sql, params)).rows as T[];
  }
  const lastAuditId = async () => (await rows<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM audit_log`))[0]!.id;

  /**
   * Waits for the audit row of one interaction; its ephemeral answer (if any) was sent before the row was written.
   * A click that works answers by updating the checklist instead, so its reply is empty.
   */
  async function outcomeOf(responseUrl: string | undefined, user: string, kind: 'command' | 'action', action: string, afterAuditId: string): Promise<Outcome> {
    const audit = await t.slack.waitFor(async () => {
      const [row] = await rows<Outcome['audit']>(
        `SELECT outcome, error_code FROM audit_log WHERE id > $1 AND user_id = $2 AND kind = $3 AND action = $4 ORDER BY id DESC LIMIT 1`,
        [afterAuditId, user, kind, action],
      );
      return row;
    }, 10_000);
    const reply = t.slack.responses().find((r) => r.url === responseUrl);
    if (reply) expect(reply.payload.response_type).toBe('ephemeral');
    return { reply: reply?.payload.text ?? '', audit };
  }

  async function command(text: string, user: string): Promise<Outcome> {
    const since = await lastAuditId();
    const response = await t.driver.slashCommand('/checkstack', text, { user, channel: CHANNEL });
    expect(response.status).toBe(200);
    return outcomeOf(response.responseUrl, user, 'command', text.split(' ')[0]!, since);
  }

  async function click(message: ClickableMessage, actionId: string, user: string, auditAction: string): Promise<Outcome> {
    const since = await lastAuditId();
    const response = await t.driver.click(message, actionId, { user, stale: true });
    expect(response.status).toBe(200);
    return outcomeOf(response.responseUrl, user, 'action', auditAction, since);
  }

  /** An upgrade request posted by `requester`, with its checklist message and item ids. */
  async function requestUpgrade(requester: string): Promise<{ id: string; message: FakeMessage; items: string[] }> {
    const before = t.slack.messages(CHANNEL).length;
    const answer = await command('upgrade 0.30.0', requester);
    expect(answer.reply).toMatch(/planned/);
    const message = await t.slack.waitFor(() => t.slack.messages(CHANNEL).length > before && t.slack.lastMessage(CHANNEL));
    const [row] = await rows<{ id: string; items: { id: string }[] }>(`SELECT id, items FROM upgrades WHERE message_ts = $1`, [message.ts]);
    return { id: row!.id, message, items: row!.items.map((i) => i.id) };
  }

  const current = (m: FakeMessage) => t.slack.message(CHANNEL, m.ts)!;
  const withButton = (message: FakeMessage, actionId: string, value: string): ClickableMessage => ({
    ...current(message),
    blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: actionId, value, text: { type: 'plain_text', text: 'x' } }] }],
  });

  async function confirmAll(upgrade: { id: string; message: FakeMessage; items: string[] }, by: (item: string, index: number) => string) {
    for (const [index, item] of upgrade.items.entries()) {
      const answer = await click(withButton(upgrade.message, `confirm:${item}`, `${upgrade.id}:${item}`), `confirm:${item}`, by(item, index), 'confirm');
      expect(answer.audit.outcome).toBe('ok');
    }
  }

  const confirmations = (id: string) => rows<{ item_id: string; user_id: string }>(`SELECT item_id, user_id FROM confirmations WHERE upgrade_id = $1 ORDER BY item_id`, [id]);
  const statusOf = async (id: string) => (await rows<{ status: string }>(`SELECT status FROM upgrades WHERE id = $1`, [id]))[0]!.status;
  const jobOf = async (id: string) => (await t.bot.deps.queues.upgrades.raw.getJob(id)) ?? null;

  /** A finished upgrade of prod, as the job would leave it, built from a request the bot planned itself. */
  async function finishedUpgrade(): Promise<{ id: string; message: ClickableMessage }> {
    const planned = await requestUpgrade(APPROVER);
    await t.bot.deps.pool.query(`UPDATE upgrades SET status = 'cancelled' WHERE id = $1`, [planned.id]);
    const [row] = await rows<{ id: string }>(
      `INSERT INTO upgrades (id, kind, target, from_version, to_version, requester, channel_id, message_ts, status, plan, items, automatic,
                             previous_image, outcome, started_by, expires_at, started_at, finished_at, step)
       SELECT gen_random_uuid(), 'upgrade', target, from_version, to_version, requester, channel_id, message_ts, 'succeeded', plan, items, automatic,
              'ghcr.io/enyineer/checkstack:0.25.0', 'succeeded', $2, now(), now(), now(), 'postflight'
       FROM upgrades WHERE id = $1 RETURNING id`,
      [planned.id, SECOND_APPROVER],
    );
    return { id: row!.id, message: withButton(planned.message, 'rollback_upgrade', row!.id) };
  }

  interface Cell {
    action: string;
    role: string;
    expected: 'allowed' | 'refused';
    run(): Promise<void>;
  }

  const refusedAudit = { outcome: 'refused', error_code: 'not_authorized' };
  const okAudit = { outcome: 'ok', error_code: null };

  const cells: Cell[] = [
    // `/checkstack upgrade`: anyone may ask; approvals come after.
    ...ROLES.map<Cell>((role) => ({
      action: '/checkstack upgrade',
      role,
      expected: 'allowed',
      async run() {
        const { id } = await requestUpgrade(USER[role]);
        expect(await rows(`SELECT requester, status FROM upgrades WHERE id = $1`, [id])).toEqual([{ requester: USER[role], status: 'confirming' }]);
        await expect.poll(() => rows(`SELECT outcome FROM audit_log WHERE upgrade_id = $1 AND action = 'upgrade'`, [id])).toEqual([{ outcome: 'ok' }]);
      },
    })),

    // Confirm a checklist item (request by the member REQUESTER).
    ...ROLES.map<Cell>((role) => {
      const allowed = role === 'approver' || role === 'second approver';
      return {
        action: 'confirm a checklist item',
        role,
        expected: allowed ? 'allowed' : 'refused',
        async run() {
          const upgrade = await requestUpgrade(REQUESTER);
          const answer = await click(withButton(upgrade.message, 'confirm:backup', `${upgrade.id}:backup`), 'confirm:backup', USER[role], 'confirm');
          if (allowed) {
            expect(await confirmations(upgrade.id)).toEqual([{ item_id: 'backup', user_id: USER[role] }]);
            expect(answer.audit).toEqual(okAudit);
          } else {
            expect(answer.reply).toMatch(/only approvers can confirm/i);
            expect(answer.audit).toEqual(refusedAudit);
            expect(await confirmations(upgrade.id)).toEqual([]);
          }
        },
      };
    }),
    {
      action: 'confirm a checklist item',
      role: 'approver who is the requester, an item that is not the last',
      expected: 'allowed',
      async run() {
        const upgrade = await requestUpgrade(APPROVER);
        const answer = await click(withButton(upgrade.message, 'confirm:backup', `${upgrade.id}:backup`), 'confirm:backup', APPROVER, 'confirm');
        expect(answer.audit).toEqual(okAudit);
        expect(await confirmations(upgrade.id)).toEqual([{ item_id: 'backup', user_id: APPROVER }]);
      },
    },
    {
      action: 'confirm a checklist item',
      role: 'approver who is the requester, the last open item when every other confirmation is theirs',
      expected: 'refused',
      async run() {
        const upgrade = await requestUpgrade(APPROVER);
        const last = upgrade.items.at(-1)!;
        await confirmAll({ ...upgrade, items: upgrade.items.slice(0, -1) }, () => APPROVER);
        const answer = await click(withButton(upgrade.message, `confirm:${last}`, `${upgrade.id}:${last}`), `confirm:${last}`, APPROVER, 'confirm');
        expect(answer.reply).toMatch(/another approver/i);
        expect(answer.audit).toEqual(refusedAudit);
        expect((await confirmations(upgrade.id)).map((c) => c.item_id)).not.toContain(last);
      },
    },
    {
      action: 'confirm a checklist item',
      role: 'second approver, the last open item of a checklist the requester-approver confirmed',
      expected: 'allowed',
      async run() {
        const upgrade = await requestUpgrade(APPROVER);
        const last = upgrade.items.at(-1)!;
        await confirmAll({ ...upgrade, items: upgrade.items.slice(0, -1) }, () => APPROVER);
        const answer = await click(withButton(upgrade.message, `confirm:${last}`, `${upgrade.id}:${last}`), `confirm:${last}`, SECOND_APPROVER, 'confirm');
        expect(answer.audit).toEqual(okAudit);
        expect(await confirmations(upgrade.id)).toContainEqual({ item_id: last, user_id: SECOND_APPROVER });
      },
    },

    // Start upgrade on a complete checklist (request by REQUESTER, every item confirmed by APPROVER).
    ...ROLES.map<Cell>((role) => {
      const allowed = role === 'approver' || role === 'second approver';
      return {
        action: 'Start upgrade (checklist complete)',
        role,
        expected: allowed ? 'allowed' : 'refused',
        async run() {
          const upgrade = await requestUpgrade(REQUESTER);
          await confirmAll(upgrade, () => APPROVER);
          const answer = await click(withButton(upgrade.message, 'start_upgrade', upgrade.id), 'start_upgrade', USER[role], 'start');
          if (allowed) {
            expect(answer.audit).toEqual(okAudit);
            expect(await rows(`SELECT status, started_by FROM upgrades WHERE id = $1`, [upgrade.id])).toEqual([{ status: 'queued', started_by: USER[role] }]);
            expect((await jobOf(upgrade.id))?.data).toMatchObject({ upgradeId: upgrade.id });
          } else {
            expect(answer.reply).toMatch(/only approvers can start/i);
            expect(answer.audit).toEqual(refusedAudit);
            expect(await statusOf(upgrade.id)).toBe('confirming');
            expect(await jobOf(upgrade.id)).toBeNull();
          }
        },
      };
    }),
    {
      action: 'Start upgrade (checklist incomplete)',
      role: 'approver',
      expected: 'refused',
      async run() {
        const upgrade = await requestUpgrade(REQUESTER);
        const answer = await click(withButton(upgrade.message, 'start_upgrade', upgrade.id), 'start_upgrade', APPROVER, 'start');
        expect(answer.reply).toMatch(/must be confirmed first/i);
        expect(answer.audit).toEqual({ outcome: 'refused', error_code: 'request_not_active' });
        expect(await statusOf(upgrade.id)).toBe('confirming');
        expect(await jobOf(upgrade.id)).toBeNull();
      },
    },
    {
      action: 'Start upgrade (checklist complete, last item by the second approver)',
      role: 'approver who is the requester',
      expected: 'allowed',
      async run() {
        const upgrade = await requestUpgrade(APPROVER);
        await confirmAll(upgrade, (_item, index) => (index === upgrade.items.length - 1 ? SECOND_APPROVER : APPROVER));
        const answer = await click(withButton(upgrade.message, 'start_upgrade', upgrade.id), 'start_upgrade', APPROVER, 'start');
        expect(answer.audit).toEqual(okAudit);
        expect(await statusOf(upgrade.id)).toBe('queued');
        expect(await jobOf(upgrade.id)).not.toBeNull();
      },
    },

    // Cancel, by button and by command (request by REQUESTER).
    ...(['Cancel button', '/checkstack cancel'] as const).flatMap((how) =>
      ROLES.map<Cell>((role) => {
        const allowed = role !== 'other member';
        return {
          action: how,
          role,
          expected: allowed ? 'allowed' : 'refused',
          async run() {
            const upgrade = await requestUpgrade(REQUESTER);
            const answer =
              how === 'Cancel button'
                ? await click(withButton(upgrade.message, 'cancel_upgrade', upgrade.id), 'cancel_upgrade', USER[role], 'cancel')
                : await command('cancel prod', USER[role]);
            if (allowed) {
              expect(answer.audit).toEqual(okAudit);
              expect(await statusOf(upgrade.id)).toBe('cancelled');
            } else {
              expect(answer.reply).toMatch(/only the requester or an approver/i);
              expect(answer.audit).toEqual(refusedAudit);
              expect(await statusOf(upgrade.id)).toBe('confirming');
            }
          },
        };
      }),
    ),

    // A rollback request, by command and by the Roll back button of a finished upgrade: anyone may ask.
    ...(['/checkstack rollback', 'Roll back button'] as const).flatMap((how) =>
      ROLES.map<Cell>((role) => ({
        action: how,
        role,
        expected: 'allowed',
        async run() {
          const finished = await finishedUpgrade();
          const answer =
            how === '/checkstack rollback'
              ? await command('rollback', USER[role])
              : await click(finished.message, 'rollback_upgrade', USER[role], 'rollback');
          expect(answer.reply).toMatch(/rollback.*planned/i);
          expect(answer.audit).toEqual(okAudit);
          expect(await rows(`SELECT kind, status, requester, to_version FROM upgrades WHERE rollback_of = $1`, [finished.id])).toEqual([
            { kind: 'rollback', status: 'confirming', requester: USER[role], to_version: '0.25.0' },
          ]);
          expect(await jobOf(finished.id)).toBeNull();
        },
      })),
    ),

    // Pin the version a `:latest` install runs: approvers only.
    ...ROLES.map<Cell>((role) => {
      const allowed = role === 'approver' || role === 'second approver';
      return {
        action: 'Pin to <version>',
        role,
        expected: allowed ? 'allowed' : 'refused',
        async run() {
          await writeFile(pinFile(), composeFile('latest'));
          const status = await command('status adopt', USER[role]);
          expect(status.reply).toMatch(/runs `latest` = `0\.25\.0` \(from \/api\/about\)/);
          const message = t.slack.ephemerals(USER[role]).at(-1)!;
          const answer = await click(message, 'pin_version', USER[role], 'pin_version');
          expect(answer.audit).toEqual(allowed ? okAudit : refusedAudit);
          expect(answer.reply).toMatch(allowed ? /Pinned `adopt` to `0\.25\.0`/ : /Only approvers can pin/);
          expect(await readFile(pinFile(), 'utf8')).toBe(composeFile(allowed ? '0.25.0' : 'latest'));
        },
      };
    }),

    // Subscribe and unsubscribe the channel: anyone in it.
    ...(['subscribe', 'unsubscribe'] as const).flatMap((sub) =>
      ROLES.map<Cell>((role) => ({
        action: `/checkstack ${sub}`,
        role,
        expected: 'allowed',
        async run() {
          await t.bot.deps.pool.query(`DELETE FROM subscriptions WHERE channel_id = $1`, [CHANNEL]);
          if (sub === 'unsubscribe') await t.bot.deps.db.subscriptions.set(CHANNEL, true, APPROVER);
          const answer = await command(sub, USER[role]);
          expect(answer.audit).toEqual(okAudit);
          expect(await rows(`SELECT active, changed_by FROM subscriptions WHERE channel_id = $1`, [CHANNEL])).toEqual([
            { active: sub === 'subscribe', changed_by: USER[role] },
          ]);
        },
      })),
    ),
  ];

  it.each(cells)('$action by $role: $expected', async (cell) => {
    await cell.run();
  });
});
