// The plan of an upgrade: which releases it crosses, what they break, and every reason to refuse it.
import semver from 'semver';
import { AppError } from '../errors.js';
import type { BreakingChange, Bump, ReleaseSummary } from './release-types.js';
import { classifyBump, echoUserInput, isValidVersion, normalizeVersion, parseRequestedVersion } from './versions.js';

export interface CurrentVersion {
  /** `releaseVersion` from `/api/about`; null when the endpoint did not answer or does not exist (old releases). */
  apiVersion: string | null;
  /** The tag of the image the container or deployment runs; null when not found. May be `latest` or a digest. */
  imageTag: string | null;
  /** Whether the target answered its readiness probe. */
  reachable: boolean;
}

export interface PlanUpgradeInput {
  current: CurrentVersion;
  /** The requested version (`0.141.0` or `v0.141.0`). */
  target: string;
  /** The known, non-draft releases, in any order. */
  releases: ReleaseSummary[];
  allowPrerelease: boolean;
}

export interface PlannedRelease {
  version: string;
  url: string;
  bump: Bump;
  breakingCount: number;
}

export type PlannedBreakingChange = BreakingChange & { versions: string[] };

export interface PlanFlags {
  migrations: boolean;
  encryption: boolean;
  destructive: boolean;
  truncated: boolean;
}

export interface UpgradePlan {
  from: string;
  to: string;
  /** Both readings of the current version, shown side by side. */
  current: CurrentVersion;
  /** Every release after `from` up to and including `to`, oldest first. */
  releasesInRange: PlannedRelease[];
  /** Each distinct breaking change once, operator-facing first, then in release order. */
  breaking: PlannedBreakingChange[];
  /** How many minor (or major) release lines the upgrade enters: each minor may break. */
  minorsCrossed: number;
  flags: PlanFlags;
  /** `/api/about` and the image tag disagree. */
  versionMismatch: boolean;
  /** The target did not answer, so the current version comes from the image tag alone. */
  unreachable: boolean;
}

function sameVersion(a: string, b: string): boolean {
  return isValidVersion(a) && isValidVersion(b) && normalizeVersion(a) === normalizeVersion(b);
}

function currentVersionOf(current: CurrentVersion): string {
  if (current.apiVersion !== null && isValidVersion(current.apiVersion)) return normalizeVersion(current.apiVersion);
  if (current.imageTag !== null && isValidVersion(current.imageTag)) return normalizeVersion(current.imageTag);
  const tag = current.imageTag === null ? 'no image tag was found' : `the image tag is \`${echoUserInput(current.imageTag)}\``;
  const api = current.reachable
    ? '`/api/about` gave no version'
    : 'the target did not answer';
  throw new AppError(
    'not_found',
    `The bot cannot tell which version the target runs (${api}, and ${tag}), so it cannot plan an upgrade. ` +
      'Pin the running container to an exact tag such as `0.140.0`, then try again; `/checkstack status` shows what the bot sees.',
  );
}

function isPrereleaseSummary(release: ReleaseSummary): boolean {
  return release.bump === 'prerelease' || semver.prerelease(release.version) !== null;
}

/**
 * Plans an upgrade of a target from what it runs to `input.target`.
 * Throws what `parseRequestedVersion` throws for the target, `not_found` (current version unknown), `version_already_running`,
 * `downgrade_refused`, `version_not_released` or `prerelease_not_allowed`.
 */
