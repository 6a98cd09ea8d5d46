// Reads Checkstack's GitHub releases with conditional requests, and maps GitHub's failures to coded errors.
import type { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { GithubRelease } from '../domain/release-types.js';
import { AppError } from '../errors.js';

/** Where the first page's ETag of a repository's release list is kept between polls. */
export interface EtagStore {
  get(key: string): Promise<string | null>;
  set(key: string, etag: string): Promise<void>;
}

export type ListReleasesResult = { kind: 'not_modified' } | { kind: 'changed'; releases: GithubRelease[] };

export interface ReleaseSource {
  listReleases(): Promise<ListReleasesResult>;
  /** The release with this tag (`v0.30.0`), or null when GitHub has none. */
  getReleaseByTag(tag: string): Promise<GithubRelease | null>;
}

export interface ReleaseSourceDeps {
  octokit: Octokit;
  /** `owner/name` */
  repo: string;
  etags: EtagStore;
  logger: Logger;
  /** Releases per page; GitHub's maximum is the default. */
  perPage?: number;
  now?: () => number;
}

/** A release item as GitHub sends it; unknown fields are accepted and dropped. */
export const githubReleaseSchema = z.object({
  id: z.number().int(),
  tag_name: z.string().min(1),
  name: z.string().nullable(),
  body: z.string().nullable().default(null),
  draft: z.boolean(),
  prerelease: z.boolean(),
  published_at: z.string().nullable(),
  html_url: z.string(),
});

const PER_PAGE = 100;
/** A guard against a Link loop; 50 pages are 5,000 releases. */
const MAX_PAGES = 50;
const SECONDARY_LIMIT_MIN_MS = 60_000;
const UNAVAILABLE_BASE_MS = 30_000;
const UNAVAILABLE_MAX_MS = 15 * 60_000;

export function splitRepo(repo: string): { owner: string; repo: string } {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repo);
  if (!match) {
    throw new AppError('invalid_input', `GitHub repository \`${repo}\` is not of the form \`owner/name\`, such as \`enyineer/checkstack\`.`, { repo });
  }
  return { owner: match[1] as string, repo: match[2] as string };
}

/**
 * A repository path or ref for a request URL, slashes kept: Octokit encodes a `{path}` parameter whole
 * (`docs%2Fa.md`), which GitHub refuses for fine-grained tokens (octokit/octokit.js#2422).
 */
export function encodePathSegments(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The parts of Octokit's `RequestError` this module reads (duck-typed: `@octokit/request-error` is not a direct dependency). */
export interface GithubRequestError {
  status: number;
  message: string;
  response?: { headers: Record<string, string | number | undefined>; data?: unknown };
}

export function asGithubRequestError(err: unknown): GithubRequestError | null {
  if (!(err instanceof Error)) return null;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' ? (err as unknown as GithubRequestError) : null;
}

function header(err: GithubRequestError, name: string): string | undefined {
  const value = err.response?.headers[name];
  return value === undefined ? undefined : String(value);
}

function bodyMessage(err: GithubRequestError): string {
  const data = err.response?.data;
  if (data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string') {
    return (data as { message: string }).message;
  }
  return typeof data === 'string' ? data : err.message;
}

/**
 * Maps a failed GitHub request to `github_rate_limited` or `github_unavailable`, each with the `retryAfterMs`
 * the caller (a BullMQ job) should wait; returns null for other failures, whose meaning depends on the call.
 * `attempt` (1 for the first consecutive failure) grows the wait for outages GitHub gives no hint about.
 */
export function githubRetryableError(
  err: unknown,
  operation: string,
  { attempt = 1, now = Date.now }: { attempt?: number; now?: () => number } = {},
): AppError | null {
  const requestError = asGithubRequestError(err);
  if (!requestError) return null;
  const { status } = requestError;
  const retryAfter = header(requestError, 'retry-after');
  const retryAfterSeconds = retryAfter !== undefined && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;

  if (status === 403 || status === 429) {
    const remaining = header(requestError, 'x-ratelimit-remaining');
    const reset = Number(header(requestError, 'x-ratelimit-reset'));
    const secondary = /secondary rate limit/i.test(bodyMessage(requestError));
    if (retryAfterSeconds !== undefined || secondary || (status === 429 && remaining !== '0')) {
      const retryAfterMs = Math.max((retryAfterSeconds ?? 0) * 1000, retryAfterSeconds === undefined ? SECONDARY_LIMIT_MIN_MS : 0);
      return new AppError('github_rate_limited', `GitHub's secondary rate limit stopped ${operation}; retry in ${Math.ceil(retryAfterMs / 1000)} s.`, { status, retryAfterMs, limit: 'secondary' }, { cause: err });
    }
    if (remaining === '0') {
      const retryAfterMs = Number.isFinite(reset) ? Math.max(reset * 1000 - now(), 0) + 1000 : SECONDARY_LIMIT_MIN_MS;
      return new AppError('github_rate_limited', `GitHub's API rate limit is used up (${operation}); it resets in ${Math.ceil(retryAfterMs / 1000)} s. A \`GITHUB_TOKEN\` raises the limit.`, { status, retryAfterMs, limit: 'primary', resetAt: Number.isFinite(reset) ? new Date(reset * 1000).toISOString() : null }, { cause: err });
    }
    return null;
  }

  // Octokit reports a network failure (no response at all) as status 500.
  if (status >= 500 || requestError.response === undefined) {
    const backoffMs = Math.min(UNAVAILABLE_BASE_MS * 2 ** Math.max(attempt - 1, 0), UNAVAILABLE_MAX_MS);
    const retryAfterMs = retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : backoffMs;
    return new AppError('github_unavailable', `GitHub did not answer ${operation} (${requestError.response ? `HTTP ${status}` : requestError.message}); retry in ${Math.ceil(retryAfterMs / 1000)} s.`, { status: requestError.response ? status : null, retryAfterMs }, { cause: err });
  }
  return null;
}

/** The `rel="next"` target of a `Link` header. */
export function nextPageUrl(link: string | undefined): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim());
    if (match && match[2]?.split(/\s+/).includes('next')) return match[1] as string;
  }
  return null;
}

