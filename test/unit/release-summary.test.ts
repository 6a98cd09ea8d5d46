import { describe, expect, it } from 'vitest';
import {
  packagesNeedingChangelog,
  parsePackageChangelog,
  summarizeRelease,
  summarizeReleases,
  versionFromTag,
} from '../../src/domain/release-summary.js';
import { formatSummaryText } from '../../src/domain/release-summary-text.js';
import { policyHint } from '../../src/domain/bump-policy.js';
import type { BreakingChange, GithubRelease, ReleaseSummary } from '../../src/domain/release-types.js';
import { loadFixtureReleases } from '../support/fixtures.js';

// The exact notice enyineer/checkstack's scripts/aggregate-changelog.ts appends to bodies over 60,000 characters.
const TRUNCATION_NOTICE = `

---

> ⚠️ **Release notes truncated** due to GitHub's character limit.
> See individual package \`CHANGELOG.md\` files for complete details.
`;

const HEALTHCHECK_STRATEGY_PACKAGES = [
  '@checkstack/backend-api',
  '@checkstack/healthcheck-backend',
  '@checkstack/healthcheck-dns-backend',
  '@checkstack/healthcheck-frontend',
  '@checkstack/healthcheck-grpc-backend',
  '@checkstack/healthcheck-http-backend',
  '@checkstack/healthcheck-jenkins-backend',
  '@checkstack/healthcheck-mysql-backend',
  '@checkstack/healthcheck-ping-backend',
  '@checkstack/healthcheck-postgres-backend',
  '@checkstack/healthcheck-rcon-backend',
  '@checkstack/healthcheck-redis-backend',
  '@checkstack/healthcheck-script-backend',
  '@checkstack/healthcheck-ssh-backend',
  '@checkstack/healthcheck-tcp-backend',
  '@checkstack/healthcheck-tls-backend',
  '@checkstack/release',
];

const TEAMS_PACKAGES = [
  '@checkstack/auth-backend',
  '@checkstack/auth-common',
  '@checkstack/auth-frontend',
  '@checkstack/backend',
  '@checkstack/backend-api',
  '@checkstack/catalog-common',
  '@checkstack/catalog-frontend',
  '@checkstack/common',
  '@checkstack/dashboard-frontend',
  '@checkstack/healthcheck-backend',
  '@checkstack/healthcheck-common',
  '@checkstack/healthcheck-frontend',
  '@checkstack/incident-backend',
  '@checkstack/incident-common',
  '@checkstack/incident-frontend',
  '@checkstack/maintenance-backend',
  '@checkstack/maintenance-common',
  '@checkstack/maintenance-frontend',
];

interface Expected {
  previous: string | null;
  bump: ReleaseSummary['bump'];
  breaking: BreakingChange[];
  migrations: boolean;
  truncated: boolean;
}

// Established by reading each body (see the notes per row), not by running the parser.
const EXPECTED: Record<string, Expected> = {
  // Inline `**Breaking Change**:` under 17 packages; TypeScript APIs only. "Migrate ... to VersionedAggregated" is code.
  'v0.30.0': {
    previous: '0.28.0',
    bump: 'minor',
    breaking: [
      {
        id: '3dd1914',
        title: 'Migrate health check strategies to VersionedAggregated with _type discriminator',
        packages: HEALTHCHECK_STRATEGY_PACKAGES,
        audience: 'plugin-author',
      },
    ],
    migrations: false,
    truncated: false,
  },
  // `**Breaking Changes:**` removes frontend types; `**Migration:**` is a code guide, not a database migration.
  'v0.28.0': {
    previous: '0.27.0',
    bump: 'minor',
    breaking: [
      {
        id: '1b9cb25',
        title: 'Unified chart data to always use aggregated history with fixed target points.',
        packages: ['@checkstack/healthcheck-frontend'],
        audience: 'plugin-author',
      },
    ],
    migrations: false,
    truncated: false,
  },
  // "database table not found errors" is about error logging, not a schema change.
  'v0.27.0': { previous: '0.25.0', bump: 'minor', breaking: [], migrations: false, truncated: false },
  'v0.25.0': { previous: '0.22.0', bump: 'minor', breaking: [], migrations: false, truncated: false },
  'v0.22.0': { previous: '0.16.0', bump: 'minor', breaking: [], migrations: false, truncated: false },
  // Adds `suppressNotifications` to the maintenance schema and fixes how plugin migrations run.
  'v0.16.0': { previous: '0.10.0', bump: 'minor', breaking: [], migrations: true, truncated: false },
  'v0.10.0': { previous: '0.5.0', bump: 'minor', breaking: [], migrations: false, truncated: false },
  // No marker anywhere in what survived; "###### Migration Guide" is a code guide; the body ends with the notice.
  'v0.5.0': { previous: '0.4.0', bump: 'minor', breaking: [], migrations: false, truncated: true },
  // Two distinct changesets share commit 8e43507; the Teams one adds a `resourceAccessSettings` table.
  'v0.4.0': {
    previous: null,
    bump: 'first',
    breaking: [
      {
        id: '8e43507',
        title: 'getSystems now returns { systems: [...] } instead of plain array',
        packages: ['@checkstack/catalog-backend', '@checkstack/catalog-common'],
        audience: 'operator',
      },
      {
        id: '8e43507',
        title: 'Teams and Resource-Level Access Control',
        packages: TEAMS_PACKAGES,
        audience: 'operator',
      },
      {
        id: '97c5a6b',
        title: 'Add UUID-based collector identification for better multiple collector support',
        packages: [
          '@checkstack/healthcheck-backend',
          '@checkstack/healthcheck-common',
          '@checkstack/healthcheck-frontend',
          '@checkstack/healthcheck-http-backend',
        ],
        audience: 'operator',
      },
    ],
    migrations: true,
    truncated: false,
  },
};