export function planUpgrade(input: PlanUpgradeInput): UpgradePlan {
  const { current, releases, allowPrerelease } = input;
  const to = parseRequestedVersion(input.target);
  const from = currentVersionOf(current);

  const bump = classifyBump(from, to);
  if (bump === 'same') {
    throw new AppError(
      'version_already_running',
      `The target already runs \`${to}\`: there is nothing to upgrade. \`/checkstack releases\` lists newer versions.`,
    );
  }
  if (bump === 'downgrade') {
    throw new AppError(
      'downgrade_refused',
      `\`${to}\` is older than the running \`${from}\`, and the bot does not downgrade: migrations have no down step, so going back means restoring the database. ` +
        'To undo the last upgrade, type `/checkstack rollback`.',
    );
  }

  const known = releases.filter((release) => isValidVersion(release.version));
  const target = known.find((release) => sameVersion(release.version, to));
  if (target === undefined) {
    throw new AppError(
      'version_not_released',
      `\`${to}\` is not a published Checkstack release (drafts do not count). \`/checkstack releases\` lists the published ones; type one of them exactly.`,
    );
  }
  if (isPrereleaseSummary(target) && !allowPrerelease) {
    throw new AppError(
      'prerelease_not_allowed',
      `\`${to}\` is a prerelease. If you mean it, add \`--prerelease\`: \`/checkstack upgrade ${to} --prerelease\`; otherwise pick a stable release from \`/checkstack releases\`.`,
    );
  }

  // Prereleases between the two are left out: their changes reach the range through the stable release that follows.
  const inRange = known
    .filter((release) => {
      const version = normalizeVersion(release.version);
      if (semver.lte(version, from) || semver.gt(version, to)) return false;
      return version === to || !isPrereleaseSummary(release);
    })
    .sort((a, b) => semver.compare(normalizeVersion(a.version), normalizeVersion(b.version)));
  const unique = inRange.filter(
    (release, index) => index === 0 || !sameVersion(release.version, inRange[index - 1]?.version ?? ''),
  );

  const releasesInRange: PlannedRelease[] = unique.map((release) => ({
    version: normalizeVersion(release.version),
    url: release.url,
    bump: release.bump,
    breakingCount: new Set(release.breaking.map((change) => change.id)).size,
  }));

  return {
    from,
    to,
    current: { ...current },
    releasesInRange,
    breaking: aggregateBreaking(unique),
    minorsCrossed: minorsCrossed(from, unique),
    flags: {
      migrations: unique.some((release) => release.migrations),
      encryption: unique.some((release) => release.encryption),
      destructive: unique.some((release) => release.destructive),
      truncated: unique.some((release) => release.truncated),
    },
    versionMismatch:
      current.apiVersion !== null && current.imageTag !== null && !sameVersion(current.apiVersion, current.imageTag),
    unreachable: !current.reachable,
  };
}

/**
 * Whether the target's version moved since the plan was made (someone upgraded by hand): the request is then
 * invalid. Each reading counts only when known both then and now, so a target briefly not answering does not
 * invalidate a request by itself.
 */
export function hasVersionChanged(plan: UpgradePlan, now: CurrentVersion): boolean {
  const moved = (then: string | null, current: string | null): boolean =>
    then !== null && current !== null && then.trim() !== current.trim() && !sameVersion(then, current);
  return moved(plan.current.apiVersion, now.apiVersion) || moved(plan.current.imageTag, now.imageTag);
}

/** One entry per changeset id across all releases (oldest first); operator-facing entries come first. */
function aggregateBreaking(releasesOldestFirst: ReleaseSummary[]): PlannedBreakingChange[] {
  const byId = new Map<string, PlannedBreakingChange>();
  for (const release of releasesOldestFirst) {
    const version = normalizeVersion(release.version);
    for (const change of release.breaking) {
      const seen = byId.get(change.id);
      if (seen === undefined) {
        byId.set(change.id, { ...change, packages: [...new Set(change.packages)].sort(), versions: [version] });
        continue;
      }
      if (!seen.versions.includes(version)) seen.versions.push(version);
      seen.packages = [...new Set([...seen.packages, ...change.packages])].sort();
      if (change.audience === 'operator') seen.audience = 'operator';
    }
  }
  const all = [...byId.values()];
  return [
    ...all.filter((change) => change.audience === 'operator'),
    ...all.filter((change) => change.audience !== 'operator'),
  ];
}

/** Release lines (major.minor) entered after `from`'s own line, counted from the releases themselves. */
function minorsCrossed(from: string, releasesInRange: ReleaseSummary[]): number {
  const line = (version: string): string => {
    const parsed = semver.parse(normalizeVersion(version));
    return parsed === null ? '' : `${parsed.major}.${parsed.minor}`;
  };
  const fromLine = line(from);
  return new Set(releasesInRange.map((release) => line(release.version)).filter((l) => l !== fromLine)).size;
}
