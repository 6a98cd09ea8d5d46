// What a new release means for each configured target, as facts for its announcement ("staging: automatic, in
// tonight's window"; "prod: after 24 h on staging"; "prod: minor, needs a checklist"). Words are `src/slack/`'s.
import { currentOrNextWindow, nextMomentInWindow, type MaintenanceWindow } from './maintenance-window.js';
import { evaluatePromotion, type PromotionGate, type PromotionPolicy, type VersionRun } from './promotion.js';
import type { AutoUpgradePause, AutoUpgradePolicy } from './auto-upgrade.js';
import { classifyBump, isPrerelease, isValidVersion, normalizeVersion } from './versions.js';

export interface OutlookTarget {
  name: string;
  autoUpgrade: AutoUpgradePolicy | null;
  promotion: PromotionPolicy | null;
  /** The version it runs; null when the bot cannot tell. */
  running: string | null;
  paused: AutoUpgradePause | null;
}

export interface OutlookRelease {
  version: string;
  prerelease: boolean;
  publishedAt: Date;
}

/** The promotion a target waits for, with when it is expected to hold. */
export interface AwaitedPromotion {
  from: string;
  soakMs: number;
  gate: PromotionGate;
  /** When it is expected to hold: known (soaking now), projected (from `from`'s own automatic start), or null. */
  expectedAt: Date | null;
  /** True when `expectedAt` assumes `from`'s automatic upgrade, not yet made, succeeds. */
  projected: boolean;
}

export type TargetOutlook =
  | { target: string; outlook: 'version_unknown' }
  /** It runs this version already, or a newer one. */
  | { target: string; outlook: 'up_to_date'; running: string }
  /** A person plans it with a checklist. `why` says why it is not automatic. */
  | {
      target: string;
      outlook: 'checklist';
      bump: 'major' | 'minor' | 'patch' | 'prerelease';
      why: 'not_a_patch' | 'prerelease' | 'auto_off' | 'runs_prerelease' | 'paused';
      pause: AutoUpgradePause | null;
      /** With `promotion`: the gate **Start upgrade** waits for (or an override). */
      promotion: AwaitedPromotion | null;
    }
  /** It goes in by itself. `startAt` null: only once `promotion` holds, at a time not known yet. */
  | {
      target: string;
      outlook: 'automatic';
      startAt: Date | null;
      /** `startAt` depends on an earlier stage's automatic upgrade succeeding. */
      projected: boolean;
      /** When the release is old enough. */
      ageEligibleAt: Date;
      promotion: AwaitedPromotion | null;
      window: MaintenanceWindow | null;
      /** Whether `startAt` falls into the window's opening that is open now or opens next ("tonight's window"). */
      inCurrentWindow: boolean;
    };

/**
 * For a new release, what happens on every target, in the order given. A target whose `promotion.from` goes in
 * automatically is projected from that stage's start plus `soak`, so a two-stage setup shows the whole chain.
 */
export function releaseOutlook(args: {
  release: OutlookRelease;
  targets: readonly OutlookTarget[];
  evidence: readonly VersionRun[];
  now: Date;
}): TargetOutlook[] {
  const { release, targets, evidence, now } = args;
  const version = normalizeVersion(release.version);
  const byName = new Map(targets.map((t) => [t.name, t]));
  const memo = new Map<string, TargetOutlook>();

  const awaited = (policy: PromotionPolicy, depth: number): AwaitedPromotion => {
    const gate = evaluatePromotion(policy, version, evidence, now);
    if (gate.holds) return { from: policy.from, soakMs: policy.soakMs, gate, expectedAt: gate.heldSince, projected: false };
    if (gate.holdsAt !== null) return { from: policy.from, soakMs: policy.soakMs, gate, expectedAt: gate.holdsAt, projected: false };
    const upstream = gate.why === 'never_ran' ? byName.get(policy.from) : undefined;
    const before = upstream && depth < targets.length ? outlookOf(upstream, depth + 1) : null;
    if (before?.outlook === 'automatic' && before.startAt !== null) {
      return { from: policy.from, soakMs: policy.soakMs, gate, expectedAt: new Date(before.startAt.getTime() + policy.soakMs), projected: true };
    }
    return { from: policy.from, soakMs: policy.soakMs, gate, expectedAt: null, projected: false };
  };

  function outlookOf(target: OutlookTarget, depth: number): TargetOutlook {
    const known = memo.get(target.name);
    if (known) return known;
    const result = decide(target, depth);
    memo.set(target.name, result);
    return result;
  }

  function decide(target: OutlookTarget, depth: number): TargetOutlook {
    const name = target.name;
    if (target.running === null || !isValidVersion(target.running)) return { target: name, outlook: 'version_unknown' };
    const running = normalizeVersion(target.running);
    const bump = classifyBump(running, version);
    if (bump === 'same' || bump === 'downgrade') return { target: name, outlook: 'up_to_date', running };
    const promotion = target.promotion ? awaited(target.promotion, depth) : null;
    const checklist = (why: 'not_a_patch' | 'prerelease' | 'auto_off' | 'runs_prerelease' | 'paused'): TargetOutlook => ({
      target: name,
      outlook: 'checklist',
      bump: release.prerelease ? 'prerelease' : bump,
      why,
      pause: why === 'paused' ? target.paused : null,
      promotion,
    });
    if (release.prerelease || bump === 'prerelease') return checklist('prerelease');
    if (bump !== 'patch') return checklist('not_a_patch');
    if (!target.autoUpgrade?.patches) return checklist('auto_off');
    if (isPrerelease(running)) return checklist('runs_prerelease');
    if (target.paused) return checklist('paused');

    const policy = target.autoUpgrade;
    const ageEligibleAt = new Date(release.publishedAt.getTime() + policy.minimumReleaseAgeMs);
    const promotedAt = promotion === null ? ageEligibleAt : promotion.expectedAt;
    if (promotedAt === null) {
      return { target: name, outlook: 'automatic', startAt: null, projected: false, ageEligibleAt, promotion, window: policy.window, inCurrentWindow: false };
    }
    const earliest = Math.max(ageEligibleAt.getTime(), promotedAt.getTime(), now.getTime() + policy.noticeMs);
    const startAt = nextMomentInWindow(policy.window, new Date(earliest));
    const opening = policy.window === null ? null : currentOrNextWindow(policy.window, now);
    const inCurrentWindow = opening !== null && opening.start.getTime() <= startAt.getTime() && startAt.getTime() < opening.end.getTime();
    return { target: name, outlook: 'automatic', startAt, projected: promotion?.projected ?? false, ageEligibleAt, promotion, window: policy.window, inCurrentWindow };
  }

  return targets.map((target) => outlookOf(target, 0));
}
