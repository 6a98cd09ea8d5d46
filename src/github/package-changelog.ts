// Reads one package's CHANGELOG.md from the Checkstack monorepo at a release tag.
//
// Where packages live (read from enyineer/checkstack's history): the root package.json declares the
// workspaces `core/*`, `plugins/*`, `plugins/_test-scaffolds/*` and `docs`, and the release workflow
// (scripts/aggregate-changelog.ts) builds the release body from every `core/<dir>` and `plugins/<dir>` that
// has both a package.json and a CHANGELOG.md, taking the package name from that package.json. The directory
// is the unscoped package name in every case seen (`@checkstack/healthcheck-backend`, `@checkstack/release`,
// `@checkstack/ui`, `@checkstack/healthcheck-http-backend`), but the parent is not derivable from the name and
// changed over time: `healthcheck-backend` and `auth-backend` were under `plugins/` in early releases and are
// under `core/` now. So the reader lists the tag's tree once (cached per tag), prefers directories named
// after the package and checks the CHANGELOG's `# <package name>` heading; only when no directory carries the
// name does it read package.json files to find the one that declares it.
import type { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { asGithubRequestError, encodePathSegments, githubRetryableError, splitRepo } from './release-source.js';

export interface PackageChangelogReader {
  /** The package's CHANGELOG.md at `tag` (`v0.30.0`), or null when the tag or the package is not there. */
  read(packageName: string, tag: string): Promise<string | null>;
}

export interface PackageChangelogReaderDeps {
  octokit: Octokit;
  /** `owner/name` */
  repo: string;
  logger: Logger;
}

const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
/** Tags whose tree index is kept; a poll touches one or two. */
const CACHED_TAGS = 16;
/** Upper bound of package.json reads when no directory is named after the package. */
const MAX_MANIFEST_READS = 200;
/** The workspace parents the release workflow aggregates, in the order tried. */
const PREFERRED_PARENTS = ['core', 'plugins'];

const treeSchema = z.object({
  truncated: z.boolean().optional(),
  tree: z.array(z.object({ path: z.string(), type: z.string() })),
});

const fileSchema = z.object({
  type: z.literal('file'),
  sha: z.string(),
  encoding: z.string().optional(),
  content: z.string().optional(),
});

const blobSchema = z.object({ content: z.string(), encoding: z.string() });

interface TagIndex {
  /** Directories holding both package.json and CHANGELOG.md; null when the tree was truncated. */
  packageDirs: string[] | null;
  /** package.json names read so far, by directory. */
  manifestNames: Map<string, string | null>;
}

function unscoped(packageName: string): string {
  return packageName.slice(packageName.indexOf('/') + 1);
}

function parentRank(dir: string): number {
  const index = PREFERRED_PARENTS.indexOf(dir.split('/')[0] ?? '');
  return index < 0 ? PREFERRED_PARENTS.length : index;
}

/** Changesets starts every CHANGELOG.md with `# <package name>`; anything else there means another package. */
function changelogBelongsTo(text: string, packageName: string): boolean {
  const firstHeading = /^#[ \t]+(\S+)[ \t]*$/m.exec(text.replace(/^\uFEFF/, ''));
  return firstHeading === null || firstHeading.index > 200 || firstHeading[1] === packageName;
}

export function createPackageChangelogReader({ octokit, repo, logger }: PackageChangelogReaderDeps): PackageChangelogReader {
  const { owner, repo: name } = splitRepo(repo);
  const indexes = new Map<string, Promise<TagIndex | null>>();

  function failure(err: unknown, operation: string): AppError {
    const retryable = githubRetryableError(err, operation);
    if (retryable) return retryable;
    const status = asGithubRequestError(err)?.status ?? null;
    return new AppError('github_unavailable', `GitHub answered ${status ?? 'with an error'} to ${operation}.`, { status, retryAfterMs: 60_000 }, { cause: err });
  }

  /** The text of a file at `ref`, or null on 404. Files over 1 MB come without content and are read as blobs. */
  async function readFile(path: string, ref: string): Promise<string | null> {
    let data: unknown;
    try {
      ({ data } = await octokit.request(`GET /repos/{owner}/{repo}/contents/${encodePathSegments(path)}`, { owner, repo: name, ref }));
    } catch (err) {
      if (asGithubRequestError(err)?.status === 404) return null;
      throw failure(err, `reading ${path} at ${ref}`);
    }
    const file = fileSchema.safeParse(data);
    if (!file.success) return null; // a directory or a symlink
    if (file.data.encoding === 'base64' && file.data.content !== undefined) {
      return Buffer.from(file.data.content, 'base64').toString('utf8');
    }
    try {
      const blob = blobSchema.parse(
        (await octokit.request('GET /repos/{owner}/{repo}/git/blobs/{file_sha}', { owner, repo: name, file_sha: file.data.sha })).data,
      );
      return Buffer.from(blob.content, blob.encoding === 'base64' ? 'base64' : 'utf8').toString('utf8');
    } catch (err) {
      throw failure(err, `reading the blob of ${path} at ${ref}`);
    }
  }

  async function buildIndex(tag: string): Promise<TagIndex | null> {
    let data: unknown;
    try {
      ({ data } = await octokit.request('GET /repos/{owner}/{repo}/git/trees/{tree_sha}', {
        owner,
        repo: name,
        tree_sha: tag,
        recursive: '1',
      }));
    } catch (err) {
      const status = asGithubRequestError(err)?.status;
      if (status === 404 || status === 422) return null;
      throw failure(err, `listing the files of ${tag}`);
    }
    const tree = treeSchema.parse(data);
    if (tree.truncated) {
      logger.warn({ repo, tag }, 'repository tree truncated; guessing package directories');
      return { packageDirs: null, manifestNames: new Map() };
    }
    const byDir = new Map<string, Set<string>>();
    for (const entry of tree.tree) {
      if (entry.type !== 'blob' || entry.path.includes('node_modules/')) continue;
      const slash = entry.path.lastIndexOf('/');
      if (slash < 0) continue;
      const dir = entry.path.slice(0, slash);
      const file = entry.path.slice(slash + 1);
      if (file !== 'package.json' && file !== 'CHANGELOG.md') continue;
      byDir.set(dir, (byDir.get(dir) ?? new Set()).add(file));
    }
    const packageDirs = [...byDir].filter(([, files]) => files.size === 2).map(([dir]) => dir);
    packageDirs.sort((a, b) => parentRank(a) - parentRank(b) || a.localeCompare(b));
    logger.debug({ repo, tag, packages: packageDirs.length }, 'package directories indexed');
    return { packageDirs, manifestNames: new Map() };
  }

  function indexFor(tag: string): Promise<TagIndex | null> {
    let index = indexes.get(tag);
    if (!index) {
      index = buildIndex(tag);
      indexes.set(tag, index);
      // A failed listing is retried next time; a successful one is kept, the oldest evicted first.
      index.catch(() => indexes.delete(tag));
      while (indexes.size > CACHED_TAGS) indexes.delete(indexes.keys().next().value as string);
    }
    return index;
  }

  async function manifestName(index: TagIndex, dir: string, tag: string): Promise<string | null> {
    if (index.manifestNames.has(dir)) return index.manifestNames.get(dir) ?? null;
    const text = await readFile(`${dir}/package.json`, tag);
    let declared: string | null = null;
    try {
      const parsed = text === null ? null : (JSON.parse(text) as { name?: unknown });
      declared = typeof parsed?.name === 'string' ? parsed.name : null;
    } catch {
      declared = null;
    }
    index.manifestNames.set(dir, declared);
    return declared;
  }

  return {
    async read(packageName, tag) {
      if (!PACKAGE_NAME.test(packageName)) {
        throw new AppError('invalid_input', `\`${packageName}\` is not an npm package name such as \`@checkstack/healthcheck-backend\`.`, { packageName });
      }
      const index = await indexFor(tag);
      if (!index) {
        logger.info({ repo, tag }, 'tag not found for changelog');
        return null;
      }
      const base = unscoped(packageName);
      const named = (index.packageDirs ?? PREFERRED_PARENTS.map((parent) => `${parent}/${base}`)).filter(
        (dir) => dir.split('/').pop() === base,
      );
      for (const dir of named) {
        const text = await readFile(`${dir}/CHANGELOG.md`, tag);
        if (text !== null && changelogBelongsTo(text, packageName)) return text;
      }

      // No directory carries the name: find the package.json that declares it.
      const others = (index.packageDirs ?? []).filter((dir) => !named.includes(dir));
      let reads = 0;
      for (const dir of others) {
        if (!index.manifestNames.has(dir) && ++reads > MAX_MANIFEST_READS) {
          logger.warn({ repo, tag, packageName }, 'package search stopped at the read limit');
          break;
        }
        if ((await manifestName(index, dir, tag)) === packageName) return readFile(`${dir}/CHANGELOG.md`, tag);
      }
      logger.info({ repo, tag, packageName }, 'package changelog not found');
      return null;
    },
  };
}
