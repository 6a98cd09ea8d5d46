// The one idempotent ingest that the poller and the webhook both feed: stores what changed, and queues an
// announcement for each release that is new, edited or deleted. Nothing changed means no write at all.
import semver from 'semver';
import { packagesNeedingChangelog, summarizeRelease, versionFromTag } from '../domain/release-summary.js';
import type { GithubRelease } from '../domain/release-types.js';
import type { BotState, ReleaseStore, StoredRelease } from '../db/release-store.js';
import { releaseContentSha } from '../db/release-store.js';
import type { PackageChangelogReader } from '../github/package-changelog.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queue.js';

export const INITIALIZED_KEY = 'releases_initialized';
/** Enough for a release's packages in the top-level Breaking Changes section; a truncated body names more. */
const MAX_CHANGELOGS_PER_RELEASE = 40;

export interface ReleaseIngestDeps {
  releases: ReleaseStore;
  state: BotState;
  changelogs: PackageChangelogReader;
  queues: Pick<Queues, 'releases'>;
  logger: Logger;
}

export interface IngestResult {
  inserted: string[];
  changed: string[];
  deleted: string[];
  baseline: boolean;
}

function previousVersion(version: string, known: Iterable<{ version: string; draft: boolean }>): string | null {
  let best: string | null = null;
  for (const r of known) {
    if (r.draft || !semver.valid(r.version) || !semver.lt(r.version, version)) continue;
    if (!best || semver.gt(r.version, best)) best = r.version;
  }
  return best;
}

export function createReleaseIngest(deps: ReleaseIngestDeps) {
  const { releases, state, changelogs, queues, logger } = deps;

  async function readChangelogs(release: GithubRelease): Promise<Map<string, string> | undefined> {
    const packages = packagesNeedingChangelog(release).slice(0, MAX_CHANGELOGS_PER_RELEASE);
    if (packages.length === 0) return undefined;
    const found = new Map<string, string>();
    for (const pkg of packages) {
      try {
        const text = await changelogs.read(pkg, release.tag_name);
        if (text) found.set(pkg, text);
      } catch (err) {
        // The summary falls back to the release body alone; the announcement still goes out.
        logger.warn({ err, tag: release.tag_name, package: pkg }, 'package changelog unavailable');
        break;
      }
    }
    return found;
  }

  async function queueAnnouncement(tag: string, contentKey: string): Promise<void> {
    await queues.releases.add('announce', { tag }, { jobId: `announce-${tag}-${contentKey}` });
  }

  /**
   * `complete`: the list is every release GitHub has (a poll), so a known release missing from it was deleted.
   * Before the first complete list, everything is recorded as baseline and nothing is announced.
   */
  async function ingest(list: GithubRelease[], { complete }: { complete: boolean }): Promise<IngestResult> {
    const initialized = (await state.get(INITIALIZED_KEY)) !== null;
    const result: IngestResult = { inserted: [], changed: [], deleted: [], baseline: !initialized };
    if (!initialized && !complete) {
      await queues.releases.add('poll', { reason: 'startup' }, { jobId: 'initial-poll' });
      logger.info({ tags: list.map((r) => r.tag_name) }, 'release before the first poll; the poll will record it');
      return result;
    }

    const known = new Map<string, StoredRelease>((await releases.all()).map((r) => [r.tag, r]));
    const versions = [...known.values()].filter((r) => !r.deletedAt).map((r) => ({ version: r.version, draft: r.draft }));
    const incoming = list
      .map((release) => ({ release, version: versionFromTag(release.tag_name) }))
      .filter((r): r is { release: GithubRelease; version: string } => {
        if (!r.version) logger.warn({ tag: r.release.tag_name }, 'release tag is not a version; ignored');
        return r.version !== null;
      });
    for (const r of incoming) versions.push({ version: r.version, draft: r.release.draft });

    for (const { release, version } of incoming) {
      const stored = known.get(release.tag_name);
      const sha = releaseContentSha(release);
      if (stored && stored.contentSha === sha && !stored.deletedAt) continue;

      const packageChangelogs = initialized ? await readChangelogs(release) : undefined;
      const summary = summarizeRelease(release, previousVersion(version, versions), packageChangelogs ? { packageChangelogs } : {});
      const outcome = await releases.upsert(release, version, summary, !initialized && !release.draft);
      if (outcome === 'unchanged') continue;
      (outcome === 'inserted' ? result.inserted : result.changed).push(release.tag_name);
      if (initialized || outcome === 'changed') await queueAnnouncement(release.tag_name, sha.slice(0, 16));
    }

    if (complete) {
      const present = new Set(list.map((r) => r.tag_name));
      for (const stored of known.values()) {
        if (present.has(stored.tag) || stored.deletedAt) continue;
        if (await releases.markDeleted(stored.tag)) {
          result.deleted.push(stored.tag);
          await queueAnnouncement(stored.tag, 'deleted');
        }
      }
      if (!initialized) await state.setOnce(INITIALIZED_KEY, new Date().toISOString());
    }

    if (result.inserted.length || result.changed.length || result.deleted.length) {
      logger.info({ ...result }, 'releases ingested');
    }
    return result;
  }

  /** A `deleted` webhook: the release is gone from GitHub. */
  async function ingestDeletion(tag: string): Promise<boolean> {
    const deleted = await releases.markDeleted(tag);
    if (deleted) await queueAnnouncement(tag, 'deleted');
    return deleted;
  }

  return { ingest, ingestDeletion };
}

export type ReleaseIngest = ReturnType<typeof createReleaseIngest>;
