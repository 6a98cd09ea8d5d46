// The real Checkstack release notes from ../shared/fixtures (CI lays shared/ beside the clone).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GithubRelease } from '../../src/domain/release-types.js';
import { REPO_ROOT } from './repo-root.js';

export const FIXTURE_RELEASES_PATH = join(REPO_ROOT, '../shared/fixtures/checkstack-releases.json');

export function loadFixtureReleases(): GithubRelease[] {
  return JSON.parse(readFileSync(FIXTURE_RELEASES_PATH, 'utf8')) as GithubRelease[];
}
