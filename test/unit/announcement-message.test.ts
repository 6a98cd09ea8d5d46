import { describe, expect, it } from 'vitest';
import { announcementMessage } from '../../src/slack/announcement-message.js';
import { policyHint } from '../../src/domain/bump-policy.js';
import { summarizeRelease, summarizeReleases } from '../../src/domain/release-summary.js';
import type { BreakingChange, GithubRelease, ReleaseSummary } from '../../src/domain/release-types.js';
import { loadFixtureReleases } from '../support/fixtures.js';

const PUBLISHED = { publishedAt: '2026-01-23T00:31:48Z', prerelease: false };

type Block = object;

/** Every text object's text, wherever it sits in the blocks. */
function textsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(textsOf);
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const own = typeof record.type === 'string' && typeof record.text === 'string' ? [record.text] : [];
    return [...own, ...Object.values(record).flatMap(textsOf)];
  }
  return [];
}

function expectWithinSlackLimits(message: { text: string; blocks: Block[] }): void {
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  for (const text of textsOf(message.blocks)) expect(text.length).toBeLessThanOrEqual(3000);
  expect(JSON.stringify(message).length).toBeLessThan(10_000);
  expect(message.text).not.toContain('\n');
}

function summary(breaking: BreakingChange[], overrides: Partial<ReleaseSummary> = {}): ReleaseSummary {
  return {
    version: '0.31.0',
    previous: '0.30.0',
    bump: 'minor',
    breaking,
    migrations: false,
    encryption: false,
    destructive: false,
    truncated: false,
    url: 'https://github.com/enyineer/checkstack/releases/tag/v0.31.0',
    ...overrides,
  };
}

function change(id: string, audience: BreakingChange['audience'], title = `Change ${id}`): BreakingChange {
  return { id, title, packages: ['@checkstack/backend'], audience };
}

function allText(message: { blocks: Block[] }): string {
  return textsOf(message.blocks).join('\n');
}

describe('announcementMessage', () => {
  it('stays within Block Kit limits for every fixture release', () => {
    for (const fixtureSummary of summarizeReleases(loadFixtureReleases())) {
      expectWithinSlackLimits(announcementMessage(fixtureSummary, PUBLISHED, { state: 'published' }));
    }
  });

  it('stays within Block Kit limits for 300 breaking entries of 2,000 characters each', () => {
    const entries = Array.from({ length: 300 }, (_, index) => {
      const hash = index.toString(16).padStart(7, '0');
      return `- ${hash}: BREAKING: ${`Rename the <setting> & its key ${index} `.repeat(60).slice(0, 2000)}\n`;
    });
    const huge: GithubRelease = {
      id: 1,
      tag_name: 'v0.31.0',
      name: 'Checkstack v0.31.0',
      body: `# Checkstack v0.31.0 Changelog\n\n## Minor Changes\n\n### @checkstack/backend@0.5.0\n\n${entries.join('')}`,
      draft: false,
      prerelease: false,
      published_at: '2026-02-01T00:00:00Z',
      html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.31.0',
    };
    const parsed = summarizeRelease(huge, '0.30.0');
    const rawTitles = summary(parsed.breaking.map((entry) => ({ ...entry, title: '&'.repeat(2000) })));

    const fromParser = announcementMessage(parsed, PUBLISHED, { state: 'published' });
    const fromRawTitles = announcementMessage(rawTitles, PUBLISHED, { state: 'published' });

    expect(parsed.breaking).toHaveLength(300);
    expectWithinSlackLimits(fromParser);
    expectWithinSlackLimits(fromRawTitles);
    expect(allText(fromParser)).toMatch(/\+\d+ more/);
  });

  it('lists operator changes before plugin-author ones', () => {
    const message = announcementMessage(
      summary([change('aaaaaaa', 'plugin-author'), change('bbbbbbb', 'operator')]),
      PUBLISHED,
      { state: 'published' },
    );

    const text = allText(message);

    expect(text.indexOf('for operators')).toBeLessThan(text.indexOf('for plugin authors'));
    expect(text.indexOf('bbbbbbb')).toBeLessThan(text.indexOf('aaaaaaa'));
  });

  it('says "+N more" instead of overflowing', () => {
    const many = Array.from({ length: 40 }, (_, index) => change(`c${index.toString().padStart(6, '0')}`, 'operator'));

    const message = announcementMessage(summary(many), PUBLISHED, { state: 'published' });

    expect(allText(message)).toContain('+20 more');
  });

  it('shows the version, date, policy hint, flags and a link to the notes', () => {
    const flagged = summary([], { migrations: true, encryption: true, destructive: true, truncated: true });

    const message = announcementMessage(flagged, PUBLISHED, { state: 'published' });
    const text = allText(message);

    expect(text).toContain('Checkstack 0.31.0');
    expect(text).toContain('2026-01-23');
    expect(text).toContain(policyHint('minor'));
    expect(text).toMatch(/Database migrations/);
    expect(text).toMatch(/Encryption/);
    expect(text).toMatch(/Destructive change/);
    expect(text).toMatch(/Notes truncated/);
    expect(JSON.stringify(message.blocks)).toContain(flagged.url);
    expect(message.text).toBe('Checkstack 0.31.0 released (minor, no breaking changes found)');
  });

  it('marks a deleted release and offers no upgrade', () => {
    const message = announcementMessage(summary([change('aaaaaaa', 'operator')]), PUBLISHED, {
      state: 'deleted',
      planUpgradeButton: { actionId: 'plan_upgrade', value: '0.31.0' },
    });

    expect(allText(message)).toContain('This release was deleted on GitHub');
    expect(message.text).toMatch(/deleted/);
    expect(JSON.stringify(message.blocks)).not.toContain('plan_upgrade');
  });

  it('says an edited release was updated and keeps the plan button', () => {
    const message = announcementMessage(summary([]), PUBLISHED, {
      state: 'edited',
      planUpgradeButton: { actionId: 'plan_upgrade', value: '0.31.0' },
    });

    expect(allText(message)).toMatch(/updated/);
    expect(message.text).toMatch(/updated/);
    expect(JSON.stringify(message.blocks)).toContain('"action_id":"plan_upgrade"');
  });

  it('marks a prerelease in the header', () => {
    const message = announcementMessage(summary([], { version: '0.31.0-rc.1', bump: 'prerelease' }), {
      publishedAt: null,
      prerelease: true,
    }, { state: 'published' });

    expect(allText(message)).toContain('Checkstack 0.31.0-rc.1 (prerelease)');
  });

  it('escapes &, < and > taken from the release notes', () => {
    const message = announcementMessage(
      summary([{ id: 'aaaaaaa', title: 'Use <b> & <!channel>', packages: ['@checkstack/a<b>'], audience: 'operator' }]),
      PUBLISHED,
      { state: 'published' },
    );

    const text = allText(message);

    expect(text).toContain('Use &lt;b&gt; &amp; &lt;!channel&gt;');
    expect(text).toContain('@checkstack/a&lt;b&gt;');
    expect(text).not.toContain('<!channel>');
  });
});
