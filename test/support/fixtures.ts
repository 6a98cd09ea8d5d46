// The real Checkstack release notes from ../shared/fixtures (CI lays shared/ beside the clone).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GithubRelease } from '../../src/domain/release-types.js';

export const FIXTURE_RELEASES_PATH = fileURLToPath(
  new URL('../../../shared/fixtures/checkstack-releases.json', import.meta.url),
);

export function loadFixtureReleases(): GithubRelease[] {
  return JSON.parse(readFileSync(FIXTURE_RELEASES_PATH, 'utf8')) as GithubRelease[];
}