function fixture(tag: string): GithubRelease {
  const release = loadFixtureReleases().find((candidate) => candidate.tag_name === tag);
  if (!release) throw new Error(`fixture ${tag} missing`);
  return release;
}

/** A release in the real body shape: header, then `# Checkstack vX Changelog` and the given sections. */
function release(tag: string, changelog: string, overrides: Partial<GithubRelease> = {}): GithubRelease {
  const version = tag.replace(/^v/, '');
  return {
    id: 1,
    tag_name: tag,
    name: `Checkstack ${tag}`,
    body: `## Docker Image\n\n\`\`\`bash\ndocker pull ghcr.io/enyineer/checkstack:${version}\n\`\`\`\n\n# Checkstack ${tag} Changelog\n\n${changelog}`,
    draft: false,
    prerelease: false,
    published_at: '2026-02-01T10:00:00Z',
    html_url: `https://github.com/enyineer/checkstack/releases/tag/${tag}`,
    ...overrides,
  };
}

describe('summarizeReleases over every fixture release', () => {
  const summaries = summarizeReleases(loadFixtureReleases());

  it('covers every fixture, newest first', () => {
    expect(summaries.map((summary) => `v${summary.version}`)).toEqual(Object.keys(EXPECTED));
  });

  it.each(Object.entries(EXPECTED))('%s matches what its body says', (tag, expected) => {
    const summary = summaries.find((candidate) => `v${candidate.version}` === tag);

    expect(summary).toEqual({
      version: tag.slice(1),
      previous: expected.previous,
      bump: expected.bump,
      breaking: expected.breaking,
      migrations: expected.migrations,
      encryption: false,
      destructive: false,
      truncated: expected.truncated,
      url: `https://github.com/enyineer/checkstack/releases/tag/${tag}`,
    });
  });

  it('gives one-line titles without markdown', () => {
    const titles = summaries.flatMap((summary) => summary.breaking.map((change) => change.title));

    for (const title of titles) {
      expect(title).not.toMatch(/\n|\*\*|`/);
      expect(title.length).toBeLessThanOrEqual(150);
    }
  });
});

describe('the package listed under "## Breaking Changes"', () => {
  const catalogCommonChangelog = [
    '# @checkstack/catalog-common',
    '',
    '## 1.0.0',
    '',
    '### Major Changes',
    '',
    '- 8e43507: BREAKING: `getSystems` now returns `{ systems: [...] }` instead of plain array',
    '',
    '  ## Breaking Changes',
    '',
    '  - `getSystems()` now returns `{ systems: System[] }` instead of `System[]`',
    '',
    '### Minor Changes',
    '',
    '- 8e43507: # Teams and Resource-Level Access Control',
    '',
    '  ## Breaking Changes',
    '',
    '  ### API Response Format Changes',
    '',
    '### Patch Changes',
    '',
    '- Updated dependencies [8e43507]',
    '  - @checkstack/common@0.1.0',
    '',
    '## 0.0.3',
    '',
    '### Patch Changes',
    '',
    '- Updated dependencies [f5b1f49]',
  ].join('\n');

  const bugFixUnderBreaking = release(
    'v0.4.0',
    [
      '## Breaking Changes',
      '',
      '### @checkstack/catalog-common@1.0.0',
      '',
      '- abc1234: BREAKING: `getSystems` now returns `{ systems: [...] }` instead of plain array',
      '',
      '  The middleware needs a consistent object format with named keys to filter list endpoints.',
      '',
      '- def5678: Fix the system list losing its sort order after a refresh',
      '- Updated dependencies [abc1234]',
      '  - @checkstack/common@0.1.0',
      '',
      '## Minor Changes',
      '',
      '### @checkstack/catalog-backend@0.1.0',
      '',
      '- abc1234: BREAKING: `getSystems` now returns `{ systems: [...] }` instead of plain array',
      '',
    ].join('\n'),
  );
  const bugFixChangelog = [
    '## 1.0.0',
    '',
    '### Major Changes',
    '',
    '- abc1234: BREAKING: `getSystems` now returns `{ systems: [...] }` instead of plain array',
    '',
    '### Patch Changes',
    '',
    '- def5678: Fix the system list losing its sort order after a refresh',
    '',
  ].join('\n');

  it('counts every entry of the package as breaking when no changelog is given', () => {
    const summary = summarizeRelease(bugFixUnderBreaking, null);

    expect(summary.breaking.map((change) => change.id)).toEqual(['abc1234', 'def5678']);
  });

  it('keeps only the real major entries once the package CHANGELOG.md is given', () => {
    const packageChangelogs = new Map([['@checkstack/catalog-common', bugFixChangelog]]);

    const summary = summarizeRelease(bugFixUnderBreaking, null, { packageChangelogs });

    expect(summary.breaking).toEqual([
      {
        id: 'abc1234',
        title: 'getSystems now returns { systems: [...] } instead of plain array',
        packages: ['@checkstack/catalog-backend', '@checkstack/catalog-common'],
        audience: 'operator',
      },
    ]);
  });

  it('keeps a minor entry of the real v0.4.0 that carries its own "Breaking Changes" heading', () => {
    const packageChangelogs = new Map([['@checkstack/catalog-common', catalogCommonChangelog]]);

    const summary = summarizeRelease(fixture('v0.4.0'), null, { packageChangelogs });

    expect(summary.breaking).toEqual(EXPECTED['v0.4.0']?.breaking);
  });

  it('names the packages whose changelog settles the doubt', () => {
    expect(packagesNeedingChangelog(fixture('v0.4.0'))).toEqual(['@checkstack/catalog-common']);
    expect(packagesNeedingChangelog(fixture('v0.30.0'))).toEqual([]);
  });

  it('reads the bump of each changeset from a CHANGELOG.md version section', () => {
    expect(parsePackageChangelog(bugFixChangelog, '1.0.0')).toEqual(
      new Map([
        ['abc1234', 'major'],
        ['def5678', 'patch'],
      ]),
    );
    // One commit, two changesets (major and minor): the hash keeps its highest bump.
    expect(parsePackageChangelog(catalogCommonChangelog, '1.0.0')).toEqual(new Map([['8e43507', 'major']]));
    expect(parsePackageChangelog(catalogCommonChangelog, '9.9.9')).toEqual(new Map());
  });
});

describe('one entry per distinct change', () => {
  it('lists the same changeset under 17 packages once', () => {
    const summary = summarizeRelease(fixture('v0.30.0'), '0.28.0');

    expect(summary.breaking).toHaveLength(1);
    expect(summary.breaking[0]?.packages).toEqual(HEALTHCHECK_STRATEGY_PACKAGES);
  });

  it('gives an entry without a hash a stable 7-hex id', () => {
    const noHash = release('v0.31.0', '## Minor Changes\n\n### @checkstack/backend@0.5.0\n\n- BREAKING: the `/api/v0` prefix is gone\n');

    const first = summarizeRelease(noHash, '0.30.0').breaking[0];
    const second = summarizeRelease(noHash, '0.30.0').breaking[0];

    expect(first?.id).toMatch(/^[0-9a-f]{7}$/);
    expect(second?.id).toBe(first?.id);
    expect(first?.audience).toBe('operator');
  });
});

describe('migrations flag', () => {
  it('is not set by "Migrate X to Y" code changes or code migration guides', () => {
    const codeOnly = release(
      'v0.31.0',
      [
        '## Minor Changes',
        '',
        '### @checkstack/backend-api@0.8.0',
        '',
        '- 1111111: Migrate notification strategies to the new registry API',
        '',
        '  **Migration:**',
        '',
        '  - Plugins should call `registerStrategy` instead of `addStrategy`',
        '',
      ].join('\n'),
    );

    expect(summarizeRelease(codeOnly, '0.30.0').migrations).toBe(false);
  });

  it('is set by a database migration', () => {
    const schemaChange = release(
      'v0.31.0',
      '## Minor Changes\n\n### @checkstack/incident-backend@0.5.0\n\n- 2222222: Add a `resolved_by` column to incidents; the database migration runs at boot\n',
    );

    expect(summarizeRelease(schemaChange, '0.30.0').migrations).toBe(true);
  });
});

describe('releases the fixture set lacks', () => {
  it('flags encryption key rotation and calls it an operator change', () => {
    const keyRotation = release(
      'v0.150.0',
      [
        '## Minor Changes',
        '',
        '### @checkstack/backend@0.40.0',
        '',
        '- 5e6f7a8: Add master key rotation with re-encryption of stored secrets',
        '',
        '  **Breaking Change**: Set `ENCRYPTION_MASTER_KEY_PREVIOUS` to the old key while the re-encryption command runs; remove it only after the re-encryption reports no failures.',
        '',
      ].join('\n'),
    );

    const summary = summarizeRelease(keyRotation, '0.149.0');

    expect(summary.encryption).toBe(true);
    expect(summary.destructive).toBe(false);
    expect(summary.breaking).toEqual([
      {
        id: '5e6f7a8',
        title: 'Add master key rotation with re-encryption of stored secrets',
        packages: ['@checkstack/backend'],
        audience: 'operator',
      },
    ]);
  });

  it('flags a migration that drops a column as destructive', () => {
    const dropColumn = release(
      'v0.151.0',
      [
        '## Minor Changes',
        '',
        '### @checkstack/healthcheck-backend@0.20.0',
        '',
        '- 9a8b7c6: Drop the legacy `raw_result` column from health check runs',
        '',
        '  BREAKING: the database migration drops the column and is irreversible; back up the database first.',
        '',
      ].join('\n'),
    );

    const summary = summarizeRelease(dropColumn, '0.150.0');

    expect(summary).toMatchObject({ migrations: true, destructive: true, encryption: false });
    expect(summary.breaking[0]?.audience).toBe('operator');
  });

  it('does not count "non-breaking" text', () => {
    const nonBreaking = release(
      'v0.30.1',
      [
        '## Patch Changes',
        '',
        '### @checkstack/ui@0.6.1',
        '',
        '- 3c4d5e6: Non-breaking change: `Button` accepts an optional `loading` prop',
        '- 4d5e6f7: **Non-breaking**: adds a tooltip to the status badge',
        '- 5e6f7a8: Tidy the settings page. This is a non-breaking change, no action needed.',
        '',
      ].join('\n'),
    );

    expect(summarizeRelease(nonBreaking, '0.30.0').breaking).toEqual([]);
  });

  it('detects the truncation notice and asks for every package it names', () => {
    const truncated = release(
      'v0.152.0',
      [
        '## Minor Changes',
        '',
        '### @checkstack/auth-backend@0.9.0',
        '',
        '- 6a7b8c9: Add SSO group mapping',
        '- Updated dependencies [7b8c9d0]',
        '  - @checkstack/signal-common@0.4.0',
        TRUNCATION_NOTICE,
      ].join('\n'),
    );
    const signalCommonChangelog = [
      '## 0.4.0',
      '',
      '### Major Changes',
      '',
      '- 7b8c9d0: Signals are sent over the `/api/signals` websocket endpoint only',
      '',
      '## 0.3.0',
      '',
      '### Major Changes',
      '',
      '- 0000000: An older breaking change that belongs to another release',
    ].join('\n');

    const withoutChangelogs = summarizeRelease(truncated, '0.151.0');
    const withChangelogs = summarizeRelease(truncated, '0.151.0', {
      packageChangelogs: new Map([['@checkstack/signal-common', signalCommonChangelog]]),
    });

    expect(withoutChangelogs).toMatchObject({ truncated: true, breaking: [] });
    expect(packagesNeedingChangelog(truncated)).toEqual(['@checkstack/auth-backend', '@checkstack/signal-common']);
    expect(withChangelogs.breaking).toEqual([
      {
        id: '7b8c9d0',
        title: 'Signals are sent over the /api/signals websocket endpoint only',
        packages: ['@checkstack/signal-common'],
        audience: 'operator',
      },
    ]);
  });

  it('drops drafts and classifies prerelease and patch bumps', () => {
    const releases = [
      release('v0.30.0', '## Minor Changes\n'),
      release('v0.31.0', '## Minor Changes\n'),
      release('v0.32.0', '## Minor Changes\n', { draft: true }),
      release('v0.31.0-rc.1', '## Minor Changes\n', { prerelease: true }),
      release('v0.31.1', '## Patch Changes\n'),
    ];

    const summaries = summarizeReleases(releases);

    expect(summaries.map(({ version, previous, bump }) => ({ version, previous, bump }))).toEqual([
      { version: '0.31.1', previous: '0.31.0', bump: 'patch' },
      { version: '0.31.0', previous: '0.31.0-rc.1', bump: 'minor' },
      { version: '0.31.0-rc.1', previous: '0.30.0', bump: 'prerelease' },
      { version: '0.30.0', previous: null, bump: 'first' },
    ]);
  });

  it('clips a long first line to one title of at most 150 characters', () => {
    const longLine = release(
      'v0.31.0',
      `## Minor Changes\n\n### @checkstack/backend@0.5.0\n\n- 8b9c0d1: **BREAKING:** \`${'x'.repeat(300)}\`\n`,
    );

    const title = summarizeRelease(longLine, '0.30.0').breaking[0]?.title ?? '';

    expect(title).toHaveLength(150);
    expect(title.endsWith('…')).toBe(true);
    expect(title).not.toMatch(/\*|`/);
  });

  it('clips a title of emoji and flags between characters, never inside a UTF-16 pair or a flag', () => {
    for (const lead of [0, 1, 2, 3]) {
      const line = `${'a'.repeat(lead)}${'🚀'.repeat(40)}${'🇩🇪'.repeat(40)}`;
      const notes = release('v0.31.0', `## Minor Changes\n\n### @checkstack/backend@0.5.0\n\n- 8b9c0d1: **BREAKING:** ${line}\n`);

      const title = summarizeRelease(notes, '0.30.0').breaking[0]?.title ?? '';

      expect(title.length).toBeLessThanOrEqual(150);
      expect(title.endsWith('…')).toBe(true);
      expect(line.startsWith(title.slice(0, -1))).toBe(true);
      expect(title.slice(lead + 80, -1).length % 4, `lead ${lead}: ${title}`).toBe(0);
      expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(title)).toBe(false);
    }
  });
});

