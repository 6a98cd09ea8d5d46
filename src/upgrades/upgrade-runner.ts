// The steps of an approved upgrade or rollback, each announced in the upgrade's thread with its duration,
// recorded in Postgres, and safe to run twice: a restarted worker resumes after the last finished step.
import type { KnownBlock } from '@slack/types';
import { isReadyUnknown } from '../checkstack/client.js';
import { runPostflightChecks } from '../checkstack/postflight-runner.js';
import { waitForReady } from '../checkstack/wait-for-ready.js';
import type { PinRecord, StepRecord, UpgradeRecord, UpgradeStore } from '../db/upgrade-store.js';
import { allows, isComplete } from '../domain/checklist.js';
import type { PostflightVerdict } from '../domain/postflight.js';
import { AppError, isAppError, newReferenceId } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ApproverResolver } from '../slack/approvers.js';
import { failedRollbackDetail, failedRollbackText, restoredStepDetail, restoreProgress, type RunningNow } from '../slack/rollback-outcome.js';
import { restoreLive, type RestoreLiveInput } from '../backup/restore-live.js';
import { restoresDatabase } from '../domain/checklist.js';
import { basename } from 'node:path';
import type { AuditEntry } from '../db/audit-log.js';
import { ACTION_IDS } from '../slack/action-ids.js';
import type { ThreadReporter } from '../slack/thread-reporter.js';
import { abandonedText, failureMessage, stepFailedText, stepRetryingText, successText, unexpectedReason, type ThreadText } from '../slack/upgrade-thread.js';
import type { PullProgress } from '../targets/deployer.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';
import type { BackupService } from '../backup/backup-service.js';
import { backupStepDetail, backupStepProgress } from '../slack/backup-words.js';
import { instanceChangedText, pulledByPlatformDetail, recreateStepDetail, rolledBackDetail } from '../slack/deployer-words.js';
import type { PinRecorder } from '../pin/pin-recorder.js';
import { exactPreviousImage } from '../domain/adoption.js';
import { postflightDetail, postflightFailedReason, postflightResultText } from '../slack/postflight-words.js';
import { notReadyNowText, readinessProgressText, readinessUnknownDetail, readyDetail } from '../slack/readiness-words.js';
import {
  APPROVALS_NO_LONGER_HOLD,
  durationText,
  failedStatusDetail,
  gitRecordWaitingText,
  gitRevertDetail,
  isStepName,
  NO_BACKUP_DETAIL,
  NO_PIN_DETAIL,
  pinRecordDetail,
  pinRevertCleanup,
  pullDetail,
  pullProgressText,
  pullRequestOpenedText,
  recheckDetail,
  recheckDriftText,
  restoreRefusalText,
  resumeText,
  rolledBackStatusDetail,
  rollingBackStatusDetail,
  STEP_TITLES,
  stepCancelledText,
  stepFinishedText,
  stepProgressText,
  stepShutdownText,
  stepStartedText,
  stepWasInterruptedText,
  succeededStatusDetail,
} from '../slack/step-words.js';
import { AUTO_ROLLBACK_ACTOR } from './upgrade-requests.js';

// Backup comes after Pull: nothing has stopped yet, and data written while a large image downloads is in the dump.
export const UPGRADE_STEPS = ['recheck', 'git_record', 'pull', 'backup', 'recreate', 'readiness', 'postflight'] as const;
export const ROLLBACK_STEPS = ['recheck', 'rollback', 'git_revert', 'readiness', 'postflight'] as const;
export type StepName = (typeof UPGRADE_STEPS)[number] | (typeof ROLLBACK_STEPS)[number];

export const ROLLBACK_ACTION = ACTION_IDS.rollback;

export interface RunnerDeps {
  upgrades: UpgradeStore;
  targets: TargetRegistry;
  approvers: ApproverResolver;
  pins: PinRecorder;
  reporter: ThreadReporter;
  refreshMessage(upgradeId: string): Promise<void>;
  /** After a successful upgrade: the log watch and the retention of the kept container. */
  scheduleFollowUps(upgrade: UpgradeRecord, readyAt: Date): Promise<void>;
  /** `postflight.autoRollback`: requests the rollback of a failed upgrade on the bot's own authority. */
  autoRollback(upgrade: UpgradeRecord, reason: string): Promise<void>;
  logger: Logger;
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  requireSecondPerson: boolean;
  metrics?: Pick<Metrics, 'upgrades' | 'stepDuration'>;
  /** Takes the Backup step's dump for targets with `backup`. */
  backups?: Pick<BackupService, 'backup'>;
  /** The pg_restore of Restore and roll back; `pg_restore` on the PATH by default. */
  pgRestore?: string;
  /** Writes a line of the audit log: Restore and roll back restoring the live database, done or failed. */
  audit?: (entry: AuditEntry) => Promise<void>;
}

