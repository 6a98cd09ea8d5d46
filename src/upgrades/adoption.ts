// Adopting a target that runs a floating tag (`latest`): which exact version it runs (/api/about where the release
// answers it, else the running image's digest matched against the registry's version tags), and the Pin click that
// writes that version into the target's pin record. Nothing here touches the container: the digest is the same.
import type { PinRecord, UpgradeStore } from '../db/upgrade-store.js';
import { isFloatingTag } from '../domain/adoption.js';
import type { CurrentVersion } from '../domain/upgrade-plan.js';
import { isValidVersion, normalizeVersion } from '../domain/versions.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PinRecorder } from '../pin/pin-recorder.js';
import type { DigestMatch, RegistryClient } from '../registry/oci-registry.js';
import {
  floatingRunsText,
  noPinRecordRefusal,
  notPinnedRefusal,
  pinDriftedRefusal,
  pinNotApprover,
  pinNotFloatingRefusal,
  pinWhileActiveRefusal,
  unknownVersionRefusal,
  type FloatingFacts,
} from '../slack/adoption-words.js';
import type { ApproverResolver } from '../slack/approvers.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';
import { inspectTarget } from './upgrade-requests.js';

/** A digest's version changes only if someone re-pushes a version tag: a match is kept this long. */
const MATCH_CACHE_MS = 10 * 60_000;
/** A digest that matched no tag may be pushed as one soon (a release in progress): asked again after this. */
const NO_MATCH_CACHE_MS = 60_000;

export interface AdoptionDeps {
  targets: TargetRegistry;
  registry: Pick<RegistryClient, 'findVersionForDigests'>;
  pins: Pick<PinRecorder, 'pinRunning' | 'pinsVersion'>;
  approvers: ApproverResolver;
  upgrades: Pick<UpgradeStore, 'activeForTarget'>;
  /** Told after a pin was written (the Home tab follows). Must not throw. */
  onPinned?(target: string): void;
  logger: Logger;
  now(): Date;
}

export interface PinOutcome {
  target: string;
  tag: string;
  version: string;
  record: PinRecord;
}

/** The floating tag a target runs, or null when its tag is an exact version (or unknown: nothing to adopt then). */
export function floatingTagOf(current: Pick<CurrentVersion, 'imageTag'>): string | null {
  return current.imageTag !== null && isFloatingTag(current.imageTag) ? current.imageTag : null;
}

export function createAdoption(deps: AdoptionDeps) {
  const lookups = new Map<string, { at: number; match: DigestMatch }>();

  /** What the target's floating tag is, as exactly as the bot can tell; null when it runs an exact tag. */
  async function identifyRunning(runtime: TargetRuntime, current: CurrentVersion): Promise<FloatingFacts | null> {
    const tag = floatingTagOf(current);
    if (tag === null) return null;
    if (current.apiVersion !== null && isValidVersion(current.apiVersion)) {
      return { kind: 'identified', tag, version: normalizeVersion(current.apiVersion), source: 'about' };
    }
    const digests = (await runtime.deployer.runningImageDigests?.()) ?? [];
    if (digests.length === 0) return { kind: 'no_digest', tag };
    const image = runtime.config.image;
    try {
      const match = await lookUp(image, digests);
      if (match.kind === 'no_match') return { kind: 'unmatched', tag, image, checkedTags: match.checkedTags };
      return { kind: 'identified', tag, version: match.version, source: 'digest' };
    } catch (err) {
      if (isAppError(err) && err.code === 'registry_unavailable') {
        deps.logger.warn({ err, target: runtime.config.name, image }, 'registry lookup failed');
        return { kind: 'registry_unavailable', tag, detail: err.message };
      }
      throw err;
    }
  }

  /** One registry lookup per image and digests for a while: `/checkstack status` typed often must not cost 40 requests each time. */
  async function lookUp(image: string, digests: string[]): Promise<DigestMatch> {
    const key = `${image}@${[...digests].sort().join(',')}`;
    const now = deps.now().getTime();
    const cached = lookups.get(key);
    if (cached && now - cached.at < (cached.match.kind === 'matched' ? MATCH_CACHE_MS : NO_MATCH_CACHE_MS)) return cached.match;
    const match = await deps.registry.findVersionForDigests(image, digests);
    deps.logger.info({ image, digests, match }, 'floating tag looked up in the registry');
    lookups.set(key, { at: now, match });
    return match;
  }

  /**
   * For `/checkstack upgrade`: the current version to plan from. A floating tag is accepted only once the pin record
   * pins the version it is; until then the refusal (`target_not_pinned`) carries the Pin offer.
   */
  async function currentForUpgrade(runtime: TargetRuntime, current: CurrentVersion): Promise<CurrentVersion> {
    const facts = await identifyRunning(runtime, current);
    if (facts === null) return current;
    const target = runtime.config.name;
    if (facts.kind !== 'identified') throw refusalFor(target, facts);
    if ((await deps.pins.pinsVersion(runtime.config, facts.version)) !== true) {
      throw new AppError('target_not_pinned', notPinnedRefusal(target, facts), { pinOffer: { target, version: facts.version } });
    }
    // The container keeps its floating reference until the upgrade replaces it; the plan starts from the pinned version.
    return { ...current, apiVersion: current.apiVersion ?? facts.version };
  }

  /** The Pin click: re-checks what runs now, then writes the exact tag into the pin record. */
  async function pin(input: { targetName: string; version: string; userId: string }): Promise<PinOutcome> {
    if (!(await deps.approvers.approvers()).has(input.userId)) throw new AppError('not_authorized', pinNotApprover());
    const runtime = deps.targets.resolve(input.targetName);
    const target = runtime.config.name;
    const active = await deps.upgrades.activeForTarget(target);
    if (active) throw new AppError('upgrade_in_progress', pinWhileActiveRefusal(target, active));
    const { current } = await inspectTarget(runtime, deps.logger);
    const facts = await identifyRunning(runtime, current);
    if (facts === null) throw new AppError('stale_action', pinNotFloatingRefusal(target, current.imageTag ?? 'unknown'));
    if (facts.kind !== 'identified') throw refusalFor(target, facts);
    if (facts.version !== normalizeVersion(input.version)) throw new AppError('stale_action', pinDriftedRefusal(target, input.version, floatingRunsText(facts)));
    const record = await deps.pins.pinRunning({ target: runtime.config, floatingTag: facts.tag, version: facts.version, userId: input.userId });
    if (!record) throw new AppError('target_not_pinned', noPinRecordRefusal(target, facts.tag, runtime.config.image, facts.version));
    deps.logger.info({ target, tag: facts.tag, version: facts.version, source: facts.source, record, user: input.userId }, 'floating tag pinned');
    deps.onPinned?.(target);
    return { target, tag: facts.tag, version: facts.version, record };
  }

  return { identifyRunning, currentForUpgrade, pin };
}

function refusalFor(target: string, facts: Exclude<FloatingFacts, { kind: 'identified' }>): AppError {
  const code = facts.kind === 'unmatched' || facts.kind === 'no_digest' ? 'digest_unmatched' : 'registry_unavailable';
  return new AppError(code, unknownVersionRefusal(target, facts), { target, tag: facts.tag });
}

export type Adoption = ReturnType<typeof createAdoption>;
