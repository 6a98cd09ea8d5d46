// Upgrade requests from a slash command (or an announcement's button) to a queued job: the plan, the
// checklist message, confirmations, start and cancel. Every state change is settled by the database.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { isReadyUnknown } from '../checkstack/client.js';
import type { ReleaseStore } from '../db/release-store.js';
import type { ClickedUpgrade, UpgradeListing, UpgradeRecord, UpgradeStore } from '../db/upgrade-store.js';
import { withAdvisoryLock } from '../db/checked-out-client.js';
import type { Pool } from '../db/pool.js';
import type { BackupService, BackupState } from '../backup/backup-service.js';
import {
  allows,
  BACKUP_CHECK_ID,
  canCancel,
  checklistItems,
  confirmItem,
  rollbackChecklistItems,
  isComplete,
  type AutomaticCheck,
  type ChecklistItem,
  type ChecklistState,
} from '../domain/checklist.js';
import { summarizeRelease, versionFromTag } from '../domain/release-summary.js';
import type { ReleaseSummary } from '../domain/release-types.js';
import { planUpgrade, type CurrentVersion, type UpgradePlan } from '../domain/upgrade-plan.js';
import { tagForVersion } from '../domain/versions.js';
import { AppError, isAppError } from '../errors.js';
import type { ReleaseSource } from '../github/release-source.js';
import type { Logger } from '../logger.js';
import { UPGRADE_JOB_ATTEMPTS, type Queues } from '../queue.js';
import type { ReleaseIngest } from '../releases/ingest.js';
import type { ApproverResolver } from '../slack/approvers.js';
import { BACKUP_CHECK_TITLE, backupCheckDetail, backupStartRefusal } from '../slack/backup-words.js';
import { withConfirmations, type ChecklistMessageView } from '../slack/checklist-message.js';
import type { ChecklistPoster } from '../slack/checklist-poster.js';
import {
  activeRequestGoneRefusal,
  activeRequestRefusal,
  alreadyStatusRefusal,
  autoRollbackDetail,
  cancelledDetail,
  cancelledWhileWaitingForMergeDetail,
  EXPIRED_DETAIL,
  noFinishedUpgradeRefusal,
  NOT_QUEUED_DETAIL,
  notConfirmedRefusal,
  nothingPendingRefusal,
  nothingToRollBackRefusal,
  queuePositionDetail,
  REQUEST_REFUSALS,
  requestIsRefusal,
  rollbackNoticeText,
  unfinishedRollbackRefusal,
  instanceCheckDetail,
  MASTER_KEY_MISSING_DETAIL,
  MASTER_KEY_RECORDED_DETAIL,
  MASTER_KEY_TITLE,
  MASTER_KEY_UNKNOWN_DETAIL,
  notReadyCheckDetail,
  READINESS_UNKNOWN_CHECK_DETAIL,
  readyChecksPassDetail,
  TARGET_READY_TITLE,
} from '../slack/checklist-words.js';
import { approvalRulesFor, offersRestore, PROMOTION_CHECK_ID, RESTORE_ITEM_ID, restoresDatabase, type ApprovalRules } from '../domain/checklist.js';
import { restoreRollbackItem } from '../slack/rollback-outcome.js';
import { instanceFoundTitle, versionUnknownText } from '../slack/deployer-words.js';
import type { PromotionGateService } from './promotion-gate.js';
import { scheduledStart, type ScheduledUpgrades } from './scheduled-upgrades.js';
import type { UpgradeSchedule } from '../domain/schedule-time.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';
import type { Adoption } from './adoption.js';

/** A click on a checklist whose ts is not recorded yet reads again after these waits (3.2 s in all, 8 reads). */
const POSTING_WAITS_MS = [25, 50, 100, 200, 400, 800, 1600];

/** The requester and starter recorded for a rollback the bot started on its own (`postflight.autoRollback`). */
export const AUTO_ROLLBACK_ACTOR = 'checkstack-chatops';

export interface UpgradeRequestsDeps {
  upgrades: UpgradeStore;
  releases: ReleaseStore;
  releaseSource: ReleaseSource;
  ingest: ReleaseIngest;
  targets: TargetRegistry;
  approvers: ApproverResolver;
  /** The checklist message in Slack: posted, updated, and the replies of a rollback request. */
  checklists: ChecklistPoster;
  queues: Pick<Queues, 'upgrades'>;
  pool: Pool;
  logger: Logger;
  now(): Date;
  requestTtlMs: number;
  requireSecondPerson: boolean;
  /** Targets with `backup`: the checklist's backup item is the bot's check of the newest backup. */
  backups?: Pick<BackupService, 'state'>;
  /** Targets with `promotion`: the checklist's promotion item is the bot's check of the version on `from`. */
  promotion?: PromotionGateService;
  /** `--at`: Start on a request with a time schedules it instead of queueing it. */
  scheduling?: Pick<ScheduledUpgrades, 'schedule' | 'cancelled'>;
  /** A target on a floating tag (`latest`) is upgraded only once its pin record names the version it runs. */
  adoption?: Pick<Adoption, 'currentForUpgrade'>;
  /** Told after a request's checklist is posted or refreshed, i.e. after every change of it (the Home tab follows). Must not throw. */
  onChange?(upgradeId: string): void;
}

