// The real Checkstack release notes from ../shared/fixtures (CI lays shared/ beside the clone).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GithubRelease } from '../../src/domain/release-types.js';
import { REPO_ROOT } from './repo-root.js';

export const FIXTURE_RELEASES_PATH = join(REPO_ROOT, '../shared/fixtures/checkstack-releases.json');

export function loadFixtureReleases(): GithubRelease[] {
  return JSON.parse(readFileSync(FIXTURE_RELEASES_PATH, 'utf8')) as GithubRelease[];
}

/** A release made from the first fixture, as GitHub would list `v<version>` (published on 2026-11-01). */
export function fixtureRelease(version: string, id: number): GithubRelease {
  const [template] = loadFixtureReleases();
  return { ...template!, id, tag_name: `v${version}`, name: `Checkstack v${version}`, html_url: `https://github.com/enyineer/checkstack/releases/tag/v${version}`, published_at: '2026-11-01T00:00:00Z' };
}
