// Automatic patch upgrades: given a target's policy and everything known about it, what to do now. Pure and
// deterministic: the caller reads the facts, calls `decideAutoUpgrade`, and acts on the one answer.
import semver from 'semver';
import { z } from 'zod';
import { durationSchema } from './durations.js';
import { isInsideWindow, maintenanceWindowSchema, nextMomentInWindow, windowEndAt, type MaintenanceWindow } from './maintenance-window.js';
import { evaluatePromotion, type PromotionGate, type PromotionPolicy, type VersionRun } from './promotion.js';
import { classifyBump, isValidVersion, normalizeVersion, type VersionBump } from './versions.js';

export interface AutoUpgradePolicy {
  /** Patch releases of the running minor line go in without a checklist. */
  patches: boolean;
  /** A release must have been public this long. */
  minimumReleaseAgeMs: number;
  /** The notice with a Cancel button comes this long before the start. */
  noticeMs: number;
  /** When an automatic upgrade may start; null = any time. */
  window: MaintenanceWindow | null;
}

export const DEFAULT_NOTICE = '10m';
export const DEFAULT_MINIMUM_RELEASE_AGE = '72h';

/** The `autoUpgrade` block of a target, as the config file spells it; outputs an `AutoUpgradePolicy`. */
export const autoUpgradeSchema = z
  .object({
    patches: z.boolean({ error: 'must be true or false' }).default(false),
    minimumReleaseAge: durationSchema({ plainNumbers: 'refuse', minMs: 0, example: '72h' }).prefault(DEFAULT_MINIMUM_RELEASE_AGE),
    // A notice of zero would leave no moment to press Cancel.
    notice: durationSchema({ plainNumbers: 'refuse', minMs: 1_000, maxMs: 7 * 86_400_000, example: '10m' }).prefault(DEFAULT_NOTICE),
    window: maintenanceWindowSchema.optional(),
  })
  .strict()
  .transform(
    (a): AutoUpgradePolicy => ({ patches: a.patches, minimumReleaseAgeMs: a.minimumReleaseAge, noticeMs: a.notice, window: a.window ?? null }),
  );

/** A release as the decision needs it. */
export interface KnownRelease {
  version: string;
  draft: boolean;
  prerelease: boolean;
  /** Null for a release GitHub has not published (a draft). */
  publishedAt: Date | null;
}

export interface AutoUpgradePause {
  since: Date;
  /** `failed_upgrade`: an automatic upgrade of this target failed. */
  cause: 'failed_upgrade';
  version: string;
  upgradeId: string | null;
}

/** A person pressed Cancel on an automatic upgrade's notice: that version and every older one are left alone. */
export interface DeclinedAutoUpgrade {
  version: string;
  by: string;
  at: Date;
}

/** A manual request, a scheduled `--at` upgrade, or any upgrade or rollback in flight on the target. */
export interface BusyTarget {
  kind: 'request' | 'scheduled' | 'running';
  version: string;
  upgradeId: string | null;
}

/**
 * The automatic upgrade an earlier decision scheduled for this target, as the caller recorded it. The caller clears
 * it once the upgrade job has started: from then on the job is `busy`.
 */
/** What `/checkstack status` says of a target with automatic patches: the planned upgrade and the pause. */
export interface AutoUpgradeStatus {
  planned: { version: string; noticeAt: Date; startAt: Date; noticePosted: boolean } | null;
  paused: { version: string; since: Date } | null;
  window: MaintenanceWindow | null;
}

export interface ScheduledAutoUpgrade {
  key: string;
  version: string;
  noticeAt: Date;
  startAt: Date;
  /** When the notice went out; null until it has. */
  noticePostedAt: Date | null;
}

export interface AutoUpgradeInput {
  target: string;
  /** Null when the target has no `autoUpgrade`. */
  policy: AutoUpgradePolicy | null;
  promotion: PromotionPolicy | null;
  /** The version the target runs; null when the bot cannot tell. */
  running: string | null;
  paused: AutoUpgradePause | null;
  releases: readonly KnownRelease[];
  /** Runs of versions on `promotion.from` (others are ignored). */
  evidence: readonly VersionRun[];
  declined: readonly DeclinedAutoUpgrade[];
  busy: BusyTarget | null;
  scheduled: ScheduledAutoUpgrade | null;
  now: Date;
}