/** The checklist's backup item as the bot checks it now. */
function backupCheck(state: BackupState): AutomaticCheck {
  return {
    id: BACKUP_CHECK_ID,
    title: BACKUP_CHECK_TITLE,
    result: state.freshness.state === 'fresh' ? 'ok' : 'failed',
    detail: backupCheckDetail(state.freshness, state.maxAgeMs, state.target),
  };
}

/** Where a click came from: a button is only valid on the message of its own request. */
export interface ClickSource {
  channelId: string;
  messageTs: string;
}

export interface RequestUpgradeInput {
  userId: string;
  channelId: string;
  teamDomain: string | null;
  version: string;
  targetName?: string;
  allowPrerelease: boolean;
  /** `--at <time>|window`: the checklist is confirmed now, the upgrade starts then. */
  schedule?: UpgradeSchedule;
}

/** Whether the new version of `upgrade` ever ran, so that rolling it back means something. */
export function canRollBack(upgrade: Pick<UpgradeRecord, 'kind' | 'status' | 'step'>): boolean {
  if (upgrade.kind !== 'upgrade' || (upgrade.status !== 'succeeded' && upgrade.status !== 'failed')) return false;
  return !(upgrade.step === 'recheck' || upgrade.step === 'git_record' || upgrade.step === 'pull' || upgrade.step === 'backup' || (upgrade.step === 'recreate' && upgrade.status === 'failed'));
}

export function threadPermalink(upgrade: Pick<UpgradeRecord, 'teamDomain' | 'channelId' | 'messageTs'>): string | undefined {
  if (!upgrade.messageTs) return undefined;
  const host = upgrade.teamDomain ? `${upgrade.teamDomain}.slack.com` : 'slack.com';
  return `https://${host}/archives/${upgrade.channelId}/p${upgrade.messageTs.replace('.', '')}`;
}

/** The current version as the target reports it, plus the checks the bot does itself before asking anyone. */
export async function inspectTarget(runtime: TargetRuntime, logger: Logger) {
  const { deployer, checkstack } = runtime;
  const [about, ready, instance] = await Promise.all([
    checkstack.about().then(
      (a) => ({ ok: true as const, about: a }),
      (err: unknown) => ({ ok: false as const, error: err }),
    ),
    checkstack.ready().then(
      (r) => ({ ok: true as const, ready: r }),
      (err: unknown) => ({ ok: false as const, error: err }),
    ),
    deployer.describe().then(
      (i) => ({ ok: true as const, instance: i }),
      (err: unknown) => ({ ok: false as const, error: err }),
    ),
  ]);
  const reason = (err: unknown) => (isAppError(err) ? err.message : 'unexpected error (see the bot log)');
  for (const r of [about, ready, instance]) if (!r.ok) logger.info({ err: r.error }, 'pre-flight inspection problem');

  const automatic: AutomaticCheck[] = [];
  if (!ready.ok) automatic.push({ id: 'target_ready', title: TARGET_READY_TITLE, result: 'failed', detail: reason(ready.error) });
  else if (isReadyUnknown(ready.ready)) automatic.push({ id: 'target_ready', title: TARGET_READY_TITLE, result: 'warning', detail: READINESS_UNKNOWN_CHECK_DETAIL });
  else if (ready.ready.ready) automatic.push({ id: 'target_ready', title: TARGET_READY_TITLE, result: 'ok', detail: readyChecksPassDetail(ready.ready.checks.length) });
  else automatic.push({ id: 'target_ready', title: TARGET_READY_TITLE, result: 'failed', detail: notReadyCheckDetail(ready.ready) });

  if (!instance.ok) {
    automatic.push({ id: 'deployment_found', title: instanceFoundTitle(deployer.nouns), result: 'failed', detail: reason(instance.error) });
    automatic.push({ id: 'master_key_present', title: MASTER_KEY_TITLE, result: 'failed', detail: MASTER_KEY_UNKNOWN_DETAIL });
  } else {
    const i = instance.instance;
    automatic.push({
      id: 'deployment_found',
      title: instanceFoundTitle(deployer.nouns),
      result: i.running ? 'ok' : 'failed',
      detail: instanceCheckDetail(i),
    });
    automatic.push(
      i.encryptionKeyFingerprint
        ? { id: 'master_key_present', title: MASTER_KEY_TITLE, result: 'ok', fingerprint: i.encryptionKeyFingerprint, detail: MASTER_KEY_RECORDED_DETAIL }
        : { id: 'master_key_present', title: MASTER_KEY_TITLE, result: 'failed', detail: MASTER_KEY_MISSING_DETAIL },
    );
  }

  const current: CurrentVersion = {
    apiVersion: about.ok ? about.about?.releaseVersion ?? null : null,
    imageTag: instance.ok ? instance.instance.tag : null,
    reachable: about.ok || ready.ok,
  };
  return { current, automatic, instance: instance.ok ? instance.instance : null };
}

