import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { BreakingChange, ReleaseSummary } from '../../src/domain/release-types.js';
import { hasVersionChanged, planUpgrade, type CurrentVersion, type PlanUpgradeInput } from '../../src/domain/upgrade-plan.js';
import { loadFixtureReleases } from '../support/fixtures.js';

// Summaries written by hand from what the fixture notes say (the parser is built in parallel);
// versions and URLs come from the fixture itself.
const BREAKING_BY_TAG: Record<string, BreakingChange[]> = {
  'v0.4.0': [
    {
      id: '8e43507',
      title: 'BREAKING: `getSystems` now returns `{ systems: [...] }` instead of plain array',
      packages: ['@checkstack/auth-backend', '@checkstack/catalog-backend', '@checkstack/catalog-common'],
      audience: 'operator',
    },
    {
      id: '97c5a6b',
      title: 'Add UUID-based collector identification for better multiple collector support',
      packages: ['@checkstack/healthcheck-backend', '@checkstack/healthcheck-common', '@checkstack/healthcheck-http-backend'],
      audience: 'operator',
    },
  ],
  'v0.28.0': [
    {
      id: '1b9cb25',
      title: 'Unified chart data to always use aggregated history with fixed target points.',
      packages: ['@checkstack/healthcheck-frontend'],
      audience: 'plugin-author',
    },
  ],
  'v0.30.0': [
    {
      id: '3dd1914',
      title: 'Migrate health check strategies to VersionedAggregated with _type discriminator',
      packages: ['@checkstack/backend-api', '@checkstack/healthcheck-backend', '@checkstack/healthcheck-http-backend'],
      audience: 'plugin-author',
    },
  ],
};
const MIGRATIONS = new Set(['v0.4.0', 'v0.16.0']);
const TRUNCATED = new Set(['v0.5.0']);

function fixtureSummaries(): ReleaseSummary[] {
  const releases = loadFixtureReleases();
  return releases.map((release, index) => ({
    version: release.tag_name.replace(/^v/, ''),
    previous: releases[index + 1]?.tag_name.replace(/^v/, '') ?? null,
    bump: index === releases.length - 1 ? 'first' : 'minor',
    breaking: BREAKING_BY_TAG[release.tag_name] ?? [],
    migrations: MIGRATIONS.has(release.tag_name),
    encryption: false,
    destructive: false,
    truncated: TRUNCATED.has(release.tag_name),
    url: release.html_url,
  }));
}

function summary(version: string, overrides: Partial<ReleaseSummary> = {}): ReleaseSummary {
  return {
    version,
    previous: null,
    bump: 'minor',
    breaking: [],
    migrations: false,
    encryption: false,
    destructive: false,
    truncated: false,
    url: `https://github.com/enyineer/checkstack/releases/tag/v${version}`,
    ...overrides,
  };
}

const RUNNING = (version: string): CurrentVersion => ({ apiVersion: version, imageTag: version, reachable: true });

function input(overrides: Partial<PlanUpgradeInput>): PlanUpgradeInput {
  return { current: RUNNING('0.4.0'), target: '0.30.0', releases: fixtureSummaries(), allowPrerelease: false, ...overrides };
}