describe('versionFromTag', () => {
  it.each([
    ['v0.30.0', '0.30.0'],
    ['0.30.0', '0.30.0'],
    ['v0.31.0-rc.1', '0.31.0-rc.1'],
    ['v0.30', null],
    ['latest', null],
    ['release-0.30.0', null],
  ])('%s -> %s', (tag, version) => {
    expect(versionFromTag(tag)).toBe(version);
  });
});

describe('formatSummaryText', () => {
  it('prints version, previous, the policy hint, flags, operator changes first and the url', () => {
    const summary: ReleaseSummary = {
      version: '0.31.0',
      previous: '0.30.0',
      bump: 'minor',
      breaking: [
        { id: 'aaaaaaa', title: 'Plugin API change', packages: ['@checkstack/backend-api'], audience: 'plugin-author' },
        { id: 'bbbbbbb', title: 'New required env var', packages: ['@checkstack/backend'], audience: 'operator' },
      ],
      migrations: true,
      encryption: false,
      destructive: false,
      truncated: true,
      url: 'https://github.com/enyineer/checkstack/releases/tag/v0.31.0',
    };

    const text = formatSummaryText([summary]);

    expect(text).toContain('Checkstack 0.31.0 (previous: 0.30.0)');
    expect(text).toContain(policyHint('minor'));
    expect(text).toContain('flags: migrations, truncated');
    expect(text.indexOf('bbbbbbb')).toBeLessThan(text.indexOf('aaaaaaa'));
    expect(text).toContain(summary.url);
  });

  it('gives the policy hints the issue asks for', () => {
    expect(policyHint('minor')).toBe('minor: may contain breaking changes, read the notes before upgrading');
    expect(policyHint('patch')).toBe('patch: no breaking changes; safe after a green pre-prod run');
  });
});
