// Staged promotion: a version may go to a target only after it succeeded on the target's `promotion.from` and ran
// there, green, for `soak`. Pure: the caller passes the runs it read and `now`.
import { z } from 'zod';
import { durationSchema } from './durations.js';
import { compareVersions, isValidVersion, normalizeVersion } from './versions.js';

export interface PromotionPolicy {
  /** The target a version must have succeeded on first. */
  from: string;
  /** How long it must have run there, green, before it counts as proven. */
  soakMs: number;
}

/** The `promotion` block of a target, as the config file spells it; outputs a `PromotionPolicy`. */
export const promotionSchema = z
  .object({
    from: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'must name another target, such as staging'),
    soak: durationSchema({ plainNumbers: 'refuse', minMs: 0, example: '24h' }),
  })
  .strict()
  .transform((p): PromotionPolicy => ({ from: p.from, soakMs: p.soak }));

/**
 * Every problem with the promotion chain of a target list: `from` naming an unknown target, the target itself, or
 * a cycle. The config loader reports each under `targets[index].promotion.from`.
 */
export function promotionChainProblems(targets: ReadonlyArray<{ name: string; promotion?: PromotionPolicy | undefined }>): Array<{ index: number; message: string }> {
  const problems: Array<{ index: number; message: string }> = [];
  const byName = new Map(targets.map((t) => [t.name, t]));
  targets.forEach((target, index) => {
    const from = target.promotion?.from;
    if (from === undefined) return;
    if (from === target.name) {
      problems.push({ index, message: 'a target cannot be promoted from itself: name the stage before it, such as staging' });
      return;
    }
    if (!byName.has(from)) {
      problems.push({ index, message: `"${from}" is not a configured target: name one of ${targets.map((t) => t.name).join(', ')}` });
      return;
    }
    const seen = new Set([target.name]);
    for (let next: string | undefined = from; next !== undefined; next = byName.get(next)?.promotion?.from) {
      if (seen.has(next)) {
        problems.push({ index, message: `promotion goes round in a circle (${[...seen, next].join(' → ')}): the first stage must not have \`promotion\`` });
        return;
      }
      seen.add(next);
    }
  });
  return problems;
}

// ---- evidence ----

/** One stretch of time during which a target ran a version that the bot had upgraded it to (or rolled it back to). */
export interface VersionRun {
  target: string;
  version: string;
  /** When the upgrade to `version` finished there (it became ready): the soak counts from here. */
  since: Date;
  /** When the target stopped running it (a later upgrade or a rollback finished); null while it still runs it. */
  until: Date | null;
  /** The upgrade's result: `failed` when it ended failed, `rolled_back` when it was rolled back later. */
  result: 'succeeded' | 'failed' | 'rolled_back';
  /** The post-flight verdict; `pending` while the checks still run. Warnings are not failures. */
  postflight: 'passed' | 'warnings' | 'failed' | 'pending';
  upgradeId?: string | null;
}

/** Why a version is not (yet) proven on the `from` target. */
export type NotProvenWhy =
  /** The bot never upgraded `from` to it. */
  | 'never_ran'
  /** The upgrade to it failed there. */
  | 'failed'
  /** It was rolled back there. */
  | 'rolled_back'
  /** Its post-flight checks failed there. */
  | 'postflight_failed'
  /** Its post-flight checks still run there; it holds at `holdsAt` if they pass. */
  | 'postflight_pending'
  /** It runs there, green, but not yet for `soak`. */
  | 'soaking'
  /** It ran there, green, but the target moved on before `soak` was up. */
  | 'left_early';

export type PromotionGate =
  | { holds: true; from: string; version: string; soakMs: number; run: VersionRun; ranForMs: number; heldSince: Date }
  | {
      holds: false;
      from: string;
      version: string;
      soakMs: number;
      why: NotProvenWhy;
      /** The run the reason is about; null for `never_ran`. */
      run: VersionRun | null;
      ranForMs: number;
      /** When the gate will hold if nothing goes wrong (`soaking`, `postflight_pending`); null when it never will by itself. */
      holdsAt: Date | null;
    };

function isGreen(run: VersionRun): boolean {
  return run.result === 'succeeded' && (run.postflight === 'passed' || run.postflight === 'warnings');
}

function failureOf(run: VersionRun): 'failed' | 'rolled_back' | 'postflight_failed' | null {
  if (run.result === 'rolled_back') return 'rolled_back';
  if (run.result === 'failed') return 'failed';
  if (run.postflight === 'failed') return 'postflight_failed';
  return null;
}

function ranFor(run: VersionRun, now: Date): number {
  const end = run.until ?? now;
  return Math.max(0, end.getTime() - run.since.getTime());
}

/** Equal versions, `v` or not; cheap, since it runs for every run of every candidate of every target in a poll. */
function sameVersion(a: string, b: string): boolean {
  const strip = (v: string) => (v.startsWith('v') || v.startsWith('V') ? v.slice(1) : v);
  return strip(a) === strip(b) && isValidVersion(a);
}

/**
 * Whether `version` is proven on `policy.from` at `now`. The runs may be of any target and version; only those of
 * `from` and `version` count. A run proves the version when the upgrade succeeded, its post-flight did not fail, it
 * was not rolled back, and the target kept running it for `soak` (a run that ended after that still counts). When
 * the latest run of the version there failed or was rolled back, that is the answer, whatever earlier runs did:
 * the newest evidence against a version outweighs older evidence for it.
 */
