// Scheduled upgrades (`/checkstack upgrade V --at <time>|window`): the checklist is confirmed now, Start schedules
// two delayed jobs (the reminder 15 minutes before, and the start), and at the start the bot checks the approvals,
// the version and the promotion gate again before it queues the ordinary upgrade job. The job ids come from the
// upgrade id, so a restart, a second replica or the sweep adding them again changes nothing.
import { isComplete } from '../domain/checklist.js';
import { nextMomentInWindow } from '../domain/maintenance-window.js';
import type { UpgradeSchedule } from '../domain/schedule-time.js';
import { hasVersionChanged, type CurrentVersion } from '../domain/upgrade-plan.js';
import type { UpgradeRecord, UpgradeStore } from '../db/upgrade-store.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queue.js';
import type { ApproverResolver } from '../slack/approvers.js';
import { REQUEST_REFUSALS } from '../slack/checklist-words.js';
import { scheduledLapsedDetail, scheduleLapseReasons, scheduleTimePassedText } from '../slack/promotion-words.js';
import type { ScheduledNote, ScheduledUpgradePoster } from '../slack/scheduled-upgrade-poster.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';
import type { PromotionGateService } from './promotion-gate.js';

/** How long before its start a scheduled upgrade's thread is reminded (at once when less remains). */
export const REMINDER_LEAD_MS = 15 * 60_000;

/** How late **Schedule upgrade** may still be pressed after the time it names (the clicks took a moment). */
export const SCHEDULE_GRACE_MS = 60_000;

export const scheduledJobIds = (upgradeId: string) => ({ reminder: `scheduled-reminder-${upgradeId}`, start: `scheduled-start-${upgradeId}` });

/** When a request with `--at` starts: the time given, or the first moment inside the target's window (now, inside it). */
export function scheduledStart(schedule: UpgradeSchedule, target: Pick<TargetRuntime, 'config'>, now: Date): Date {
  if (schedule.kind === 'time') return schedule.at;
  const window = target.config.autoUpgrade?.window ?? null;
  if (!window) {
    throw new AppError(
      'invalid_input',
      `Target \`${target.config.name}\` has no maintenance window (\`autoUpgrade.window\` in the config), so \`--at window\` has nothing to go by: give a time instead, such as \`--at ${new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10)}T02:00Z\`.`,
    );
  }
  return nextMomentInWindow(window, now);
}

export interface ScheduledUpgradesDeps {
  upgrades: UpgradeStore;
  queues: Pick<Queues, 'upgrades' | 'scheduledUpgrades'>;
  /** The thread replies and the reminder in Slack. */
  poster: ScheduledUpgradePoster;
  approvers: ApproverResolver;
  targets: TargetRegistry;
  promotion?: PromotionGateService;
  /** The target's running version as the pre-flight reads it. */
  currentVersion(target: string): Promise<CurrentVersion>;
  refreshMessage(upgradeId: string): Promise<void>;
  logger: Logger;
  now(): Date;
  requireSecondPerson: boolean;
}

export type FireOutcome = { fired: 'queued' | 'lapsed' | 'not_scheduled' } | { notBefore: Date };

