// What `/checkstack status` and `/checkstack history` read: the version a target runs, how far behind it is, its
// upgrades, backups, drills and promotion proofs. Facts only; src/slack/command-replies.ts turns them into words.
import { versionsBehind } from '../domain/versions.js';
import type { BackupService } from '../backup/backup-service.js';
import type { ReleaseStore } from '../db/release-store.js';
import type { UpgradeStore } from '../db/upgrade-store.js';
import { drillFreshness } from '../domain/backup.js';
import { IN_FLIGHT_STATUSES } from '../domain/checklist.js';
import type { Logger } from '../logger.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';
import type { Adoption } from './adoption.js';
import type { PromotionGateService } from './promotion-gate.js';
import { inspectTarget } from './upgrade-requests.js';

const STATUS_CACHE_MS = 5_000;

export interface TargetStatusDeps {
  upgrades: UpgradeStore;
  releases: ReleaseStore;
  targets: TargetRegistry;
  logger: Logger;
  now(): Date;
  backups?: Pick<BackupService, 'state'>;
  drills?: { latest(target: string): Promise<{ passed: boolean; finishedAt: Date } | null>; everyMs(target: string): number | null };
  promotion?: Pick<PromotionGateService, 'proofs'>;
  /** A target on a floating tag (`latest`): the exact version behind it. */
  adoption?: Pick<Adoption, 'identifyRunning'>;
}

export function createTargetStatus(deps: TargetStatusDeps) {
  const { upgrades, logger } = deps;

  /** `/checkstack status` in a busy channel must not hammer the target: one inspection serves every caller for a few seconds. */
  const statusInspections = new Map<string, { at: number; inspection: ReturnType<typeof inspectTarget> }>();
  function recentInspection(runtime: TargetRuntime) {
    const now = deps.now().getTime();
    const cached = statusInspections.get(runtime.config.name);
    if (cached && now - cached.at < STATUS_CACHE_MS) return cached.inspection;
    const inspection = inspectTarget(runtime, logger);
    statusInspections.set(runtime.config.name, { at: now, inspection });
    return inspection;
  }

  async function status(targetName: string | undefined) {
    const runtime = deps.targets.resolve(targetName);
    const target = runtime.config.name;
    const [{ current }, releases, { active, recent }, backup, proven, lastDrill] = await Promise.all([
      recentInspection(runtime),
      deps.releases.stableVersions(200),
      upgrades.statusListings(target, 10),
      deps.backups ? deps.backups.state(target) : Promise.resolve(null),
      deps.promotion ? deps.promotion.proofs() : Promise.resolve(null),
      deps.drills && runtime.config.backup ? deps.drills.latest(target) : Promise.resolve(undefined),
    ]);
    const floating = deps.adoption ? await deps.adoption.identifyRunning(runtime, current) : null;
    const running = floating?.kind === 'identified' ? floating.version : current.apiVersion ?? current.imageTag;
    return {
      target,
      current,
      floating,
      latest: releases[0] ?? null,
      behind: versionsBehind(running, releases),
      active,
      last: recent.find((u) => !IN_FLIGHT_STATUSES.includes(u.status)) ?? null,
      backup,
      drill: deps.drills && lastDrill !== undefined ? { last: lastDrill, freshness: drillFreshness(lastDrill?.finishedAt ?? null, deps.now(), deps.drills.everyMs(target)) } : null,
      proven,
      scheduledAt: active?.status === 'scheduled' ? active.scheduledAt : null,
      now: deps.now(),
    };
  }

  async function history(targetName: string | undefined) {
    const runtime = deps.targets.resolve(targetName);
    const list = await upgrades.history(runtime.config.name, 10);
    return Promise.all(list.map(async (u) => ({ upgrade: u, confirmations: await upgrades.confirmations(u.id) })));
  }

  return { status, history };
}

export type TargetStatusService = ReturnType<typeof createTargetStatus>;