export function createUpgradeRequests(deps: UpgradeRequestsDeps) {
  const { upgrades, checklists, logger } = deps;

  async function knownSummaries(): Promise<ReleaseSummary[]> {
    return (await deps.releases.all()).filter((r) => !r.draft && !r.deletedAt).map((r) => r.summary);
  }

  /** The release list may be minutes old: a version we do not know yet is looked up on GitHub first. */
  async function summariesIncluding(version: string): Promise<ReleaseSummary[]> {
    const known = await knownSummaries();
    if (known.some((s) => s.version === version)) return known;
    const release = await deps.releaseSource.getReleaseByTag(tagForVersion(version));
    if (!release || release.draft) return known;
    await deps.ingest.ingest([release], { complete: false });
    const refreshed = await knownSummaries();
    if (refreshed.some((s) => s.version === version)) return refreshed;
    const parsed = versionFromTag(release.tag_name);
    return parsed ? [...refreshed, summarizeRelease(release, null)] : refreshed;
  }

  async function approvalState(upgrade: Pick<UpgradeRecord, 'id' | 'items'>): Promise<ChecklistState> {
    return clickedState({ items: upgrade.items, confirmations: await upgrades.confirmations(upgrade.id) });
  }

  /** The checklist's state as a click read it, with its upgrade (`upgrades.forClick`). */
  function clickedState(upgrade: Pick<ClickedUpgrade, 'items' | 'confirmations'>): ChecklistState {
    return { items: upgrade.items.map((i) => i.id), confirmations: upgrade.confirmations };
  }

  /**
   * Re-renders the parent message from the database. Serialised per upgrade across replicas by an advisory
   * lock, and always from the state read under the lock, so the last update Slack receives is the newest state.
   */
  async function refreshMessage(upgradeId: string, extra: { queuePosition?: number } = {}): Promise<void> {
    try {
      await renderAndUpdate(upgradeId, extra);
    } finally {
      deps.onChange?.(upgradeId);
    }
  }

  async function renderAndUpdate(upgradeId: string, extra: { queuePosition?: number }): Promise<void> {
    await withAdvisoryLock(
      deps.pool,
      { space: 'checklist-message', id: upgradeId },
      {
        wait: true,
        onLost: (err) => logger.warn({ err: { message: err.message }, upgradeId }, 'postgres connection lost while updating a checklist message'),
      },
      async () => {
        const upgrade = await upgrades.byId(upgradeId);
        if (!upgrade?.messageTs) return;
        await checklists.update(upgrade.channelId, upgrade.messageTs, await checklistView(upgrade, extra));
      },
    );
  }

  /** The target's backup state, for a checklist whose backup item the bot checks; null otherwise. */
  async function backupStateFor(upgrade: Pick<UpgradeRecord, 'automatic' | 'target'>): Promise<BackupState | null> {
    if (!deps.backups || !upgrade.automatic.some((c) => c.id === BACKUP_CHECK_ID)) return null;
    return deps.backups.state(upgrade.target);
  }

  /** The promotion gate of a checklist whose promotion item the bot checks; null otherwise. */
  async function promotionDecisionFor(upgrade: Pick<UpgradeRecord, 'id' | 'kind' | 'target' | 'toVersion' | 'automatic' | 'scheduledAt'>) {
    if (!deps.promotion || !upgrade.automatic.some((c) => c.id === PROMOTION_CHECK_ID)) return null;
    const decision = await deps.promotion.decide(upgrade);
    // A scheduled upgrade may be confirmed now for a version that will have soaked by its time: the start checks again.
    const soakedByThen = decision !== null && !decision.gate.holds && decision.gate.holdsAt !== null && upgrade.scheduledAt !== null && decision.gate.holdsAt.getTime() <= upgrade.scheduledAt.getTime();
    return decision && soakedByThen ? { ...decision, allowsStart: true } : decision;
  }

  /** What the checklist message shows of `upgrade` now (src/slack lays it out). */
  async function checklistView(upgrade: UpgradeRecord, extra: { queuePosition?: number } = {}): Promise<ChecklistMessageView> {
    const state = await approvalState(upgrade);
    // While the checklist waits, its backup check is read again at each render: a backup taken meanwhile shows.
    const backup = upgrade.status === 'confirming' ? await backupStateFor(upgrade) : null;
    const automatic = backup ? upgrade.automatic.map((c) => (c.id === BACKUP_CHECK_ID ? backupCheck(backup) : c)) : upgrade.automatic;
    const backupHolds = !backup || backup.freshness.state === 'fresh';
    // Likewise the promotion check: a run on `from` finishing or soaking meanwhile shows.
    const gate = upgrade.status === 'confirming' ? await promotionDecisionFor(upgrade) : null;
    const promoted = gate ? automatic.map((c) => (c.id === PROMOTION_CHECK_ID ? deps.promotion!.check(gate.gate) : c)) : automatic;
    const detail =
      upgrade.status === 'queued' && extra.queuePosition !== undefined
        ? queuePositionDetail(extra.queuePosition)
        : upgrade.statusDetail ?? undefined;
    return {
      upgradeId: upgrade.id,
      target: upgrade.target,
      requester: upgrade.requester,
      plan: upgrade.plan,
      items: withConfirmations(upgrade.items, state),
      automatic: promoted,
      status: upgrade.status,
      ...(detail ? { statusDetail: detail } : {}),
      ...(upgrade.step ? { step: upgrade.step } : {}),
      ...(upgrade.scheduledAt ? { scheduledAt: upgrade.scheduledAt } : {}),
      ...(gate && !gate.gate.holds && (!gate.allowsStart || gate.override.by.length > 0) ? { promotionOverride: { from: gate.gate.from, version: gate.gate.version, by: gate.override.by, missing: gate.override.missing } } : {}),
      canStart: upgrade.status === 'confirming' && backupHolds && (!gate || gate.allowsStart) && isComplete(state, rulesOf(upgrade)),
      kind: upgrade.kind,
      ...(upgrade.kind === 'rollback' ? { rollbackNotice: rollbackNotice(upgrade) } : {}),
      ...(upgrade.status === 'failed' && canRollBack(upgrade) ? { offerRollback: true } : {}),
    };
  }

  /** The approval rules of a request: Restore and roll back needs two different approvers. */
  function rulesOf(upgrade: Pick<UpgradeRecord, 'requester' | 'items'>): ApprovalRules {
    return approvalRulesFor(upgrade.items, { requester: upgrade.requester, requireSecondPerson: deps.requireSecondPerson });
  }

  function rollbackNotice(rollback: UpgradeRecord): string {
    return rollbackNoticeText({ fromVersion: rollback.fromVersion, toVersion: rollback.toVersion, restoresDatabase: restoresDatabase(rollback.items), destructive: rollback.plan.flags.destructive });
  }

  function activeRefusal(active: UpgradeRecord): AppError {
    return new AppError('upgrade_in_progress', activeRequestRefusal(active, threadPermalink(active)));
  }

  /**
   * Records a new request (the unique index refuses a second active one for the target) and posts its checklist.
   * A request whose message could not be posted is removed again: nobody could ever click it.
   */
  async function createAndPost(request: {
    kind: 'upgrade' | 'rollback';
    rollbackOf?: string;
    target: string;
    plan: UpgradePlan;
    items: ChecklistItem[];
    inspection: Awaited<ReturnType<typeof inspectTarget>>;
    requester: string;
    channelId: string;
    teamDomain: string | null;
    previousImage: string | null;
    /** Keep the request when its message cannot be posted: the bot starts it itself (an automatic rollback). */
    keepUnposted?: boolean;
    scheduledAt?: Date | null;
  }): Promise<UpgradeRecord> {
    const { inspection, plan } = request;
    const created = await upgrades.create({
      id: randomUUID(),
      kind: request.kind,
      rollbackOf: request.rollbackOf ?? null,
      target: request.target,
      fromVersion: plan.from,
      toVersion: plan.to,
      requester: request.requester,
      channelId: request.channelId,
      teamDomain: request.teamDomain,
      plan,
      items: request.items,
      automatic: inspection.automatic,
      instanceId: inspection.instance?.id ?? null,
      imageTag: inspection.current.imageTag,
      apiVersion: inspection.current.apiVersion,
      keyFingerprint: inspection.instance?.encryptionKeyFingerprint ?? null,
      previousImage: request.previousImage,
      expiresAt: new Date(deps.now().getTime() + deps.requestTtlMs),
      scheduledAt: request.scheduledAt ?? null,
    });
    if (!created) {
      const other = await upgrades.activeForTarget(request.target);
      throw other ? activeRefusal(other) : new AppError('upgrade_in_progress', activeRequestGoneRefusal(request.target));
    }
    try {
      const ts = await checklists.post(request.channelId, await checklistView(created));
      await upgrades.setMessage(created.id, ts);
      deps.onChange?.(created.id);
      logger.info({ upgradeId: created.id, kind: request.kind, target: request.target, from: plan.from, to: plan.to, requester: request.requester }, `${request.kind} requested`);
      return { ...created, messageTs: ts };
    } catch (err) {
      if (request.keepUnposted) {
        logger.error({ err, upgradeId: created.id }, 'the checklist could not be posted; the request goes on without its own message');
        return created;
      }
      await upgrades.discard(created.id);
      throw err;
    }
  }

  async function requestUpgrade(input: RequestUpgradeInput): Promise<UpgradeRecord> {
    const runtime = deps.targets.resolve(input.targetName);
    const target = runtime.config.name;
    const active = await upgrades.activeForTarget(target);
    if (active) throw activeRefusal(active);
    if (input.schedule && !deps.scheduling) throw new AppError('invalid_input', REQUEST_REFUSALS.schedulingUnavailable);
    const scheduledAt = input.schedule ? scheduledStart(input.schedule, runtime, deps.now()) : null;

    const [summaries, inspection] = await Promise.all([summariesIncluding(input.version), inspectTarget(runtime, logger)]);
    if (!inspection.current.apiVersion && !inspection.current.imageTag) {
      throw new AppError(
        'checkstack_unreachable',
        versionUnknownText(target, runtime.deployer.nouns),
      );
    }
    const current = deps.adoption ? await deps.adoption.currentForUpgrade(runtime, inspection.current) : inspection.current;
    const plan = planUpgrade({ current, target: input.version, releases: summaries, allowPrerelease: input.allowPrerelease });
    // Platform-specific doubts, e.g. a RollingUpdate Deployment whose old and new pods would share a migrating database.
    const warnings = await runtime.deployer.preflightWarnings?.({ migrations: plan.flags.migrations }).catch((err: unknown) => {
      logger.info({ err }, 'pre-flight warnings unavailable');
      return [] as string[];
    });
    if (warnings && warnings.length > 0) {
      inspection.automatic.push({ id: 'platform_warnings', title: 'Platform checks', result: 'warning', detail: warnings.join(' ') });
    }
    const backup = deps.backups ? await deps.backups.state(target) : null;
    if (backup) inspection.automatic.push(backupCheck(backup));
    const promotionGate = deps.promotion ? await deps.promotion.evaluate(target, plan.to) : null;
    if (promotionGate) inspection.automatic.push(deps.promotion!.check(promotionGate));
    const items = checklistItems(plan, inspection.automatic, { backupCheckedByBot: backup !== null });
    return createAndPost({
      kind: 'upgrade',
      target,
      plan,
      items,
      inspection,
      requester: input.userId,
      channelId: input.channelId,
      teamDomain: input.teamDomain,
      previousImage: inspection.instance?.image ?? null,
      scheduledAt,
    });
  }

  /** `/checkstack rollback [target]` or the Roll back button: a rollback request with its own checklist. */
  async function requestRollback(input: {
    userId: string;
    channelId: string;
    teamDomain: string | null;
    targetName?: string;
    ofUpgradeId?: string;
    /** A click names its upgrade: it must be one of this channel's. */
    clickedInChannel?: string;
  }): Promise<UpgradeRecord> {
    const original = input.ofUpgradeId ? await upgrades.byId(input.ofUpgradeId) : await upgrades.lastFinishedUpgrade(deps.targets.resolve(input.targetName).config.name);
    if (original && input.clickedInChannel && original.channelId !== input.clickedInChannel) {
      throw new AppError('stale_action', REQUEST_REFUSALS.buttonOfOtherChannel);
    }
    const runtime = deps.targets.resolve(original?.target ?? input.targetName);
    if (!original || original.kind !== 'upgrade') throw new AppError('not_found', noFinishedUpgradeRefusal(runtime.config.name));
    if (!allows(original.status, 'rollback')) {
      throw new AppError('request_not_active', unfinishedRollbackRefusal(original.toVersion, original.status));
    }
    if (!canRollBack(original)) {
      throw new AppError('request_not_active', nothingToRollBackRefusal(original));
    }
    const active = await upgrades.activeForTarget(original.target);
    if (active) throw activeRefusal(active);
    const inspection = await inspectTarget(runtime, logger);
    const plan = {
      ...original.plan,
      from: original.toVersion,
      to: original.fromVersion,
      current: inspection.current,
      releasesInRange: [],
      breaking: [],
      minorsCrossed: 0,
      versionMismatch: false,
      unreachable: !inspection.current.reachable,
    };
    // Restore and roll back: only a person asks for it (never the bot's own rollback), only on Docker (the bot stops the
    // container itself), and only with the dump the Backup step of this very upgrade recorded.
    const offerRestore = offersRestore({
      destructive: original.plan.flags.destructive,
      preUpgradeBackup: original.preUpgradeBackup !== null,
      targetHasBackup: runtime.config.backup !== undefined,
      platformRestores: runtime.deployer.rollbackRunsBeforeStart,
      automatic: input.userId === AUTO_ROLLBACK_ACTOR,
    });
    const restore = offerRestore ? { ...restoreRollbackItem(original.preUpgradeBackup!, deps.now()), id: RESTORE_ITEM_ID } : undefined;
    const items = rollbackChecklistItems({ from: original.toVersion, to: original.fromVersion, destructive: original.plan.flags.destructive, migrations: original.plan.flags.migrations, ...(restore ? { restore } : {}) });
    const rollback = await createAndPost({
      kind: 'rollback',
      rollbackOf: original.id,
      target: original.target,
      plan,
      items,
      inspection,
      requester: input.userId,
      channelId: input.channelId,
      teamDomain: input.teamDomain ?? original.teamDomain,
      previousImage: original.previousImage,
      keepUnposted: input.userId === AUTO_ROLLBACK_ACTOR,
    });
    // The bot's own rollback says so in its own words (autoRollback); the request is made whatever Slack answers.
    if (original.messageTs && input.userId !== AUTO_ROLLBACK_ACTOR) {
      await checklists
        .rollbackRequested({ channelId: original.channelId, messageTs: original.messageTs }, { userId: input.userId, toVersion: original.fromVersion, checklistLink: threadPermalink(rollback) })
        .catch((err: unknown) => logger.warn({ err, upgradeId: original.id }, 'could not say in the thread that a rollback was requested'));
    }
    return rollback;
  }

  /**
   * `postflight.autoRollback`: the bot itself requests and starts the rollback of a failed upgrade. It skips the
   * human checklist on purpose (the operator opted in), and says so in both threads.
   */
  async function autoRollback(original: UpgradeRecord, reason: string): Promise<void> {
    const rollback = await requestRollback({ userId: AUTO_ROLLBACK_ACTOR, channelId: original.channelId, teamDomain: original.teamDomain, ofUpgradeId: original.id });
    const queued = await upgrades.apply(rollback.id, 'start', { startedBy: AUTO_ROLLBACK_ACTOR, statusDetail: autoRollbackDetail(reason) });
    if (!queued) return;
    await deps.queues.upgrades.add('rollback', { upgradeId: queued.id, kind: 'rollback', doneStep: null }, { jobId: queued.id, attempts: UPGRADE_JOB_ATTEMPTS });
    if (original.messageTs) {
      await checklists
        .autoRollbackStarted({ channelId: original.channelId, messageTs: original.messageTs }, { reason, rollbackLink: threadPermalink(rollback) })
        .catch((err: unknown) => logger.warn({ err, upgradeId: original.id }, 'could not say in the thread that the rollback started'));
    }
    await refreshMessage(queued.id);
  }

  /**
   * The clicked upgrade, if it exists and the button is on its own message. Slack shows a checklist before
   * chat.postMessage answers, so a quick click can arrive before the bot recorded the ts: it is read again a few times.
   */
  async function loadForClick<T extends Pick<UpgradeListing, 'channelId' | 'messageTs'>>(read: () => Promise<T | null>, source: ClickSource): Promise<T> {
    let upgrade = await read();
    for (const waitMs of POSTING_WAITS_MS) {
      if (!upgrade || upgrade.messageTs !== null) break;
      await delay(waitMs);
      upgrade = await read();
    }
    if (!upgrade) throw new AppError('not_found', REQUEST_REFUSALS.requestGone);
    if (upgrade.messageTs === null && upgrade.channelId === source.channelId) {
      throw new AppError('request_not_active', REQUEST_REFUSALS.messageNotRecorded);
    }
    if (upgrade.channelId !== source.channelId || upgrade.messageTs !== source.messageTs) {
      throw new AppError('stale_action', REQUEST_REFUSALS.buttonOfOtherMessage);
    }
    return upgrade;
  }

  /** Expires a confirming request past its deadline; true when it did (the caller then refuses the click). */
  async function expireIfDue(upgrade: Pick<UpgradeRecord, 'id' | 'status' | 'expiresAt'>): Promise<boolean> {
    if (!allows(upgrade.status, 'expire') || upgrade.expiresAt.getTime() > deps.now().getTime()) return false;
    const expired = await upgrades.apply(upgrade.id, 'expire', { statusDetail: EXPIRED_DETAIL });
    if (expired) await refreshMessage(upgrade.id);
    return true;
  }

  async function confirm(upgradeId: string, itemId: string, userId: string, source: ClickSource): Promise<{ recorded: boolean }> {
    const upgrade = await loadForClick(() => upgrades.forClick(upgradeId), source);
    if (await expireIfDue(upgrade)) throw new AppError('request_not_active', REQUEST_REFUSALS.expiredAskAgain);
    if (upgrade.status !== 'confirming') {
      throw new AppError('request_not_active', requestIsRefusal(upgrade.status));
    }
    const approvers = await deps.approvers.approvers();
    if (!approvers.has(userId)) {
      throw new AppError('not_authorized', REQUEST_REFUSALS.confirmNeedsApprover);
    }
    const rules = rulesOf(upgrade);
    // Read without a lock first: a click on an item already confirmed, or one the rules refuse, needs no transaction.
    const state = clickedState(upgrade);
    if (confirmItem(state, itemId, userId, deps.now(), rules) === state) return { recorded: false };
    // Decided again under the lock: two of the requester's clicks racing must not both pass the second-person rule.
    const recorded = await upgrades.confirm(upgrade.id, itemId, userId, (confirmations) => {
      const current = { items: state.items, confirmations };
      return confirmItem(current, itemId, userId, deps.now(), rules) !== current;
    });
    if (recorded) await refreshMessage(upgrade.id);
    return { recorded };
  }

  async function queuePosition(upgradeId: string): Promise<number> {
    const waiting = await deps.queues.upgrades.raw.getJobs(['waiting', 'prioritized', 'delayed'], 0, 100, true);
    const index = waiting.findIndex((job) => job.id === upgradeId);
    return index === -1 ? 1 : index + 1;
  }

  async function start(upgradeId: string, userId: string, source: ClickSource): Promise<UpgradeRecord> {
    const upgrade = await loadForClick(() => upgrades.forClick(upgradeId), source);
    if (await expireIfDue(upgrade)) throw new AppError('request_not_active', REQUEST_REFUSALS.expired);
    const approvers = await deps.approvers.approvers();
    if (!approvers.has(userId)) throw new AppError('not_authorized', REQUEST_REFUSALS.startNeedsApprover);
    if (!allows(upgrade.status, 'start')) throw new AppError('request_not_active', alreadyStatusRefusal(upgrade.status));
    const state = clickedState(upgrade);
    if (!isComplete(state, rulesOf(upgrade))) {
      throw new AppError('request_not_active', notConfirmedRefusal(restoresDatabase(upgrade.items)));
    }
    // A bot-checked backup item holds Start until a backup newer than `maxAge` exists (read now, not at planning).
    const record = deps.backups && upgrade.kind === 'upgrade' ? await upgrades.byId(upgrade.id) : null;
    const backup = record ? await backupStateFor(record) : null;
    if (backup && backup.freshness.state !== 'fresh') {
      await refreshMessage(upgrade.id);
      throw new AppError('request_not_active', backupStartRefusal(backup.freshness, backup.maxAgeMs, backup.target));
    }
    // The promotion gate is read now too: a run on `from` may have failed, or finished its soak, since planning.
    const gated = deps.promotion && upgrade.kind === 'upgrade' ? record ?? (await upgrades.byId(upgrade.id)) : null;
    const gate = gated ? await promotionDecisionFor(gated) : null;
    if (gate && !gate.allowsStart) {
      await refreshMessage(upgrade.id);
      deps.promotion!.assertAllowsStart(gate);
    }
    // `--at`: the checklist is confirmed now; the upgrade waits for its time.
    if (upgrade.scheduledAt && deps.scheduling) return deps.scheduling.schedule(upgrade.id, userId, upgrade.scheduledAt);
    const queued = await upgrades.apply(upgrade.id, 'start', { startedBy: userId, statusDetail: null });
    if (!queued) throw new AppError('request_not_active', REQUEST_REFUSALS.startedByOther);
    try {
      // The job id is the upgrade id: a second add of the same upgrade is a no-op in BullMQ.
      await deps.queues.upgrades.add(queued.kind, { upgradeId: queued.id, kind: queued.kind, doneStep: null }, { jobId: queued.id, attempts: UPGRADE_JOB_ATTEMPTS });
    } catch (err) {
      await upgrades.apply(upgrade.id, 'unqueue', { statusDetail: NOT_QUEUED_DETAIL });
      await refreshMessage(upgrade.id);
      throw err;
    }
    await refreshMessage(upgrade.id, { queuePosition: await queuePosition(upgrade.id) });
    logger.info({ upgradeId, userId }, 'upgrade queued');
    return queued;
  }

  async function cancel(upgrade: UpgradeRecord, userId: string): Promise<UpgradeRecord> {
    const approvers = await deps.approvers.approvers();
    if (!canCancel({ userId, requester: upgrade.requester, approvers })) {
      throw new AppError('not_authorized', REQUEST_REFUSALS.cancelNeedsRequesterOrApprover);
    }
    if (upgrade.status === 'running') {
      // Waiting for the pin's pull request to be merged is the one running moment that changed nothing yet.
      const cancelled = await upgrades.cancelWhileWaitingForMerge(upgrade.id, cancelledWhileWaitingForMergeDetail(userId));
      if (cancelled) {
        await refreshMessage(upgrade.id);
        return cancelled;
      }
      throw new AppError('request_not_active', REQUEST_REFUSALS.runningCannotCancel);
    }
    const cancelled = await upgrades.apply(upgrade.id, 'cancel', { statusDetail: cancelledDetail(userId) });
    if (!cancelled) throw new AppError('request_not_active', requestIsRefusal(upgrade.status));
    if (upgrade.status === 'scheduled') await deps.scheduling?.cancelled(cancelled, userId);
    if (upgrade.status === 'queued') {
      const job = await deps.queues.upgrades.raw.getJob(upgrade.id);
      await job?.remove().catch((err: unknown) => logger.warn({ err, upgradeId: upgrade.id }, 'queued job could not be removed; the worker will see the cancellation'));
    }
    await refreshMessage(upgrade.id);
    return cancelled;
  }

  /** The promotion override item: one approver's confirmation; two different approvers make it hold. */
  async function overridePromotion(upgradeId: string, userId: string, source: ClickSource): Promise<{ recorded: boolean; approved: boolean }> {
    const upgrade = await loadForClick(() => upgrades.forClick(upgradeId), source);
    if (await expireIfDue(upgrade)) throw new AppError('request_not_active', REQUEST_REFUSALS.expired);
    if (upgrade.status !== 'confirming') throw new AppError('request_not_active', requestIsRefusal(upgrade.status));
    if (!deps.promotion) throw new AppError('request_not_active', REQUEST_REFUSALS.noPromotionGate);
    const { recorded, override } = await deps.promotion.confirmOverride(upgrade, userId);
    if (recorded) {
      logger.info({ upgradeId, userId, approved: override.approved }, 'promotion override confirmed');
      await refreshMessage(upgrade.id);
    }
    return { recorded, approved: override.approved };
  }

  async function cancelByClick(upgradeId: string, userId: string, source: ClickSource) {
    return cancel(await loadForClick(() => upgrades.byId(upgradeId), source), userId);
  }

  /** The Cancel button of a scheduled upgrade's reminder (in its thread) or of its checklist. */
  async function cancelScheduledByClick(upgradeId: string, userId: string, source: ClickSource) {
    let upgrade = await upgrades.byId(upgradeId);
    // As for a checklist (loadForClick): Slack shows the reminder before the bot has recorded its ts.
    for (const waitMs of POSTING_WAITS_MS) {
      if (!upgrade || upgrade.status !== 'scheduled' || upgrade.scheduledReminderTs !== null || source.messageTs === upgrade.messageTs) break;
      await delay(waitMs);
      upgrade = await upgrades.byId(upgradeId);
    }
    if (!upgrade) throw new AppError('not_found', REQUEST_REFUSALS.requestGoneNothingChanged);
    if (upgrade.channelId !== source.channelId || (source.messageTs !== upgrade.scheduledReminderTs && source.messageTs !== upgrade.messageTs)) {
      throw new AppError('stale_action', REQUEST_REFUSALS.buttonOfOtherMessage);
    }
    return cancel(upgrade, userId);
  }

  async function cancelForTarget(targetName: string | undefined, userId: string) {
    const runtime = deps.targets.resolve(targetName);
    const active = await upgrades.activeForTarget(runtime.config.name);
    if (!active) throw new AppError('not_found', nothingPendingRefusal(runtime.config.name));
    return cancel(active, userId);
  }

  /** After a backup of `target`: its checklist waiting for confirmations shows the new backup. */
  async function refreshActive(target: string): Promise<void> {
    const active = await upgrades.activeForTarget(target);
    if (active?.status === 'confirming') await refreshMessage(active.id);
  }

  return { cancelScheduledByClick, overridePromotion, refreshActive, requestUpgrade, requestRollback, autoRollback, confirm, start, cancelByClick, cancelForTarget, refreshMessage, expireIfDue, threadPermalink };
}

export type UpgradeRequests = ReturnType<typeof createUpgradeRequests>;