export function evaluatePromotion(policy: PromotionPolicy, version: string, runs: readonly VersionRun[], now: Date): PromotionGate {
  const base = { from: policy.from, version: normalizeVersion(version), soakMs: policy.soakMs };
  const mine = runs
    .filter((run) => run.target === policy.from && sameVersion(run.version, version) && run.since.getTime() <= now.getTime())
    .sort((a, b) => a.since.getTime() - b.since.getTime());
  const latest = mine.at(-1);
  if (latest === undefined) return { ...base, holds: false, why: 'never_ran', run: null, ranForMs: 0, holdsAt: null };

  const latestFailure = failureOf(latest);
  if (latestFailure !== null) return { ...base, holds: false, why: latestFailure, run: latest, ranForMs: ranFor(latest, now), holdsAt: null };

  const proving = mine.filter((run) => isGreen(run) && ranFor(run, now) >= policy.soakMs);
  const first = proving[0];
  if (first !== undefined) {
    return { ...base, holds: true, run: first, ranForMs: ranFor(first, now), heldSince: new Date(first.since.getTime() + policy.soakMs) };
  }
  // Not proven: say what the latest run is waiting for.
  const holdsAt = latest.until === null ? new Date(latest.since.getTime() + policy.soakMs) : null;
  const ranForMs = ranFor(latest, now);
  if (latest.postflight === 'pending') return { ...base, holds: false, why: 'postflight_pending', run: latest, ranForMs, holdsAt };
  return { ...base, holds: false, why: latest.until === null ? 'soaking' : 'left_early', run: latest, ranForMs, holdsAt };
}

// ---- what `/checkstack status` shows ----

export type RunState = 'running' | 'ran' | 'postflight_pending' | 'failed' | 'rolled_back' | 'postflight_failed';

export interface TargetProof {
  target: string;
  state: RunState;
  since: Date;
  until: Date | null;
  ranForMs: number;
}

export interface VersionProofs {
  version: string;
  /** The latest run of the version on each target that ran it, by target name. */
  targets: TargetProof[];
}

/** Where each version has run and how it went: the latest run per (version, target), newest version first. */
export function whereProven(runs: readonly VersionRun[], now: Date): VersionProofs[] {
  const latest = new Map<string, VersionRun>();
  for (const run of runs) {
    if (!isValidVersion(run.version) || run.since.getTime() > now.getTime()) continue;
    const key = `${normalizeVersion(run.version)}\u0000${run.target}`;
    const seen = latest.get(key);
    if (seen === undefined || seen.since.getTime() < run.since.getTime()) latest.set(key, run);
  }
  const byVersion = new Map<string, TargetProof[]>();
  for (const run of latest.values()) {
    const version = normalizeVersion(run.version);
    const state: RunState = failureOf(run) ?? (run.postflight === 'pending' ? 'postflight_pending' : run.until === null ? 'running' : 'ran');
    const proofs = byVersion.get(version) ?? [];
    proofs.push({ target: run.target, state, since: run.since, until: run.until, ranForMs: ranFor(run, now) });
    byVersion.set(version, proofs);
  }
  return [...byVersion.entries()]
    .sort(([a], [b]) => compareVersions(b, a))
    .map(([version, targets]) => ({ version, targets: targets.sort((a, b) => a.target.localeCompare(b.target)) }));
}

// ---- the override ----

/** How many different approvers must confirm "ship without a green run on `from`". */
export const PROMOTION_OVERRIDE_APPROVALS = 2;

export interface OverrideConfirmation {
  userId: string;
  at: Date;
}

export interface OverrideState {
  approved: boolean;
  /** The approvers whose confirmations count, in the order they confirmed. */
  by: string[];
  /** How many more different approvers are needed. */
  missing: number;
}

/**
 * The override item of the promotion gate: it holds once `PROMOTION_OVERRIDE_APPROVALS` different approvers have
 * confirmed it. A confirmation by someone who is not (or no longer) an approver does not count, and one person
 * counts once however often they click. The requester may be one of the two if they are an approver: the second
 * is then someone else by construction.
 */
export function promotionOverrideState(confirmations: readonly OverrideConfirmation[], approvers: ReadonlySet<string>): OverrideState {
  const by: string[] = [];
  for (const confirmation of [...confirmations].sort((a, b) => a.at.getTime() - b.at.getTime())) {
    if (approvers.has(confirmation.userId) && !by.includes(confirmation.userId)) by.push(confirmation.userId);
  }
  const counted = by.slice(0, PROMOTION_OVERRIDE_APPROVALS);
  return { approved: counted.length >= PROMOTION_OVERRIDE_APPROVALS, by: counted, missing: PROMOTION_OVERRIDE_APPROVALS - counted.length };
}

export type OverrideClick = { ok: true } | { ok: false; why: 'not_an_approver' | 'already_confirmed_by_you' | 'already_approved' };

/** Whether `userId`'s click on the override item adds a confirmation; a refusal changes nothing. */
export function canConfirmOverride(confirmations: readonly OverrideConfirmation[], userId: string, approvers: ReadonlySet<string>): OverrideClick {
  if (!approvers.has(userId)) return { ok: false, why: 'not_an_approver' };
  const state = promotionOverrideState(confirmations, approvers);
  if (state.approved) return { ok: false, why: 'already_approved' };
  if (state.by.includes(userId)) return { ok: false, why: 'already_confirmed_by_you' };
  return { ok: true };
}

/** Whether **Start upgrade** may go ahead as far as promotion is concerned. */
export function promotionAllowsStart(gate: PromotionGate | null, override: OverrideState | null): boolean {
  return gate === null || gate.holds || override?.approved === true;
}