/** A step failure: the upgrade ends failed at this step with this reason. */
export class StepFailure extends Error {
  constructor(
    readonly step: StepName,
    readonly reason: string,
    readonly offerRollback: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${reason}`, options);
  }
}

interface StepContext {
  upgrade: UpgradeRecord;
  runtime: TargetRuntime;
  /** Posts into the step's own thread message (replaced in place, coalesced). */
  progress(text: string): Promise<void>;
  signal: AbortSignal;
  /** The replies this step posted in an earlier run (a crash), by key, to update in place instead of posting again. */
  earlierReplies: Record<string, string>;
}

/** An instance id as the thread shows it: each part of a Kubernetes `<uid>/<pod-template-hash>` cut like Docker's 12-character ids. */
function shortId(id: string): string {
  return id
    .split('/')
    .map((part) => part.slice(0, 12))
    .join('/');
}

export function imageRef(upgrade: Pick<UpgradeRecord, 'toVersion'>, runtime: TargetRuntime): string {
  return `${runtime.config.image}:${upgrade.toVersion}`;
}

export function createUpgradeRunner(deps: RunnerDeps) {
  const { upgrades, reporter, logger } = deps;

  async function post(upgrade: UpgradeRecord, text: string, blocks?: KnownBlock[]): Promise<string> {
    return reporter.post(upgrade.channelId, await threadOf(upgrade), { text, ...(blocks ? { blocks } : {}) });
  }

  /**
   * The thread an upgrade reports in: its own message's, or, for an automatic rollback whose checklist Slack did not
   * take, the thread of the upgrade it rolls back (the rollback went ahead all the same).
   */
  async function threadOf(upgrade: UpgradeRecord): Promise<string> {
    if (upgrade.messageTs) return upgrade.messageTs;
    const original = upgrade.rollbackOf ? await upgrades.byId(upgrade.rollbackOf) : null;
    if (original?.messageTs) return original.messageTs;
    throw new AppError('slack_unavailable', `upgrade ${upgrade.id} has no message to report in`);
  }

  /**
   * Posts an outcome the database already holds. When Slack refuses the message (or stays away past the client's
   * retries), the short form goes out instead; when that fails too, the log says so. Never throws.
   */
  async function postOutcome(upgrade: UpgradeRecord, full: ThreadText, short: ThreadText = full): Promise<void> {
    try {
      await post(upgrade, full.text, full.blocks);
      return;
    } catch (err) {
      if (short === full) {
        logger.error({ err, upgradeId: upgrade.id }, 'could not post the outcome in the thread');
        return;
      }
      logger.warn({ err, upgradeId: upgrade.id }, 'the outcome was not accepted by Slack; posting its short form');
    }
    try {
      await post(upgrade, short.text, short.blocks);
    } catch (err) {
      logger.error({ err, upgradeId: upgrade.id }, 'could not post the outcome in the thread');
    }
  }

  /** The parent message shows what the database holds, whatever became of the replies. Never throws. */
  async function refreshFromDatabase(upgradeId: string): Promise<void> {
    await deps.refreshMessage(upgradeId).catch((err: unknown) => logger.error({ err, upgradeId }, 'could not refresh the parent message'));
  }

  async function approvalsStillValid(upgrade: UpgradeRecord): Promise<void> {
    if (upgrade.kind === 'rollback' && upgrade.startedBy === AUTO_ROLLBACK_ACTOR) return;
    // An automatic patch upgrade has no checklist: its policy (`autoUpgrade`) and the notice stand in for approvals.
    if (upgrade.kind === 'upgrade' && upgrade.requester === AUTO_ROLLBACK_ACTOR && upgrade.startedBy === AUTO_ROLLBACK_ACTOR) return;
    const approvers = await deps.approvers.approvers();
    const confirmations = (await upgrades.confirmations(upgrade.id)).filter((c) => approvers.has(c.userId));
    const state = { items: upgrade.items.map((i) => i.id), confirmations };
    if (!isComplete(state, { requester: upgrade.requester, requireSecondPerson: deps.requireSecondPerson })) {
      throw new AppError('not_authorized', APPROVALS_NO_LONGER_HOLD);
    }
  }

  /** The target is still what the plan saw: same version, same container, ready; the approvals still hold. */
  async function recheck({ upgrade, runtime }: StepContext): Promise<string> {
    await approvalsStillValid(upgrade);
    const instance = await runtime.deployer.describe();
    const expectedTag = upgrade.kind === 'upgrade' ? upgrade.imageTag : upgrade.fromVersion;
    if (expectedTag && instance.tag !== expectedTag) {
      throw new AppError('target_drifted', recheckDriftText({ kind: 'tag', running: instance.tag ?? instance.image, planned: expectedTag }));
    }
    if (upgrade.kind === 'upgrade' && upgrade.instanceId && instance.id !== upgrade.instanceId) {
      throw new AppError('target_drifted', instanceChangedText(runtime.deployer.nouns, shortId(upgrade.instanceId), shortId(instance.id)));
    }
    if (upgrade.kind === 'upgrade' && !instance.running) throw new AppError('target_drifted', recheckDriftText({ kind: 'not_running', name: instance.name }));
    const about = await runtime.checkstack.about().catch(() => null);
    if (upgrade.kind === 'upgrade' && upgrade.apiVersion && about && about.releaseVersion !== upgrade.apiVersion) {
      throw new AppError('target_drifted', recheckDriftText({ kind: 'about', reported: about.releaseVersion, planned: upgrade.apiVersion }));
    }
    if (upgrade.kind === 'upgrade') {
      const ready = await runtime.checkstack.ready().catch((err: unknown) => {
        throw new AppError('checkstack_unreachable', isAppError(err) ? err.message : 'the target did not answer');
      });
      if (!isReadyUnknown(ready) && !ready.ready) throw new AppError('checkstack_api_error', notReadyNowText(ready));
    }
    await upgrades.recordJobFacts(upgrade.id, {
      previousImage: upgrade.kind === 'upgrade' ? exactPreviousImage(instance.image, runtime.config.image, upgrade.fromVersion) : upgrade.previousImage ?? instance.image,
      ...(about ? { pluginsBefore: about.plugins.map((p) => ({ name: p.name, version: p.version })) } : {}),
    });
    return recheckDetail(instance, about ? about.releaseVersion : null);
  }

  async function approversOf(upgrade: UpgradeRecord): Promise<string[]> {
    return [...new Set((await upgrades.confirmations(upgrade.id)).map((c) => c.userId))];
  }

  /** Who asked and who approved, for `kubernetes.io/change-cause` (what `kubectl rollout history` shows). */
  async function changeCause(upgrade: UpgradeRecord): Promise<string> {
    const what = upgrade.kind === 'upgrade' ? `upgrade to ${upgrade.toVersion}` : `roll back ${upgrade.fromVersion} to ${upgrade.toVersion}`;
    const approvers = await approversOf(upgrade);
    return `checkstack-chatops: ${what} (${upgrade.id}), requested by Slack user ${upgrade.requester}; approved by ${approvers.join(', ') || 'nobody'}`;
  }

  async function pinChange(upgrade: UpgradeRecord, runtime: TargetRuntime) {
    return {
      target: runtime.config,
      fromVersion: upgrade.fromVersion,
      toVersion: upgrade.toVersion,
      upgradeId: upgrade.id,
      requester: upgrade.requester,
      approvers: await approversOf(upgrade),
    };
  }

  async function gitRecord({ upgrade, runtime, progress, signal }: StepContext): Promise<string> {
    if (!runtime.config.pin) return NO_PIN_DETAIL;
    const open = upgrade.pinRecord?.kind === 'pull_request' && !upgrade.pinRecord.merged ? upgrade.pinRecord : null;
    // A restarted job reuses the pull request it opened before: its link is further up the thread.
    if (open) void progress(gitRecordWaitingText(open));
    try {
      const record = await deps.pins.record(await pinChange(upgrade, runtime), {
        existing: upgrade.pinRecord,
        signal,
        onPullRequest: async (pullRequest) => {
          await upgrades.recordJobFacts(upgrade.id, { pinRecord: pullRequest });
          await post(upgrade, pullRequestOpenedText(pullRequest.url));
        },
        isCancelled: async () => (await upgrades.byId(upgrade.id))?.status === 'cancelled',
      });
      if (record) await upgrades.recordJobFacts(upgrade.id, { pinRecord: record });
      return pinRecordDetail(record);
    } catch (err) {
      const partial = isAppError(err) ? (err.details.pinRecord as PinRecord | undefined) : undefined;
      if (partial) await upgrades.recordJobFacts(upgrade.id, { pinRecord: partial });
      throw err;
    }
  }

  async function pull({ upgrade, runtime, progress, signal }: StepContext): Promise<string> {
    const image = imageRef(upgrade, runtime);
    let last: PullProgress | null = null;
    await runtime.deployer.pull(
      image,
      (p) => {
        last = p;
        void progress(pullProgressText(image, p));
      },
      signal,
    );
    const done = last as PullProgress | null;
    if (!runtime.deployer.pullsImage) return pulledByPlatformDetail(image);
    return pullDetail(image, done);
  }

  /**
   * A fresh dump of the database as the version being left wrote it, before anything stops. A failure (AppError
   * `backup_failed`) fails the upgrade with the old container untouched; a crash mid-dump leaves nothing that counts,
   * and the restarted job runs this step again.
   */
  async function backup({ upgrade, runtime, progress, signal }: StepContext): Promise<string> {
    if (!runtime.config.backup || !deps.backups) return NO_BACKUP_DETAIL;
    const outcome = await deps.backups.backup(upgrade.target, { version: upgrade.fromVersion, signal, onProgress: (bytes) => void progress(backupStepProgress(bytes)) });
    const { record } = outcome;
    await upgrades.recordJobFacts(upgrade.id, {
      preUpgradeBackup: { file: record.file, sha256: record.sha256, bytes: record.bytes, version: record.version, startedAt: record.startedAt, finishedAt: record.finishedAt },
    });
    return backupStepDetail(record);
  }

  async function recreate({ upgrade, runtime, progress, signal }: StepContext): Promise<string> {
    const result = await runtime.deployer.replace({
      signal,
      image: imageRef(upgrade, runtime),
      version: upgrade.toVersion,
      expectedEncryptionKeyFingerprint: upgrade.keyFingerprint,
      changeCause: await changeCause(upgrade),
      onProgress: (text) => void progress(stepProgressText('recreate', text)),
    });
    // An adopted `:latest` install goes back to its exact tag: `latest` will mean another version by then.
    await upgrades.recordJobFacts(upgrade.id, { previousImage: upgrade.kind === 'upgrade' ? exactPreviousImage(result.previousImage, runtime.config.image, upgrade.fromVersion) : result.previousImage });
    return recreateStepDetail(result, runtime.deployer.nouns);
  }

  async function rollback({ upgrade, runtime, progress, signal }: StepContext): Promise<string> {
    const original = upgrade.rollbackOf ? await upgrades.byId(upgrade.rollbackOf) : null;
    const previousImage = original?.previousImage ?? `${runtime.config.image}:${upgrade.toVersion}`;
    const restore = restoresDatabase(upgrade.items) ? restoreOf(upgrade, original, runtime) : null;
    let restoredMs: number | null = null;
    const result = await runtime.deployer.rollback({
      signal,
      fromVersion: upgrade.fromVersion,
      previousImage,
      changeCause: await changeCause(upgrade),
      onProgress: (text) => void progress(stepProgressText('rollback', text)),
      ...(restore
        ? {
            beforeStart: async () => {
              await progress(restoreProgress(basename(restore.dumpPath)));
              const audited = { userId: upgrade.startedBy ?? upgrade.requester, channelId: upgrade.channelId, kind: 'job' as const, action: 'rollback_restore', upgradeId: upgrade.id, detail: { target: upgrade.target, backup: basename(restore.dumpPath), sha256: restore.sha256 } };
              try {
                restoredMs = (await restoreLive({ ...restore, ...(signal ? { signal } : {}) }, { logger, ...(deps.pgRestore ? { pgRestore: deps.pgRestore } : {}) })).durationMs;
              } catch (err) {
                await deps.audit?.({ ...audited, outcome: 'error', errorCode: isAppError(err) ? err.code : 'internal' }).catch((e: unknown) => logger.warn({ err: e, upgradeId: upgrade.id }, 'could not audit the failed restore'));
                throw err;
              }
              await deps.audit?.({ ...audited, outcome: 'ok' }).catch((e: unknown) => logger.warn({ err: e, upgradeId: upgrade.id }, 'could not audit the restore'));
            },
          }
        : {}),
    });
    const rolledBack = rolledBackDetail(result, previousImage, runtime.deployer.nouns);
    if (restore && restoredMs !== null) return restoredStepDetail(basename(restore.dumpPath), restoredMs, rolledBack);
    return rolledBack;
  }

  /** What Restore and roll back restores: the dump the upgrade's Backup step recorded, into the target's database. */
  function restoreOf(rollback: UpgradeRecord, original: UpgradeRecord | null, runtime: TargetRuntime): RestoreLiveInput {
    const backup = original?.preUpgradeBackup;
    if (!backup) throw new AppError('restore_failed', restoreRefusalText(rollback.target, 'backup'));
    const databaseUrl = runtime.config.backupDatabaseUrl;
    if (!databaseUrl) throw new AppError('restore_failed', restoreRefusalText(rollback.target, 'database_url'));
    return { target: rollback.target, databaseUrl, dumpPath: backup.file, sha256: backup.sha256 };
  }

  async function gitRevert({ upgrade, runtime }: StepContext): Promise<string> {
    const original = upgrade.rollbackOf ? await upgrades.byId(upgrade.rollbackOf) : null;
    if (!original?.pinRecord) return gitRevertDetail(null);
    const reverted = await deps.pins.revert(original.pinRecord, await pinChange(original, runtime), `rolled back to ${original.fromVersion} (rollback ${upgrade.id})`);
    await upgrades.recordJobFacts(original.id, { pinRecord: reverted });
    return gitRevertDetail(original.fromVersion);
  }

  async function readiness({ upgrade, runtime, progress, signal }: StepContext): Promise<string> {
    const timeoutMs = runtime.config.postflight.readyTimeout * 1000;
    try {
      // Nothing is sent to the new instance before it logs `Checkstack Core initialized` (see wait-for-ready.ts).
      const result = await waitForReady({
        client: runtime.checkstack,
        logs: runtime.deployer,
        timeoutMs,
        now: deps.now,
        sleep: (ms) => deps.sleep(ms, signal),
        signal,
        onProgress: (answer) => progress(readinessProgressText(answer)),
        logger,
      });
      await upgrades.recordJobFacts(upgrade.id, { readyAt: result.readyAt });
      if ('unknown' in result) {
        return readinessUnknownDetail(result.ui.status);
      }
      return readyDetail(result.answer.checks);
    } catch (err) {
      if (isAppError(err) && err.code === 'readiness_timeout') {
        const reason = typeof err.details.reason === 'string' ? err.details.reason : err.message;
        throw new StepFailure('readiness', reason, true, { cause: err });
      }
      throw err;
    }
  }

  async function postflight({ upgrade, runtime, signal, earlierReplies }: StepContext): Promise<{ detail: string; verdict: PostflightVerdict; versionFailed: boolean }> {
    const fresh = (await upgrades.byId(upgrade.id))!;
    const instance = await runtime.deployer.describe().catch(() => null);
    const report = await runPostflightChecks({
      client: runtime.checkstack,
      targetVersion: upgrade.toVersion,
      pluginsBefore: fresh.pluginsBefore,
      readyAt: fresh.readyAt ?? deps.now(),
      now: deps.now,
      sleep: (ms) => deps.sleep(ms, signal),
      healthcheckMaxWaitMs: runtime.config.postflight.healthcheckMaxWait * 1000,
      apiKeyEnv: runtime.config.apiKeyEnv,
      runningImageTag: instance?.tag ?? null,
      logger,
      onResult: async (result, durationMs) => {
        const text = postflightResultText(result, durationMs);
        // Results a killed run already posted are updated in place: the thread shows each check once.
        const earlier = earlierReplies[result.name];
        if (earlier) return reporter.update(upgrade.channelId, earlier, { text });
        await upgrades.setStepReply(upgrade.id, 'postflight', result.name, await post(upgrade, text));
      },
    });
    const detail = postflightDetail(report.results);
    return { detail, verdict: report.verdict, versionFailed: report.results.some((r) => r.name === 'version' && r.outcome === 'fail') };
  }

  const STEP_IMPL: Record<StepName, (ctx: StepContext) => Promise<string | { detail: string; verdict: PostflightVerdict; versionFailed: boolean }>> = {
    recheck,
    git_record: gitRecord,
    pull,
    backup,
    recreate,
    rollback,
    git_revert: gitRevert,
    readiness,
    postflight,
  };

  /** What a failure at `step` means for the target, and the cleanup it calls for. */
  async function onStepFailed(upgrade: UpgradeRecord, runtime: TargetRuntime, step: StepName): Promise<string> {
    if (upgrade.kind !== 'upgrade') return '';
    const fresh = (await upgrades.byId(upgrade.id))!;
    // Before the new container is ready, the old one runs again: the record must say so too.
    if ((step === 'pull' || step === 'backup' || step === 'recreate' || step === 'git_record') && fresh.pinRecord && !fresh.pinRecord.reverted) {
      try {
        const reverted = await deps.pins.revert(fresh.pinRecord, await pinChange(fresh, runtime), `the upgrade to ${fresh.toVersion} failed at ${step}; ${fresh.fromVersion} still runs`);
        await upgrades.recordJobFacts(upgrade.id, { pinRecord: reverted });
        return pinRevertCleanup(true);
      } catch (err) {
        logger.error({ err, upgradeId: upgrade.id }, 'could not revert the pin record');
        return pinRevertCleanup(false);
      }
    }
    return '';
  }

  /**
   * Ends the upgrade failed. The database records it first; then the thread hears it (in a shorter form if Slack
   * refuses the first), the automatic rollback starts whatever Slack answered, and the parent message is refreshed
   * from the database in any case.
   */
  async function fail(upgrade: UpgradeRecord, runtime: TargetRuntime, step: StepName, reason: string, offerRollback: boolean, rollBackAutomatically = offerRollback): Promise<void> {
    const ended = await upgrades.apply(upgrade.id, 'fail', { step, statusDetail: failedStatusDetail(step, reason), outcome: 'failed' });
    const cleanup = await onStepFailed(upgrade, runtime, step).catch((err: unknown) => {
      logger.error({ err, upgradeId: upgrade.id }, 'could not clean up after the failed step');
      return '';
    });
    if (!ended) return;
    deps.metrics?.upgrades.inc({ kind: upgrade.kind, result: 'failed' });
    try {
      const stillRuns = step === 'pull' || step === 'backup' || step === 'recreate' || step === 'recheck' || step === 'git_record';
      const facts = { upgradeId: upgrade.id, kind: upgrade.kind, stepTitle: STEP_TITLES[step], reason, fromVersion: upgrade.fromVersion, stillRuns, cleanup, offerRollback };
      await postOutcome(upgrade, failureMessage(facts, 'full'), failureMessage(facts, 'short'));
      if (offerRollback && upgrade.kind === 'upgrade' && rollBackAutomatically && runtime.config.postflight.autoRollback) {
        await deps.autoRollback(upgrade, reason).catch((err: unknown) => logger.error({ err, upgradeId: upgrade.id }, 'the automatic rollback could not be started'));
      }
    } finally {
      await refreshFromDatabase(upgrade.id);
    }
    await rollbackFailed(upgrade);
  }

  /** What the target runs now, read from it; or why it could not be read. */
  async function runningNow(target: string): Promise<RunningNow> {
    try {
      const instance = await deps.targets.resolve(target).deployer.describe();
      return { name: instance.name, image: instance.image, tag: instance.tag };
    } catch (err) {
      logger.warn({ err, target }, 'could not read what the target runs after a failed rollback');
      return { error: isAppError(err) ? err.message : 'unexpected error (see the bot log)' };
    }
  }

  /**
   * A rollback that failed (at a step, or given up on) gives its upgrade back the status it had before, so a new
   * `/checkstack rollback` can try again; both threads say what the target runs now, read from the target.
   */
  async function rollbackFailed(rollback: UpgradeRecord): Promise<void> {
    if (rollback.kind !== 'rollback' || !rollback.rollbackOf) return;
    const original = await upgrades.byId(rollback.rollbackOf);
    if (!original) return;
    const facts = { target: rollback.target, rollbackTo: rollback.toVersion, upgradedTo: original.toVersion, running: await runningNow(rollback.target) };
    const restored = await upgrades.apply(original.id, 'rollback_failed', { statusDetail: failedRollbackDetail(facts) });
    // Null: the upgrade was settled already (by the sweep, or it never got to rolling_back).
    if (!restored) return;
    const text = failedRollbackText({ ...facts, status: restored.status });
    if (rollback.messageTs) await postOutcome(rollback, { text });
    if (restored.messageTs) await postOutcome(restored, { text });
    await refreshFromDatabase(restored.id);
  }

  /**
   * Upgrades left `rolling_back` by a bot that stopped between ending their rollback and ending them: each gets the
   * outcome its rollback had. The sweep calls it.
   */
  async function settleStrandedRollbacks(): Promise<string[]> {
    const settled: string[] = [];
    for (const { upgrade, rollback } of await upgrades.strandedRollbacks()) {
      if (rollback.status === 'succeeded') {
        if (!(await upgrades.apply(upgrade.id, 'rollback_succeeded', { statusDetail: rolledBackStatusDetail(rollback.toVersion) }))) continue;
        await refreshFromDatabase(upgrade.id);
      } else {
        await rollbackFailed(rollback);
      }
      logger.info({ upgradeId: upgrade.id, rollbackId: rollback.id, rollback: rollback.status }, 'settled an upgrade its rollback had left rolling back');
      settled.push(upgrade.id);
    }
    return settled;
  }

  async function succeed(upgrade: UpgradeRecord, verdict: PostflightVerdict, detail: string): Promise<void> {
    if (verdict === 'failed') return;
    const ended = await upgrades.apply(upgrade.id, 'succeed', {
      step: null,
      outcome: verdict,
      statusDetail: succeededStatusDetail(verdict !== 'succeeded', detail),
    });
    if (!ended) return;
    deps.metrics?.upgrades.inc({ kind: upgrade.kind, result: verdict });
    try {
      if (upgrade.kind === 'rollback' && upgrade.rollbackOf) {
        await upgrades.apply(upgrade.rollbackOf, 'rollback_succeeded', { statusDetail: rolledBackStatusDetail(upgrade.toVersion) });
        await refreshFromDatabase(upgrade.rollbackOf);
      }
      await postOutcome(upgrade, { text: successText({ kind: upgrade.kind, warnings: verdict !== 'succeeded', target: upgrade.target, toVersion: upgrade.toVersion, detail }) });
    } finally {
      await refreshFromDatabase(upgrade.id);
    }
    const fresh = (await upgrades.byId(upgrade.id))!;
    await deps.scheduleFollowUps(fresh, fresh.readyAt ?? deps.now());
  }

  /**
   * Runs the steps after `doneStep`. `onStepDone` persists progress in the job (job.updateData).
   * Returns when the upgrade has ended (succeeded or failed) or throws an unexpected error for a retry.
   */
  async function run(
    upgradeId: string,
    doneStep: string | null,
    options: {
      signal: AbortSignal;
      onStepDone(step: StepName): Promise<void>;
      isLastAttempt: boolean;
      /** Why the job runs again after `doneStep`, for the thread; default: the worker restarted. */
      resumeReason?: string;
    },
  ): Promise<'ended' | 'not_runnable' | 'interrupted'> {
    let upgrade = await upgrades.byId(upgradeId);
    if (!upgrade) return 'not_runnable';
    if (!allows(upgrade.status, 'begin')) return 'not_runnable';
    const runtime = deps.targets.resolve(upgrade.target);
    // A target without `backup` has no Backup step at all (its thread does not show one that does nothing).
    const steps: readonly StepName[] = (upgrade.kind === 'upgrade' ? UPGRADE_STEPS : ROLLBACK_STEPS).filter((step) => step !== 'backup' || Boolean(runtime.config.backup && deps.backups));

    upgrade = await upgrades.apply(upgrade.id, 'begin');
    if (!upgrade) return 'not_runnable';
    if (upgrade.kind === 'rollback' && upgrade.rollbackOf) {
      // A new detail: the one of an earlier failed rollback would say the wrong thing while this one runs.
      await upgrades.apply(upgrade.rollbackOf, 'rollback', { statusDetail: rollingBackStatusDetail(upgrade.toVersion) });
      await deps.refreshMessage(upgrade.rollbackOf);
    }
    // Resumes after `doneStep` even when the steps changed with the config meanwhile (a Backup step added or removed).
    const order: readonly StepName[] = upgrade.kind === 'upgrade' ? UPGRADE_STEPS : ROLLBACK_STEPS;
    const next = doneStep ? steps.findIndex((step) => order.indexOf(step) > order.indexOf(doneStep as StepName)) : 0;
    const startIndex = next === -1 ? steps.length : next;
    // The database knows whether the job ran before, even when it stopped inside its first step.
    const earlier = await upgrades.steps(upgrade.id);
    // After a restart, the reply of the step left unfinished is stale: the step runs again in it. After an error
    // that reply says what went wrong, so the step runs again in a new reply below.
    const rerunIn = new Map<string, string>();
    for (const row of earlier) if (!options.resumeReason && !row.finishedAt && row.messageTs) rerunIn.set(row.step, row.messageTs);
    if (startIndex > 0 || earlier.length > 0) {
      await bringThreadUpToDate(upgrade, earlier.filter((row) => !rerunIn.has(row.step)));
      const reason = options.resumeReason ?? 'the worker restarted';
      await post(upgrade, resumeText(startIndex > 0 ? { after: steps[startIndex - 1]! } : { restart: steps[0]! }, reason));
    }

    // "✅ finished" lines land in the background (the reporter spaces updates of a message): the next step
    // need not wait for them, only the verdict does, so the thread reads in order.
    const landing: Promise<void>[] = [];
    for (const step of steps.slice(startIndex)) {
      if (options.signal.aborted) {
        await Promise.all(landing);
        return 'interrupted';
      }
      await upgrades.stepStarted(upgrade.id, step);
      await deps.refreshMessage(upgrade.id);
      const started = deps.now().getTime();
      const startedText = stepStartedText(step, earlier.some((row) => row.step === step));
      const reused = rerunIn.get(step);
      if (reused) void reporter.update(upgrade.channelId, reused, { text: startedText });
      const stepTs = reused ?? (await post(upgrade, startedText));
      // Only for bringing the thread up to date after a crash: losing it must not fail the step.
      await upgrades.setStepMessage(upgrade.id, step, stepTs).catch((err: unknown) => logger.warn({ err, upgradeId, step }, 'could not record the step message'));
      const progress = (text: string) => reporter.update(upgrade!.channelId, stepTs, { text });
      let outcome: string | { detail: string; verdict: PostflightVerdict; versionFailed: boolean };
      try {
        outcome = await STEP_IMPL[step]({
          upgrade,
          runtime,
          progress,
          signal: options.signal,
          earlierReplies: earlier.find((row) => row.step === step)?.replies ?? {},
        });
      } catch (err) {
        const elapsedMs = deps.now().getTime() - started;
        const elapsed = durationText(elapsedMs);
        if (options.signal.aborted && !isAppError(err) && !(err instanceof StepFailure)) {
          await Promise.all([...landing, reporter.update(upgrade.channelId, stepTs, { text: stepShutdownText(step, elapsedMs) })]);
          return 'interrupted';
        }
        if (isAppError(err) && err.details.cancelled === true) {
          await upgrades.stepFinished(upgrade.id, step, 'skipped', err.message);
          await Promise.all([...landing, reporter.update(upgrade.channelId, stepTs, { text: stepCancelledText(step, err.message) })]);
          await deps.refreshMessage(upgrade.id);
          return 'ended';
        }
        const failure = err instanceof StepFailure ? err : isAppError(err) && err.code !== 'internal' ? new StepFailure(step, err.message, false, { cause: err }) : null;
        // An error nobody foresaw is shown by reference only: its message may say anything; the log has it and the stack.
        const referenceId = failure ? null : newReferenceId();
        if (referenceId) logger.error({ err, upgradeId, step, referenceId }, 'upgrade step hit an unexpected error');
        if (referenceId && !options.isLastAttempt) {
          await Promise.all([...landing, reporter.update(upgrade.channelId, stepTs, { text: stepRetryingText(STEP_TITLES[step], elapsed, referenceId) })]);
          throw err;
        }
        const reason = failure?.reason ?? unexpectedReason(referenceId!);
        if (failure) logger.warn({ err, upgradeId, step }, 'upgrade step failed');
        await upgrades.stepFinished(upgrade.id, step, 'failed', reason);
        deps.metrics?.stepDuration.observe({ kind: upgrade.kind, step, outcome: 'failed' }, (deps.now().getTime() - started) / 1000);
        await Promise.all([...landing, reporter.update(upgrade.channelId, stepTs, { text: stepFailedText(STEP_TITLES[step], elapsed, reason) })]);
        await fail(upgrade, runtime, step, reason, failure?.offerRollback ?? false);
        return 'ended';
      }
      const detail = typeof outcome === 'string' ? outcome : outcome.detail;
      await upgrades.stepFinished(upgrade.id, step, 'ok', detail);
      deps.metrics?.stepDuration.observe({ kind: upgrade.kind, step, outcome: 'ok' }, (deps.now().getTime() - started) / 1000);
      landing.push(reporter.update(upgrade.channelId, stepTs, { text: stepFinishedText(step, deps.now().getTime() - started, detail) }));
      await options.onStepDone(step);
      upgrade = (await upgrades.byId(upgrade.id))!;
      if (typeof outcome !== 'string') {
        await Promise.all(landing);
        if (outcome.verdict === 'failed') {
          await fail(upgrade, runtime, step, postflightFailedReason(outcome.detail), true, outcome.versionFailed);
        } else {
          await succeed(upgrade, outcome.verdict, outcome.detail);
        }
        return 'ended';
      }
    }
    await Promise.all(landing);
    return 'ended';
  }

  /**
   * After a crash, the thread may lag behind the database: a step's "finished" line may not have landed, and the
   * step that was running says "started" for ever. Each step's reply in `rows` is brought to what the database
   * knows; a step that runs again in its own reply is not among them.
   */
  async function bringThreadUpToDate(upgrade: UpgradeRecord, rows: StepRecord[]): Promise<void> {
    const updates = rows.flatMap((row) => {
      if (!row.messageTs || !isStepName(row.step)) return [];
      const step = row.step;
      const text =
        row.finishedAt && row.outcome === 'ok'
          ? stepFinishedText(step, row.finishedAt.getTime() - row.startedAt.getTime(), row.detail ?? '')
          : row.finishedAt
            ? null
            : stepWasInterruptedText(step);
      return text ? [reporter.update(upgrade.channelId, row.messageTs, { text })] : [];
    });
    await Promise.all(updates);
  }

  /**
   * Marks an upgrade failed when its job gives up for good (attempts exhausted outside any step). `summary` says
   * what happened in the bot's words; `cause` (BullMQ's error, which may say anything) goes to the log only, under a
   * reference id the thread shows.
   */
  async function abandon(upgradeId: string, summary: string, cause?: unknown): Promise<void> {
    const upgrade = await upgrades.byId(upgradeId);
    if (!upgrade || !allows(upgrade.status, 'abandon')) return;
    const referenceId = newReferenceId();
    logger.error({ err: cause, upgradeId, referenceId, summary }, 'upgrade job given up');
    const ended = await upgrades.apply(upgradeId, 'abandon', { statusDetail: `${summary} (reference ${referenceId})`, outcome: 'failed' });
    if (!ended) return;
    deps.metrics?.upgrades.inc({ kind: ended.kind, result: 'failed' });
    try {
      const stepTitle = ended.step ? (isStepName(ended.step) ? STEP_TITLES[ended.step] : ended.step) : null;
      await postOutcome(ended, { text: abandonedText(ended.kind, stepTitle, summary, referenceId) });
    } finally {
      await refreshFromDatabase(upgradeId);
    }
    await rollbackFailed(ended);
  }

  return { run, abandon, settleStrandedRollbacks };
}

export type UpgradeRunner = ReturnType<typeof createUpgradeRunner>;