function refusal(args: PlanUpgradeInput): AppError {
  try {
    planUpgrade(args);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the plan to be refused');
}

describe('planUpgrade across the fixture releases', () => {
  it('lists every release after the current one up to the target, oldest first, with links', () => {
    const plan = planUpgrade(input({ current: RUNNING('0.4.0'), target: 'v0.30.0' }));

    expect(plan.from).toBe('0.4.0');
    expect(plan.to).toBe('0.30.0');
    expect(plan.releasesInRange.map((release) => release.version)).toEqual([
      '0.5.0', '0.10.0', '0.16.0', '0.22.0', '0.25.0', '0.27.0', '0.28.0', '0.30.0',
    ]);
    expect(plan.releasesInRange.at(-1)).toEqual({
      version: '0.30.0',
      url: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0',
      bump: 'minor',
      breakingCount: 1,
    });
  });

  it('counts the minor versions crossed from the releases themselves', () => {
    const plan = planUpgrade(input({ current: RUNNING('0.4.0'), target: '0.30.0' }));

    expect(plan.minorsCrossed).toBe(8);
  });

  it('aggregates breaking changes in range, operator-facing first, each with its versions', () => {
    const plan = planUpgrade(input({ current: RUNNING('0.27.0'), target: '0.30.0' }));

    expect(plan.breaking.map((change) => [change.id, change.versions])).toEqual([
      ['1b9cb25', ['0.28.0']],
      ['3dd1914', ['0.30.0']],
    ]);
  });

  it('leaves out the breaking changes of the release already running', () => {
    const plan = planUpgrade(input({ current: RUNNING('0.4.0'), target: '0.30.0' }));

    expect(plan.breaking.map((change) => change.id)).not.toContain('8e43507');
  });

  it('raises the flags of any release in range', () => {
    const plan = planUpgrade(input({ current: RUNNING('0.4.0'), target: '0.16.0' }));

    expect(plan.flags).toEqual({ migrations: true, encryption: false, destructive: false, truncated: true });
  });

  it('keeps the flags of releases outside the range out', () => {
    const plan = planUpgrade(input({ current: RUNNING('0.22.0'), target: '0.30.0' }));

    expect(plan.flags).toEqual({ migrations: false, encryption: false, destructive: false, truncated: false });
  });
});

describe('planUpgrade: deduplication and order of breaking changes', () => {
  const shared: BreakingChange = {
    id: 'a1b2c3d',
    title: 'Rename `CHECKSTACK_DB_URL` to `DATABASE_URL`',
    packages: ['@checkstack/backend'],
    audience: 'operator',
  };
  const releases = [
    summary('0.142.0', {
      breaking: [
        { id: 'f00ba12', title: 'Remove `createStrategyDiagramExtension`', packages: ['@checkstack/healthcheck-frontend'], audience: 'plugin-author' },
        { ...shared, packages: ['@checkstack/backend', '@checkstack/release'] },
      ],
    }),
    summary('0.141.1', { bump: 'patch', breaking: [shared] }),
    summary('0.141.0', {
      breaking: [
        { id: 'c0ffee1', title: 'New `sortOrder` input required by `getHistory`', packages: ['@checkstack/healthcheck-common'], audience: 'plugin-author' },
        shared,
      ],
    }),
    summary('0.140.0'),
  ];

  it('lists a change found in several releases once, naming every version and package', () => {
    const plan = planUpgrade({ current: RUNNING('0.140.0'), target: '0.142.0', releases, allowPrerelease: false });

    const entries = plan.breaking.filter((change) => change.id === shared.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.versions).toEqual(['0.141.0', '0.141.1', '0.142.0']);
    expect(entries[0]?.packages).toEqual(['@checkstack/backend', '@checkstack/release']);
  });

  it('puts operator-facing changes first, then the others in release order', () => {
    const plan = planUpgrade({ current: RUNNING('0.140.0'), target: '0.142.0', releases, allowPrerelease: false });

    expect(plan.breaking.map((change) => change.id)).toEqual(['a1b2c3d', 'c0ffee1', 'f00ba12']);
  });

  it('counts two minor lines for 0.140.0 → 0.142.0 and none within a line', () => {
    expect(planUpgrade({ current: RUNNING('0.140.0'), target: '0.142.0', releases, allowPrerelease: false }).minorsCrossed).toBe(2);
    expect(planUpgrade({ current: RUNNING('0.141.0'), target: '0.141.1', releases, allowPrerelease: false }).minorsCrossed).toBe(0);
  });
});

describe('planUpgrade: the current version', () => {
  const releases = [summary('0.141.0'), summary('0.140.0'), summary('0.139.0')];

  it('prefers /api/about and flags a disagreeing image tag', () => {
    const plan = planUpgrade({
      current: { apiVersion: '0.140.0', imageTag: '0.139.0', reachable: true },
      target: '0.141.0',
      releases,
      allowPrerelease: false,
    });

    expect(plan.from).toBe('0.140.0');
    expect(plan.versionMismatch).toBe(true);
    expect(plan.current).toEqual({ apiVersion: '0.140.0', imageTag: '0.139.0', reachable: true });
  });

  it('does not flag `v0.140.0` against `0.140.0`', () => {
    const plan = planUpgrade({
      current: { apiVersion: '0.140.0', imageTag: 'v0.140.0', reachable: true },
      target: '0.141.0',
      releases,
      allowPrerelease: false,
    });

    expect(plan.versionMismatch).toBe(false);
  });

  it('flags a container running `latest` as a disagreement', () => {
    const plan = planUpgrade({
      current: { apiVersion: '0.140.0', imageTag: 'latest', reachable: true },
      target: '0.141.0',
      releases,
      allowPrerelease: false,
    });

    expect(plan.versionMismatch).toBe(true);
  });

  it('falls back to the image tag when the target is unreachable, and says so', () => {
    const plan = planUpgrade({
      current: { apiVersion: null, imageTag: '0.139.0', reachable: false },
      target: '0.141.0',
      releases,
      allowPrerelease: false,
    });

    expect(plan.from).toBe('0.139.0');
    expect(plan.unreachable).toBe(true);
    expect(plan.versionMismatch).toBe(false);
  });

  it('refuses to plan when neither reading gives a version', () => {
    const err = refusal({
      current: { apiVersion: null, imageTag: 'latest', reachable: false },
      target: '0.141.0',
      releases,
      allowPrerelease: false,
    });

    expect(err.code).toBe('not_found');
    expect(err.message).toContain('`latest`');
    expect(err.message).toContain('/checkstack status');
  });
});

describe('planUpgrade refusals', () => {
  const releases = [
    summary('0.142.0-rc.1', { bump: 'prerelease' }),
    summary('0.141.0'),
    summary('0.141.0-rc.1', { bump: 'prerelease' }),
    summary('0.140.0'),
  ];

  it('refuses the version already running', () => {
    const err = refusal({ current: RUNNING('0.141.0'), target: 'v0.141.0', releases, allowPrerelease: false });

    expect(err.code).toBe('version_already_running');
  });

  it('refuses a downgrade and points to rollback', () => {
    const err = refusal({ current: RUNNING('0.141.0'), target: '0.140.0', releases, allowPrerelease: false });

    expect(err.code).toBe('downgrade_refused');
    expect(err.message).toContain('`/checkstack rollback`');
  });

  it('refuses a version that is not a published release', () => {
    const err = refusal({ current: RUNNING('0.140.0'), target: '0.143.0', releases, allowPrerelease: false });

    expect(err.code).toBe('version_not_released');
    expect(err.message).toContain('/checkstack releases');
  });

  it('refuses a prerelease unless --prerelease was given', () => {
    const err = refusal({ current: RUNNING('0.141.0'), target: '0.142.0-rc.1', releases, allowPrerelease: false });

    expect(err.code).toBe('prerelease_not_allowed');
    expect(err.message).toContain('`/checkstack upgrade 0.142.0-rc.1 --prerelease`');
  });

  it('plans a prerelease with --prerelease', () => {
    const plan = planUpgrade({ current: RUNNING('0.141.0'), target: '0.142.0-rc.1', releases, allowPrerelease: true });

    expect(plan.releasesInRange.map((release) => release.version)).toEqual(['0.142.0-rc.1']);
  });

  it('leaves prereleases between current and target out of the range', () => {
    const plan = planUpgrade({ current: RUNNING('0.140.0'), target: '0.141.0', releases, allowPrerelease: false });

    expect(plan.releasesInRange.map((release) => release.version)).toEqual(['0.141.0']);
  });

  it('refuses a target that is not an exact version', () => {
    expect(refusal({ current: RUNNING('0.140.0'), target: 'latest', releases, allowPrerelease: false }).code).toBe('version_not_allowed');
    expect(refusal({ current: RUNNING('0.140.0'), target: 'nope', releases, allowPrerelease: false }).code).toBe('invalid_input');
  });
});

describe('hasVersionChanged', () => {
  const releases = [summary('0.141.0'), summary('0.140.0')];
  const plan = planUpgrade({ current: RUNNING('0.140.0'), target: '0.141.0', releases, allowPrerelease: false });

  it('invalidates a request when the target was upgraded underneath it', () => {
    expect(hasVersionChanged(plan, RUNNING('0.141.0'))).toBe(true);
    expect(hasVersionChanged(plan, { apiVersion: '0.140.0', imageTag: '0.141.0', reachable: true })).toBe(true);
  });

  it('keeps it when nothing moved, or a reading is only missing now', () => {
    expect(hasVersionChanged(plan, { apiVersion: '0.140.0', imageTag: 'v0.140.0', reachable: true })).toBe(false);
    expect(hasVersionChanged(plan, { apiVersion: null, imageTag: '0.140.0', reachable: false })).toBe(false);
  });
});