export function createScheduledUpgrades(deps: ScheduledUpgradesDeps) {
  const { upgrades, poster, logger } = deps;

  async function say(upgrade: Pick<UpgradeRecord, 'id' | 'channelId' | 'messageTs'>, note: ScheduledNote): Promise<void> {
    if (!upgrade.messageTs) return;
    await poster
      .note({ channelId: upgrade.channelId, messageTs: upgrade.messageTs }, note)
      .catch((err: unknown) => logger.warn({ err, upgradeId: upgrade.id }, 'could not post in a scheduled upgrade thread'));
  }

  /** The reminder keeps its words but loses its Cancel button once the upgrade started, lapsed or was cancelled. */
  async function closeReminder(upgrade: UpgradeRecord, outcome: 'started' | 'did not start' | 'cancelled'): Promise<void> {
    if (!upgrade.scheduledReminderTs || !upgrade.scheduledAt) return;
    await poster
      .closeReminder(upgrade.channelId, upgrade.scheduledReminderTs, { version: upgrade.toVersion, target: upgrade.target, at: upgrade.scheduledAt, outcome })
      .catch((err: unknown) => logger.warn({ err, upgradeId: upgrade.id }, 'could not update a scheduled upgrade reminder'));
  }

  /** Adds the reminder and the start as delayed jobs; adding them again (a restart, the sweep) is a no-op. */
  async function enqueue(upgrade: Pick<UpgradeRecord, 'id' | 'scheduledAt'>): Promise<void> {
    if (!upgrade.scheduledAt) return;
    const ids = scheduledJobIds(upgrade.id);
    const untilStart = Math.max(0, upgrade.scheduledAt.getTime() - deps.now().getTime());
    const data = { upgradeId: upgrade.id };
    await deps.queues.scheduledUpgrades.add('reminder', data, { jobId: ids.reminder, delay: Math.max(0, untilStart - REMINDER_LEAD_MS), attempts: 3 });
    await deps.queues.scheduledUpgrades.add('start', data, { jobId: ids.start, delay: untilStart, attempts: 5 });
  }

  /** Start on a confirmed request with `--at`: it waits in `scheduled` for its time. */
  async function schedule(upgradeId: string, userId: string, scheduledAt: Date): Promise<UpgradeRecord> {
    // Confirmed after its time: starting now could fall outside the downtime that was planned for it.
    if (scheduledAt.getTime() < deps.now().getTime() - SCHEDULE_GRACE_MS) throw new AppError('request_not_active', scheduleTimePassedText(scheduledAt));
    const scheduled = await upgrades.apply(upgradeId, 'schedule', { startedBy: userId, statusDetail: null });
    if (!scheduled) throw new AppError('request_not_active', REQUEST_REFUSALS.scheduledByOther);
    try {
      await enqueue(scheduled);
    } catch (err) {
      // The sweep adds the jobs of every scheduled upgrade again: a Redis hiccup here delays nothing for long.
      logger.warn({ err, upgradeId }, 'scheduled upgrade jobs could not be added; the sweep adds them');
    }
    await deps.refreshMessage(upgradeId);
    await say(scheduled, { kind: 'scheduled', target: scheduled.target, version: scheduled.toVersion, at: scheduled.scheduledAt!, now: deps.now() });
    logger.info({ upgradeId, userId, at: scheduled.scheduledAt }, 'upgrade scheduled');
    return scheduled;
  }

  async function remind(upgradeId: string): Promise<'posted' | 'skipped'> {
    const upgrade = await upgrades.byId(upgradeId);
    if (!upgrade || upgrade.status !== 'scheduled' || !upgrade.messageTs || !upgrade.scheduledAt || upgrade.scheduledReminderTs) return 'skipped';
    if (!(await upgrades.claimScheduledReminder(upgrade.id))) return 'skipped';
    const ts = await poster.reminder(
      { channelId: upgrade.channelId, messageTs: upgrade.messageTs },
      { upgradeId: upgrade.id, version: upgrade.toVersion, target: upgrade.target, at: upgrade.scheduledAt, now: deps.now() },
    );
    await upgrades.setScheduledReminder(upgrade.id, ts);
    return 'posted';
  }

  /** What no longer holds of what the upgrade was approved on; empty when it may start. */
  async function lapseReasons(upgrade: UpgradeRecord): Promise<string[]> {
    const approvers = await deps.approvers.approvers();
    const confirmations = (await upgrades.confirmations(upgrade.id)).filter((c) => approvers.has(c.userId));
    const approvalsHold = isComplete({ items: upgrade.items.map((i) => i.id), confirmations }, { requester: upgrade.requester, requireSecondPerson: deps.requireSecondPerson });
    const starterApproves = upgrade.startedBy !== null && approvers.has(upgrade.startedBy);
    const current = await deps.currentVersion(upgrade.target).catch(() => null);
    const gate = upgrade.kind === 'upgrade' && deps.promotion ? await deps.promotion.decide(upgrade) : null;
    return scheduleLapseReasons({
      approvalsHold,
      starter: starterApproves ? null : upgrade.startedBy,
      versionNow: current === null ? undefined : hasVersionChanged(upgrade.plan, current) ? current.apiVersion ?? current.imageTag : null,
      gate: gate && !gate.allowsStart && !gate.gate.holds ? gate.gate : null,
    });
  }

  /** The start job: checks again, then queues the ordinary upgrade job or gives the upgrade up with the reason. */
  async function fire(upgradeId: string): Promise<FireOutcome> {
    const upgrade = await upgrades.byId(upgradeId);
    if (!upgrade || upgrade.status !== 'scheduled' || !upgrade.scheduledAt) return { fired: 'not_scheduled' };
    if (upgrade.scheduledAt.getTime() > deps.now().getTime()) return { notBefore: upgrade.scheduledAt };
    const reasons = await lapseReasons(upgrade);
    if (reasons.length > 0) {
      const reason = reasons.join('; ');
      const lapsed = await upgrades.apply(upgradeId, 'lapse', { statusDetail: scheduledLapsedDetail(reason) });
      if (!lapsed) return { fired: 'not_scheduled' };
      logger.info({ upgradeId, reasons }, 'scheduled upgrade lapsed');
      await deps.refreshMessage(upgradeId);
      await say(upgrade, { kind: 'lapsed', reason });
      await closeReminder(upgrade, 'did not start');
      return { fired: 'lapsed' };
    }
    const queued = await upgrades.apply(upgradeId, 'fire', { statusDetail: null });
    if (!queued) return { fired: 'not_scheduled' };
    // Same job id as a Start click's: the sweep re-adds it if the bot dies right here.
    await deps.queues.upgrades.add(queued.kind, { upgradeId: queued.id, kind: queued.kind, doneStep: null }, { jobId: queued.id, attempts: 3 });
    logger.info({ upgradeId }, 'scheduled upgrade queued');
    await deps.refreshMessage(upgradeId);
    await say(upgrade, { kind: 'started', version: upgrade.toVersion });
    await closeReminder(upgrade, 'started');
    return { fired: 'queued' };
  }

  /** After a cancel of a scheduled upgrade: its jobs go, and the thread says who cancelled it. */
  async function cancelled(upgrade: UpgradeRecord, userId: string): Promise<void> {
    const ids = scheduledJobIds(upgrade.id);
    for (const id of [ids.reminder, ids.start]) {
      const job = await deps.queues.scheduledUpgrades.raw.getJob(id);
      await job?.remove().catch((err: unknown) => logger.warn({ err, upgradeId: upgrade.id }, 'scheduled job could not be removed; it finds the upgrade cancelled'));
    }
    await say(upgrade, { kind: 'cancelled', by: userId });
    await closeReminder(upgrade, 'cancelled');
  }

  /** The sweep: every scheduled upgrade has its two jobs (Redis may have lost them). */
  async function sweep(): Promise<string[]> {
    const scheduled = await upgrades.inStatus(['scheduled']);
    for (const upgrade of scheduled) await enqueue(upgrade);
    return scheduled.map((u) => u.id);
  }

  return { schedule, enqueue, remind, fire, cancelled, sweep };
}

export type ScheduledUpgrades = ReturnType<typeof createScheduledUpgrades>;
