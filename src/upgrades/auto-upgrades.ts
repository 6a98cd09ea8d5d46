// Automatic patch upgrades: reads the facts, asks `decideAutoUpgrade`, and acts on the one answer. A decision is a
// delayed BullMQ job whose id is the decision's key, asked again when it fires; the rows in Postgres and a per-target
// advisory lock make every step safe to repeat across restarts and replicas. The upgrade itself is the ordinary job.
import { createHash } from 'node:crypto';
import type { AuditLog } from '../db/audit-log.js';
import type { AutoUpgradeFacts, AutoUpgradeStore, ScheduledRow } from '../db/auto-upgrade-store.js';
import { withAdvisoryLock } from '../db/checked-out-client.js';
import type { Pool } from '../db/pool.js';
import type { ReleaseStore } from '../db/release-store.js';
import type { UpgradeRecord, UpgradeStore } from '../db/upgrade-store.js';
import { decideAutoUpgrade, type AutoUpgradeDecision, type AutoUpgradePlan, type AutoUpgradeStatus } from '../domain/auto-upgrade.js';
import { releaseOutlook, type TargetOutlook } from '../domain/release-outlook.js';
import { planUpgrade } from '../domain/upgrade-plan.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queue.js';
import type { ApproverResolver } from '../slack/approvers.js';
import type { AutoUpgradePoster, NoticeOutcome } from '../slack/auto-upgrade-poster.js';
import { AUTO_UPGRADE_REFUSALS, cancelledReply, nothingToResumeRefusal, resumedReply, startedAlreadyRefusal } from '../slack/auto-upgrade-words.js';
import type { Metrics } from '../metrics.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';

/** The requester and starter recorded for an upgrade the bot started by itself (history, audit log, change-cause). */
export const AUTO_UPGRADE_ACTOR = 'checkstack-chatops';

const JOB_OPTIONS = { attempts: 5, backoff: { type: 'exponential' as const, delay: 2_000 }, removeOnComplete: true };

export interface AutoUpgradeDeps {
  store: AutoUpgradeStore;
  upgrades: UpgradeStore;
  releases: Pick<ReleaseStore, 'all'>;
  targets: TargetRegistry;
  approvers: ApproverResolver;
  /** The notices and thread replies in Slack. */
  poster: AutoUpgradePoster;
  queues: Pick<Queues, 'autoUpgrades' | 'upgrades'>;
  audit: Pick<AuditLog, 'record'>;
  pool: Pool;
  logger: Logger;
  now(): Date;
  requestTtlMs: number;
  /** Where a target's notice goes: its `channel`, else the first announce channel; null when there is none. */
  noticeChannel(target: string): Promise<string | null>;
  /** Renders an upgrade's parent message from the database (the notice becomes the upgrade's message). */
  refreshMessage(upgradeId: string): Promise<void>;
  metrics?: Pick<Metrics, 'autoUpgrades'>;
}

export type AutoUpgradeEvent = 'scheduled' | 'started' | 'dropped' | 'cancelled' | 'paused' | 'resumed';