/** One condition a patch still waits for. */
export type Gate =
  | { gate: 'age'; publishedAt: Date; ageMs: number; requiredMs: number; eligibleAt: Date }
  | { gate: 'promotion'; promotion: PromotionGate; eligibleAt: Date | null };

/** Why nothing happens now: facts, worded in `src/slack/`. */
export type HoldReason =
  | { reason: 'disabled' }
  | { reason: 'version_unknown'; running: string | null }
  | { reason: 'runs_prerelease'; running: string }
  | { reason: 'paused'; pause: AutoUpgradePause }
  | { reason: 'busy'; busy: BusyTarget }
  /** No patch of the running line is newer; `newest` is the newest release beyond the line, which needs a checklist. */
  | { reason: 'no_patch'; running: string; newest: { version: string; bump: VersionBump } | null; declined: DeclinedAutoUpgrade | null }
  /** Patches exist but none may go in yet: `version` is the next to become eligible, with what it waits for. */
  | { reason: 'not_yet'; running: string; version: string; waitingFor: Gate[]; eligibleAt: Date | null; pending: string[] };

export interface AutoUpgradePlan {
  target: string;
  /** Stable for one version and one eligibility: use it as the BullMQ job id. */
  key: string;
  from: string;
  version: string;
  /** When every condition but the window held. */
  eligibleAt: Date;
  noticeAt: Date;
  startAt: Date;
  /** When the window opening the start falls in closes; null without a window. */
  windowEndsAt: Date | null;
  /** Older eligible patches that the upgrade goes past. */
  skipping: string[];
}

export type AutoUpgradeDecision =
  | { action: 'none'; target: string; hold: HoldReason; recheckAt: Date | null }
  /** Schedule the plan's job (delay until `noticeAt`), replacing `replaces` when given (same key: move it). */
  | { action: 'schedule'; plan: AutoUpgradePlan; replaces: ScheduledAutoUpgrade | null }
  /** Already scheduled as decided: record nothing; the job sleeps until `wakeAt` (the notice, or the start). */
  | { action: 'wait'; plan: AutoUpgradePlan; wakeAt: Date }
  /** Post the notice now and record it with `plan.startAt` (later than scheduled when the notice is late). */
  | { action: 'notify'; plan: AutoUpgradePlan }
  /** Start the upgrade job now, with the bot as requester. */
  | { action: 'start'; plan: AutoUpgradePlan }
  /** Drop the scheduled upgrade (its job and notice): it no longer holds. */
  | { action: 'cancel'; target: string; scheduled: ScheduledAutoUpgrade; hold: HoldReason; recheckAt: Date | null };