export function createReleaseSource({ octokit, repo, etags, logger, perPage = PER_PAGE, now = Date.now }: ReleaseSourceDeps): ReleaseSource {
  const { owner, repo: name } = splitRepo(repo);
  const etagKey = `github:releases:${repo}`;
  let consecutiveFailures = 0;

  function toAppError(err: unknown, operation: string): AppError {
    consecutiveFailures += 1;
    const retryable = githubRetryableError(err, operation, { attempt: consecutiveFailures, now });
    if (retryable) {
      logger.warn({ repo, operation, code: retryable.code, ...retryable.details }, 'github request failed');
      return retryable;
    }
    const status = asGithubRequestError(err)?.status;
    if (status === 401 || status === 404) {
      logger.error({ repo, operation, status }, 'github refused the releases request');
      return new AppError('config_invalid', `GitHub answered ${status} to ${operation}: check \`CHECKSTACK_REPO\` (${repo}) and \`GITHUB_TOKEN\`.`, { status }, { cause: err });
    }
    logger.warn({ repo, operation, status }, 'github request failed');
    return new AppError('github_unavailable', `GitHub answered ${status ?? 'with an error'} to ${operation}.`, { status: status ?? null, retryAfterMs: UNAVAILABLE_BASE_MS }, { cause: err });
  }

  function parseItems(data: unknown, page: number): GithubRelease[] {
    if (!Array.isArray(data)) {
      throw new AppError('github_unavailable', `GitHub's release list page ${page} was not a JSON array.`, { page, retryAfterMs: UNAVAILABLE_BASE_MS });
    }
    const releases: GithubRelease[] = [];
    for (const item of data) {
      const parsed = githubReleaseSchema.safeParse(item);
      if (parsed.success) releases.push(parsed.data);
      else logger.warn({ repo, page, issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'release item skipped');
    }
    return releases;
  }

  return {
    async listReleases() {
      const storedEtag = await etags.get(etagKey);
      let first;
      try {
        first = await octokit.request('GET /repos/{owner}/{repo}/releases', {
          owner,
          repo: name,
          per_page: perPage,
          headers: storedEtag ? { 'if-none-match': storedEtag } : {},
        });
      } catch (err) {
        if (asGithubRequestError(err)?.status === 304) {
          consecutiveFailures = 0;
          logger.debug({ repo }, 'releases not modified');
          return { kind: 'not_modified' };
        }
        throw toAppError(err, 'listing releases');
      }

      const releases = parseItems(first.data, 1);
      const newEtag = first.headers.etag;
      let next = nextPageUrl(first.headers.link);
      let pages = 1;
      const origin = new URL(first.url).origin;
      while (next) {
        // The token goes with every request: never follow a Link away from the API we were configured with.
        if (new URL(next, origin).origin !== origin) {
          throw new AppError('github_unavailable', `GitHub's release list linked to another host (${new URL(next, origin).host}); refusing to follow it.`, { retryAfterMs: UNAVAILABLE_BASE_MS });
        }
        if (pages >= MAX_PAGES) {
          logger.warn({ repo, pages }, 'release pagination stopped at the page limit');
          break;
        }
        pages += 1;
        let response;
        try {
          response = await octokit.request(`GET ${next}`);
        } catch (err) {
          throw toAppError(err, `listing releases (page ${pages})`);
        }
        releases.push(...parseItems(response.data, pages));
        next = nextPageUrl(response.headers.link);
      }

      // Only now: a stored ETag for a half-read list would hide the unread pages until the first page changes.
      if (newEtag) await etags.set(etagKey, newEtag);
      consecutiveFailures = 0;
      logger.info({ repo, pages, count: releases.length }, 'releases listed');
      return { kind: 'changed', releases };
    },

    async getReleaseByTag(tag) {
      let response;
      try {
        response = await octokit.request('GET /repos/{owner}/{repo}/releases/tags/{tag}', { owner, repo: name, tag });
      } catch (err) {
        if (asGithubRequestError(err)?.status === 404) return null;
        throw toAppError(err, `reading release ${tag}`);
      }
      consecutiveFailures = 0;
      const parsed = githubReleaseSchema.safeParse(response.data);
      if (!parsed.success) {
        throw new AppError('github_unavailable', `GitHub's answer for release ${tag} did not have the expected shape.`, { tag, retryAfterMs: UNAVAILABLE_BASE_MS });
      }
      return parsed.data;
    },
  };
}