/** The upgrade an automatic plan starts has an id made from its key, so a start repeated after a crash finds it. */
export function upgradeIdForKey(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `auto@<target>@<version>@<eligibleAt>` → the target; target names cannot contain `@`. */
function targetOfKey(key: string): string | null {
  const parts = key.split('@');
  return parts.length === 4 && parts[0] === 'auto' ? parts[1]! : null;
}

export function createAutoUpgrades(deps: AutoUpgradeDeps) {
  const { store, upgrades, poster, logger } = deps;
  const count = (target: string, event: AutoUpgradeEvent) => deps.metrics?.autoUpgrades.inc({ target, event });

  const autoTargets = (): TargetRuntime[] => deps.targets.all().filter((t) => t.config.autoUpgrade?.patches);

  /** What each target runs, read from its platform (the tag of the running image); null when it cannot be read. */
  async function runningVersions(runtimes: readonly TargetRuntime[]): Promise<Map<string, string | null>> {
    const read = await Promise.all(
      runtimes.map(async (runtime) => {
        try {
          return [runtime.config.name, (await runtime.deployer.describe()).tag] as const;
        } catch (err) {
          logger.info({ err, target: runtime.config.name }, 'automatic upgrades: cannot read what the target runs');
          return [runtime.config.name, null] as const;
        }
      }),
    );
    return new Map(read);
  }

  async function readFacts(runtimes: readonly TargetRuntime[]): Promise<AutoUpgradeFacts> {
    const names = runtimes.map((t) => t.config.name);
    const evidenceTargets = [...new Set(runtimes.flatMap((t) => (t.config.promotion ? [t.config.promotion.from] : [])))];
    return store.facts(names, evidenceTargets);
  }

  function decide(runtime: TargetRuntime, facts: AutoUpgradeFacts, running: string | null, now: Date): AutoUpgradeDecision {
    const name = runtime.config.name;
    return decideAutoUpgrade({
      target: name,
      policy: runtime.config.autoUpgrade ?? null,
      promotion: runtime.config.promotion ?? null,
      running,
      paused: facts.pauses.get(name) ?? null,
      releases: facts.releases,
      evidence: facts.evidence,
      declined: facts.declined.get(name) ?? [],
      busy: facts.busy.get(name) ?? null,
      scheduled: facts.scheduled.get(name) ?? null,
      now,
    });
  }

  async function addRecheck(target: string, at: Date, now: Date): Promise<void> {
    await deps.queues.autoUpgrades.add('decide', { target, reason: 'recheck' }, { ...JOB_OPTIONS, jobId: `decide@${target}@${at.getTime()}`, delay: Math.max(0, at.getTime() - now.getTime()) });
  }

  async function addPhase(plan: Pick<AutoUpgradePlan, 'target' | 'key'>, jobId: string, at: Date, now: Date): Promise<void> {
    await deps.queues.autoUpgrades.add('phase', { target: plan.target, key: plan.key }, { ...JOB_OPTIONS, jobId, delay: Math.max(0, at.getTime() - now.getTime()) });
  }

  async function editNotice(row: Pick<ScheduledRow, 'channelId' | 'noticeTs'>, outcome: NoticeOutcome): Promise<void> {
    if (!row.channelId || !row.noticeTs) return;
    await poster
      .noticeOutcome(row.channelId, row.noticeTs, outcome)
      .catch((err: unknown) => logger.warn({ err, channel: row.channelId }, 'could not update an automatic upgrade notice'));
  }

  /**
   * The decision for one target, made and acted on under the target's lock: the only place that writes. `event`
   * names what asked (a fired job, an upgrade that ended, a poll).
   */
  async function decideTarget(target: string, event: string): Promise<AutoUpgradeDecision['action'] | 'skipped'> {
    const runtime = deps.targets.all().find((t) => t.config.name === target);
    if (!runtime) return 'skipped';
    const result = await withAdvisoryLock(
      deps.pool,
      { space: 'auto-upgrade', id: target },
      { wait: true, onLost: (err) => logger.warn({ target, err: { message: err.message } }, 'automatic upgrade lock connection lost') },
      async () => {
        const [facts, running] = await Promise.all([readFacts([runtime]), runningVersions([runtime])]);
        const now = deps.now();
        const decision = decide(runtime, facts, running.get(target) ?? null, now);
        await act(runtime, decision, facts.scheduled.get(target) ?? null, now, event);
        return decision.action;
      },
    );
    return result.locked ? result.value : 'skipped';
  }

  async function act(runtime: TargetRuntime, decision: AutoUpgradeDecision, row: ScheduledRow | null, now: Date, event: string): Promise<void> {
    const target = runtime.config.name;
    // A start that a crash interrupted: the target is busy with the very upgrade this plan created. Finish it.
    if (decision.action === 'cancel' && decision.hold.reason === 'busy' && row && decision.hold.busy.upgradeId === upgradeIdForKey(row.key)) {
      await finishStart(runtime, row);
      return;
    }
    switch (decision.action) {
      case 'none':
        if (decision.recheckAt) await addRecheck(target, decision.recheckAt, now);
        return;
      case 'wait':
        await addPhase(decision.plan, `${decision.plan.key}@wake@${decision.wakeAt.getTime()}`, decision.wakeAt, now);
        return;
      case 'schedule': {
        const { plan, replaces } = decision;
        const channelId = await deps.noticeChannel(target);
        await store.schedule({ target, key: plan.key, from: plan.from, version: plan.version, noticeAt: plan.noticeAt, startAt: plan.startAt, channelId });
        if (replaces && row) await editNotice(row, replaces.key !== plan.key ? { kind: 'replaced', target, version: replaces.version, by: plan.version } : { kind: 'moved', target, version: plan.version });
        // The first plan's job id is its key; a plan moved under the same key gets the new time in its id.
        await addPhase(plan, replaces?.key === plan.key ? `${plan.key}@notice@${plan.noticeAt.getTime()}` : plan.key, plan.noticeAt, now);
        logger.info({ target, key: plan.key, from: plan.from, version: plan.version, noticeAt: plan.noticeAt, startAt: plan.startAt, skipping: plan.skipping, event }, 'automatic upgrade scheduled');
        count(target, 'scheduled');
        return;
      }
      case 'notify':
        await notify(runtime, decision.plan, row, now);
        return;
      case 'start':
        if (row) await startUpgrade(runtime, decision.plan, row);
        return;
      case 'cancel': {
        const dropped = await store.unschedule(target, decision.scheduled.key);
        // Once started, the notice is the upgrade's own message: it is not the plan's to change.
        if (dropped && !(await upgrades.byId(upgradeIdForKey(dropped.key)))) await editNotice(dropped, { kind: 'dropped', target, version: dropped.version, hold: decision.hold });
        logger.info({ target, key: decision.scheduled.key, hold: decision.hold.reason, event }, 'automatic upgrade dropped');
        if (dropped) count(target, 'dropped');
        if (decision.recheckAt) await addRecheck(target, decision.recheckAt, now);
        return;
      }
    }
  }

  async function notify(runtime: TargetRuntime, plan: AutoUpgradePlan, row: ScheduledRow | null, now: Date): Promise<void> {
    const target = runtime.config.name;
    // Claimed before posting: a bot that dies while posting does not post a second notice when the job runs again.
    if (!(await store.claimNotice(target, plan.key, plan.startAt, now))) return;
    const channelId = row?.channelId ?? (await deps.noticeChannel(target));
    if (channelId) {
      const facts = {
        target,
        from: plan.from,
        version: plan.version,
        startAt: plan.startAt,
        noticeMs: runtime.config.autoUpgrade!.noticeMs,
        skipping: plan.skipping,
        key: plan.key,
        window: runtime.config.autoUpgrade!.window,
      };
      try {
        const ts = await poster.notice(channelId, facts);
        await store.recordNotice(target, plan.key, channelId, ts);
      } catch (err) {
        // The upgrade still waits out the notice; without a message nobody can press Cancel, so the log says so.
        logger.error({ err, target, key: plan.key, channelId }, 'automatic upgrade notice could not be posted');
      }
    } else {
      logger.warn({ target, key: plan.key }, 'automatic upgrade notice has no channel: set the target `channel` or an announce channel');
    }
    await addPhase(plan, `${plan.key}@start@${plan.startAt.getTime()}`, plan.startAt, now);
    logger.info({ target, key: plan.key, version: plan.version, startAt: plan.startAt }, 'automatic upgrade notice posted');
  }

  /** Creates the upgrade record (the bot as requester), queues the ordinary job, and drops the plan. */
  async function startUpgrade(runtime: TargetRuntime, plan: AutoUpgradePlan, row: ScheduledRow): Promise<void> {
    const target = runtime.config.name;
    const id = upgradeIdForKey(plan.key);
    if (!(await upgrades.byId(id))) {
      const [instance, about, releases] = await Promise.all([
        runtime.deployer.describe(),
        runtime.checkstack.about().catch(() => null),
        deps.releases.all(),
      ]);
      const current = { apiVersion: about?.releaseVersion ?? null, imageTag: instance.tag, reachable: true };
      const summaries = releases.filter((r) => !r.draft && !r.deletedAt).map((r) => r.summary);
      const upgradePlan = planUpgrade({ current, target: plan.version, releases: summaries, allowPrerelease: false });
      const created = await upgrades.create({
        id,
        kind: 'upgrade',
        target,
        fromVersion: upgradePlan.from,
        toVersion: upgradePlan.to,
        requester: AUTO_UPGRADE_ACTOR,
        channelId: row.channelId ?? (await deps.noticeChannel(target)) ?? 'none',
        teamDomain: null,
        plan: upgradePlan,
        items: [],
        automatic: [],
        instanceId: instance.id,
        imageTag: instance.tag,
        apiVersion: current.apiVersion,
        keyFingerprint: instance.encryptionKeyFingerprint,
        previousImage: instance.image,
        expiresAt: new Date(deps.now().getTime() + deps.requestTtlMs),
      });
      if (!created) {
        // Someone asked for an upgrade of the target in the meantime: theirs goes first; the next decision sees it.
        logger.info({ target, key: plan.key }, 'automatic upgrade not started: the target has another request');
        return;
      }
      await deps.audit.record({
        userId: AUTO_UPGRADE_ACTOR,
        channelId: created.channelId,
        kind: 'job',
        action: 'auto_upgrade',
        detail: { target, from: created.fromVersion, to: created.toVersion, key: plan.key, skipping: plan.skipping },
        outcome: 'ok',
        upgradeId: id,
      });
    }
    await finishStart(runtime, row);
  }

  /** The part of a start that is safe to repeat: the message, `start`, the job, dropping the plan. */
  async function finishStart(runtime: TargetRuntime, row: ScheduledRow): Promise<void> {
    const id = upgradeIdForKey(row.key);
    let upgrade = await upgrades.byId(id);
    if (!upgrade) return;
    if (!upgrade.messageTs && row.noticeTs && row.channelId === upgrade.channelId) {
      await upgrades.setMessage(id, row.noticeTs);
      upgrade = { ...upgrade, messageTs: row.noticeTs };
    }
    if (upgrade.status === 'confirming') {
      const queued = await upgrades.apply(id, 'start', { startedBy: AUTO_UPGRADE_ACTOR, statusDetail: 'automatic patch upgrade' });
      if (queued) upgrade = queued;
    }
    if (upgrade.status === 'queued' || upgrade.status === 'running') {
      await deps.queues.upgrades.add('upgrade', { upgradeId: id, kind: 'upgrade', doneStep: null }, { jobId: id, attempts: 3 });
    }
    await store.unschedule(runtime.config.name, row.key);
    if (!upgrade.messageTs) await postParent(upgrade);
    await deps.refreshMessage(id).catch((err: unknown) => logger.warn({ err, upgradeId: id }, 'could not render the automatic upgrade message'));
    logger.info({ target: runtime.config.name, upgradeId: id, version: upgrade.toVersion, key: row.key }, 'automatic upgrade started');
    count(runtime.config.name, 'started');
  }

  /** Without a notice message (Slack refused it), the upgrade gets a parent message of its own for its thread. */
  async function postParent(upgrade: UpgradeRecord): Promise<void> {
    if (upgrade.channelId === 'none') return;
    try {
      const ts = await poster.parent(upgrade.channelId, { target: upgrade.target, version: upgrade.toVersion });
      await upgrades.setMessage(upgrade.id, ts);
    } catch (err) {
      logger.warn({ err, upgradeId: upgrade.id }, 'could not post the automatic upgrade message');
    }
  }

  /**
   * The last decision of each target in `decideAll`, with the facts it was made from. The decision is a pure function
   * of those facts and the time, and it can only change with the time at its `recheckAt` or `wakeAt`: until then, a
   * poll in which nothing changed reuses it instead of deciding again.
   */
  const lastDecisions = new Map<string, { fingerprint: string; decision: AutoUpgradeDecision; validUntil: number }>();

  function factsFingerprint(facts: AutoUpgradeFacts): string {
    const shared = { r: facts.releases, e: facts.evidence, p: [...facts.pauses], d: [...facts.declined], b: [...facts.busy], s: [...facts.scheduled] };
    return createHash('sha1').update(JSON.stringify(shared)).digest('hex');
  }

  /**
   * Every target with automatic patches, as a release poll or webhook asks: decided from one read of the facts;
   * only a decision that changes something takes the target's lock and decides again there. The delayed jobs that
   * carry the decisions are (re)added in one round trip: a job that exists already is left as it is.
   */
  async function decideAll(event: string): Promise<Record<string, AutoUpgradeDecision['action']>> {
    const runtimes = autoTargets();
    if (runtimes.length === 0) return {};
    const [facts, running] = await Promise.all([readFacts(runtimes), runningVersions(runtimes)]);
    const now = deps.now();
    const shared = factsFingerprint(facts);
    const actions: Record<string, AutoUpgradeDecision['action']> = {};
    const jobs: Array<{ name: 'decide' | 'phase'; data: { target: string; reason: string } | { target: string; key: string }; opts: Record<string, unknown> }> = [];
    const toAct: string[] = [];
    for (const runtime of runtimes) {
      const name = runtime.config.name;
      const fingerprint = `${shared}@${running.get(name) ?? ''}`;
      const cached = lastDecisions.get(name);
      if (cached && cached.fingerprint === fingerprint && now.getTime() < cached.validUntil) {
        // Its jobs were added when it was made; should Redis have lost them, the next poll past `validUntil` decides anew.
        actions[name] = cached.decision.action;
        continue;
      }
      const decision = decide(runtime, facts, running.get(name) ?? null, now);
      actions[name] = decision.action;
      if (decision.action === 'none') {
        lastDecisions.set(name, { fingerprint, decision, validUntil: decision.recheckAt?.getTime() ?? Infinity });
        if (decision.recheckAt) {
          jobs.push({ name: 'decide', data: { target: name, reason: 'recheck' }, opts: { ...JOB_OPTIONS, jobId: `decide@${name}@${decision.recheckAt.getTime()}`, delay: Math.max(0, decision.recheckAt.getTime() - now.getTime()) } });
        }
      } else if (decision.action === 'wait') {
        lastDecisions.set(name, { fingerprint, decision, validUntil: decision.wakeAt.getTime() });
        jobs.push({ name: 'phase', data: { target: name, key: decision.plan.key }, opts: { ...JOB_OPTIONS, jobId: `${decision.plan.key}@wake@${decision.wakeAt.getTime()}`, delay: Math.max(0, decision.wakeAt.getTime() - now.getTime()) } });
      } else {
        lastDecisions.delete(name);
        toAct.push(name);
      }
    }
    if (jobs.length > 0) await deps.queues.autoUpgrades.raw.addBulk(jobs);
    for (const name of toAct) await decideTarget(name, event);
    return actions;
  }

  /** After an upgrade or rollback ended: a failed automatic one pauses its target; the target and its later stages decide again. */
  async function upgradeEnded(upgradeId: string): Promise<void> {
    const upgrade = await upgrades.byId(upgradeId);
    if (!upgrade) return;
    const runtime = deps.targets.all().find((t) => t.config.name === upgrade.target);
    // The pause itself is read from the failed upgrade (see the store): this only tells people, once.
    if (upgrade.kind === 'upgrade' && upgrade.requester === AUTO_UPGRADE_ACTOR && upgrade.outcome === 'failed' && runtime?.config.autoUpgrade) {
      await deps.audit.record({ userId: AUTO_UPGRADE_ACTOR, channelId: upgrade.channelId, kind: 'job', action: 'auto_upgrade_paused', detail: { target: upgrade.target, version: upgrade.toVersion }, outcome: 'ok', upgradeId: upgrade.id });
      logger.warn({ target: upgrade.target, upgradeId, version: upgrade.toVersion }, 'automatic upgrades paused after a failed automatic upgrade');
      count(upgrade.target, 'paused');
      if (upgrade.messageTs) {
        await poster
          .paused({ channelId: upgrade.channelId, messageTs: upgrade.messageTs }, { target: upgrade.target, version: upgrade.toVersion })
          .catch((err: unknown) => logger.warn({ err, upgradeId }, 'could not say in the thread that automatic upgrades are paused'));
      }
    }
    const next = autoTargets()
      .filter((t) => t.config.name === upgrade.target || t.config.promotion?.from === upgrade.target)
      .map((t) => t.config.name);
    for (const target of next) {
      await deps.queues.autoUpgrades.add('decide', { target, reason: `${upgrade.kind} ${upgrade.status} on ${upgrade.target}` }, { ...JOB_OPTIONS, jobId: `decide@${target}@after@${upgradeId}@${upgrade.status}` });
    }
  }

  /** `/checkstack resume <target>` (approvers): lifts the pause and decides again. */
  async function resume(targetName: string | undefined, userId: string): Promise<{ target: string; text: string; resumed: boolean }> {
    const runtime = deps.targets.resolve(targetName);
    const target = runtime.config.name;
    if (!(await deps.approvers.approvers()).has(userId)) {
      throw new AppError('not_authorized', AUTO_UPGRADE_REFUSALS.resumeNeedsApprover);
    }
    if (!runtime.config.autoUpgrade?.patches) {
      throw new AppError('invalid_input', nothingToResumeRefusal(target));
    }
    const lifted = await store.resume(target, userId);
    if (lifted) await deps.queues.autoUpgrades.add('decide', { target, reason: `resumed by ${userId}` }, { ...JOB_OPTIONS, jobId: `decide@${target}@resume@${deps.now().getTime()}` });
    logger.info({ target, userId, wasPaused: lifted !== null }, 'automatic upgrades resumed');
    if (lifted) count(target, 'resumed');
    return { target, text: resumedReply(target, lifted), resumed: lifted !== null };
  }

  /** **Cancel** on a notice (approvers): the plan is dropped and its version remembered as declined. */
  async function cancelNotice(key: string, userId: string, source: { channelId: string; messageTs: string }): Promise<{ target: string; version: string; text: string }> {
    const target = targetOfKey(key);
    if (target === null || !deps.targets.names().includes(target)) throw new AppError('stale_action', AUTO_UPGRADE_REFUSALS.buttonNamesNoUpgrade);
    if (!(await deps.approvers.approvers()).has(userId)) throw new AppError('not_authorized', AUTO_UPGRADE_REFUSALS.cancelNeedsApprover);
    const result = await withAdvisoryLock(deps.pool, { space: 'auto-upgrade', id: target }, { wait: true }, async () => {
      const row = await store.scheduledFor(target);
      if (!row || row.key !== key) {
        const started = await upgrades.byId(upgradeIdForKey(key));
        if (started) {
          throw new AppError('request_not_active', startedAlreadyRefusal(target));
        }
        throw new AppError('request_not_active', AUTO_UPGRADE_REFUSALS.noLongerScheduled);
      }
      if (row.channelId !== source.channelId || row.noticeTs !== source.messageTs) throw new AppError('stale_action', AUTO_UPGRADE_REFUSALS.buttonOfOtherMessage);
      await store.decline(target, row.version, userId);
      await store.unschedule(target, key);
      await editNotice(row, { kind: 'cancelled', target, version: row.version, by: userId });
      return row;
    });
    if (!result.locked) throw new AppError('request_not_active', AUTO_UPGRADE_REFUSALS.busy);
    logger.info({ target, key, userId, version: result.value.version }, 'automatic upgrade cancelled');
    count(target, 'cancelled');
    return { target, version: result.value.version, text: cancelledReply(target, result.value.version) };
  }

  /** For a release announcement: what happens on each target (facts; `src/slack/` words them). */
  async function outlook(release: { version: string; prerelease: boolean; publishedAt: Date | null }): Promise<TargetOutlook[]> {
    const runtimes = deps.targets.all();
    if (!runtimes.some((t) => t.config.autoUpgrade || t.config.promotion)) return [];
    const [facts, running] = await Promise.all([readFacts(runtimes), runningVersions(runtimes)]);
    return releaseOutlook({
      release: { version: release.version, prerelease: release.prerelease, publishedAt: release.publishedAt ?? deps.now() },
      targets: runtimes.map((t) => ({
        name: t.config.name,
        autoUpgrade: t.config.autoUpgrade ?? null,
        promotion: t.config.promotion ?? null,
        running: running.get(t.config.name) ?? null,
        paused: facts.pauses.get(t.config.name) ?? null,
      })),
      evidence: facts.evidence,
      now: deps.now(),
    });
  }

  /** For `/checkstack status`: the planned automatic upgrade and the pause of a target with automatic patches; null otherwise. */
  async function statusOf(target: string): Promise<AutoUpgradeStatus | null> {
    const runtime = deps.targets.all().find((t) => t.config.name === target);
    if (!runtime?.config.autoUpgrade?.patches) return null;
    const [planned, paused] = await Promise.all([store.scheduledFor(target), store.pauseOf(target)]);
    return {
      planned: planned ? { version: planned.version, noticeAt: planned.noticeAt, startAt: planned.startAt, noticePosted: planned.noticePostedAt !== null } : null,
      paused: paused ? { version: paused.version, since: paused.since } : null,
      window: runtime.config.autoUpgrade.window ?? null,
    };
  }

  return { decideAll, decideTarget, upgradeEnded, resume, cancelNotice, outlook, statusOf };
}

export type AutoUpgrades = ReturnType<typeof createAutoUpgrades>;