function compactTime(t: Date): string {
  const iso = t.toISOString().replace(/[-:]/g, '');
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** The decision key: one per (target, version, moment it became eligible). BullMQ ids may not contain `:`. */
export function autoUpgradeKey(target: string, version: string, eligibleAt: Date): string {
  return `auto@${target}@${version}@${compactTime(eligibleAt)}`;
}

interface Candidate {
  version: string;
  parsed: semver.SemVer;
  gates: Gate[];
  /** Null when a gate has no known time (not proven and nothing under way). */
  eligibleAt: Date | null;
}

/**
 * The release's version when it is published, not a draft and not a prerelease (by GitHub's flag or its version);
 * otherwise null. `linePrefix` (`0.30.`) skips other lines before any parsing: a poll decides 50 targets against
 * hundreds of releases, and parsing is what costs.
 */
function stableVersion(release: KnownRelease, linePrefix = ''): semver.SemVer | null {
  if (release.draft || release.prerelease || release.publishedAt === null) return null;
  const text = release.version.startsWith('v') || release.version.startsWith('V') ? release.version.slice(1) : release.version;
  if (!text.startsWith(linePrefix) || !isValidVersion(text)) return null;
  const parsed = semver.parse(text);
  return parsed !== null && parsed.prerelease.length === 0 ? parsed : null;
}

function latestTime(times: Array<Date | null>): Date | null {
  let latest = 0;
  for (const t of times) {
    if (t === null) return null;
    latest = Math.max(latest, t.getTime());
  }
  return new Date(latest);
}

function gatesOf(version: string, publishedAt: Date, input: AutoUpgradeInput, policy: AutoUpgradePolicy): Gate[] {
  const { now } = input;
  const gates: Gate[] = [
    {
      gate: 'age',
      publishedAt,
      ageMs: Math.max(0, now.getTime() - publishedAt.getTime()),
      requiredMs: policy.minimumReleaseAgeMs,
      eligibleAt: new Date(publishedAt.getTime() + policy.minimumReleaseAgeMs),
    },
  ];
  if (input.promotion) {
    const promotion = evaluatePromotion(input.promotion, version, input.evidence, now);
    gates.push({ gate: 'promotion', promotion, eligibleAt: promotion.holds ? promotion.heldSince : promotion.holdsAt });
  }
  return gates;
}

function isOpen(gate: Gate, now: Date): boolean {
  return gate.gate === 'age' ? gate.eligibleAt.getTime() <= now.getTime() : gate.promotion.holds;
}

function none(input: AutoUpgradeInput, hold: HoldReason, recheckAt: Date | null = null): AutoUpgradeDecision {
  return input.scheduled
    ? { action: 'cancel', target: input.target, scheduled: input.scheduled, hold, recheckAt }
    : { action: 'none', target: input.target, hold, recheckAt };
}

function newestBeyondLine(running: semver.SemVer, releases: readonly KnownRelease[]): { version: string; bump: VersionBump } | null {
  let newest: semver.SemVer | null = null;
  for (const release of releases) {
    const parsed = stableVersion(release);
    if (parsed && semver.gt(parsed, running) && (newest === null || semver.gt(parsed, newest))) newest = parsed;
  }
  return newest === null ? null : { version: newest.version, bump: classifyBump(running.version, newest.version) };
}

/**
 * What to do about automatic patch upgrades of one target now. The rules, in order:
 * - `autoUpgrade.patches` on, the running version known and not a prerelease, automatic upgrades not paused, and no
 *   other request, scheduled upgrade or job on the target;
 * - candidates: published, non-draft, non-prerelease releases of the running minor line (same major and minor),
 *   newer than the running version and than any version a person declined;
 * - a candidate is eligible once it has been public for `minimumReleaseAge` and, with `promotion`, is proven on
 *   `promotion.from` (see `evaluatePromotion`); of the eligible ones the newest goes in, never a minor or major;
 * - it starts at the first moment inside `window` that is at least `notice` after now and not before it became
 *   eligible; the notice goes out `notice` before the start.
 * When nothing is eligible yet, `recheckAt` is the earliest moment that can change (null when only an event can:
 * a run on `promotion.from`, a resume, a new release). With a scheduled upgrade, the same plan (same `key`) keeps
 * it (`wait`, `notify`, `start`); a different one replaces it; no plan cancels it.
 */
export function decideAutoUpgrade(input: AutoUpgradeInput): AutoUpgradeDecision {
  const { policy, now, target } = input;
  if (!policy?.patches) return none(input, { reason: 'disabled' });
  if (input.running === null || !isValidVersion(input.running)) return none(input, { reason: 'version_unknown', running: input.running });
  const running = semver.parse(normalizeVersion(input.running))!;
  if (running.prerelease.length > 0) return none(input, { reason: 'runs_prerelease', running: running.version });
  if (input.paused) return none(input, { reason: 'paused', pause: input.paused });
  if (input.busy) return none(input, { reason: 'busy', busy: input.busy });

  const declined = input.declined
    .filter((d) => isValidVersion(d.version))
    .reduce<DeclinedAutoUpgrade | null>((newest, d) => (newest === null || semver.gt(normalizeVersion(d.version), normalizeVersion(newest.version)) ? d : newest), null);
  const floor = declined !== null && semver.gt(normalizeVersion(declined.version), running) ? semver.parse(normalizeVersion(declined.version))! : running;

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  const linePrefix = `${running.major}.${running.minor}.`;
  for (const release of input.releases) {
    const parsed = stableVersion(release, linePrefix);
    if (parsed === null || !semver.gt(parsed, floor) || seen.has(parsed.version)) continue;
    seen.add(parsed.version);
    const gates = gatesOf(parsed.version, release.publishedAt!, input, policy);
    candidates.push({ version: parsed.version, parsed, gates, eligibleAt: latestTime(gates.map((g) => g.eligibleAt)) });
  }
  if (candidates.length === 0) {
    return none(input, { reason: 'no_patch', running: running.version, newest: newestBeyondLine(running, input.releases), declined });
  }
  candidates.sort((a, b) => semver.rcompare(a.parsed, b.parsed));

  const eligible = candidates.filter((c) => c.gates.every((g) => isOpen(g, now)));
  const chosen = eligible[0];
  if (chosen === undefined) {
    // The next to become eligible (the newest among equals); without any known time, the newest.
    const timed = candidates.filter((c) => c.eligibleAt !== null).sort((a, b) => a.eligibleAt!.getTime() - b.eligibleAt!.getTime() || semver.rcompare(a.parsed, b.parsed));
    const next = timed[0] ?? candidates[0]!;
    return none(
      input,
      {
        reason: 'not_yet',
        running: running.version,
        version: next.version,
        waitingFor: next.gates.filter((g) => !isOpen(g, now)),
        eligibleAt: next.eligibleAt,
        pending: candidates.map((c) => c.version),
      },
      next.eligibleAt,
    );
  }

  const eligibleAt = chosen.eligibleAt!;
  const key = autoUpgradeKey(target, chosen.version, eligibleAt);
  const skipping = eligible.slice(1).map((c) => c.version);
  const planFor = (startAt: Date): AutoUpgradePlan => ({
    target,
    key,
    from: running.version,
    version: chosen.version,
    eligibleAt,
    noticeAt: new Date(startAt.getTime() - policy.noticeMs),
    startAt,
    windowEndsAt: windowEndAt(policy.window, startAt),
    skipping,
  });
  const freshPlan = (): AutoUpgradePlan => {
    const earliest = Math.max(eligibleAt.getTime(), now.getTime() + policy.noticeMs);
    return planFor(nextMomentInWindow(policy.window, new Date(earliest)));
  };

  const scheduled = input.scheduled;
  if (scheduled === null || scheduled.key !== key) return { action: 'schedule', plan: freshPlan(), replaces: scheduled };

  // The same plan as before: keep its times while they still fit the window (the config may have changed).
  if (scheduled.noticePostedAt === null) {
    if (now.getTime() < scheduled.noticeAt.getTime()) {
      return isInsideWindow(policy.window, scheduled.startAt)
        ? { action: 'wait', plan: { ...planFor(scheduled.startAt), noticeAt: scheduled.noticeAt }, wakeAt: scheduled.noticeAt }
        : { action: 'schedule', plan: freshPlan(), replaces: scheduled };
    }
    // Notice time (or later, after a restart): people get the whole notice, so a late notice moves the start on.
    const startAt = new Date(Math.max(scheduled.startAt.getTime(), now.getTime() + policy.noticeMs));
    return isInsideWindow(policy.window, startAt) ? { action: 'notify', plan: planFor(startAt) } : { action: 'schedule', plan: freshPlan(), replaces: scheduled };
  }
  const noticeDone = Math.max(scheduled.startAt.getTime(), scheduled.noticePostedAt.getTime() + policy.noticeMs);
  if (now.getTime() < noticeDone) {
    const startAt = new Date(noticeDone);
    return isInsideWindow(policy.window, startAt)
      ? { action: 'wait', plan: { ...planFor(startAt), noticeAt: scheduled.noticeAt }, wakeAt: startAt }
      : { action: 'schedule', plan: freshPlan(), replaces: scheduled };
  }
  // Due. Outside the window (the bot was down past its end), it waits for the next opening, with a new notice.
  return isInsideWindow(policy.window, now)
    ? { action: 'start', plan: { ...planFor(now), noticeAt: scheduled.noticeAt } }
    : { action: 'schedule', plan: freshPlan(), replaces: scheduled };
}
