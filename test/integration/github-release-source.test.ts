import { Octokit } from '@octokit/rest';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GithubRelease } from '../../src/domain/release-types.js';
import { AppError } from '../../src/errors.js';
import { createReleaseSource, nextPageUrl, type EtagStore } from '../../src/github/release-source.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';
import { loadFixtureReleases } from '../support/fixtures.js';

function createMemoryEtagStore(): EtagStore & { values: Map<string, string> } {
  const values = new Map<string, string>();
  return {
    values,
    get: async (key) => values.get(key) ?? null,
    set: async (key, etag) => {
      values.set(key, etag);
    },
  };
}

const NOW = Date.parse('2026-01-15T12:00:00Z');
const logger = pino({ level: 'silent' });
const octokitLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function listError(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('release source against a fake GitHub', () => {
  let fake: FakeGithub;
  let etags: ReturnType<typeof createMemoryEtagStore>;
  let fixtures: GithubRelease[];

  const sourceFor = (url: string, perPage = 4) =>
    createReleaseSource({
      octokit: new Octokit({ baseUrl: url, log: octokitLog }),
      repo: 'enyineer/checkstack',
      etags,
      logger,
      perPage,
      now: () => NOW,
    });

  beforeEach(async () => {
    fixtures = loadFixtureReleases();
    fake = await startFakeGithub({ releases: fixtures, repo: 'enyineer/checkstack' });
    etags = createMemoryEtagStore();
  });

  afterEach(async () => {
    await fake.close();
  });

  it('lists every release across pages by following the Link header', async () => {
    const result = await sourceFor(fake.url).listReleases();

    expect(result).toEqual({ kind: 'changed', releases: fixtures });
    expect(fake.requests.map((r) => `${r.path}?${new URLSearchParams(r.query).toString()}`)).toEqual([
      '/repos/enyineer/checkstack/releases?per_page=4',
      '/repositories/4242/releases?per_page=4&page=2',
      '/repositories/4242/releases?per_page=4&page=3',
    ]);
    expect(fake.requests[0]?.headers['if-none-match']).toBeUndefined();
    expect([...etags.values.values()]).toEqual([expect.stringMatching(/^W\/".+"$/)]);
  });

  it('answers not_modified with exactly one conditional request when nothing changed', async () => {
    const source = sourceFor(fake.url);
    await source.listReleases();
    const storedEtag = [...etags.values.values()][0];
    fake.requests.length = 0;

    const result = await source.listReleases();

    expect(result).toEqual({ kind: 'not_modified' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.headers['if-none-match']).toBe(storedEtag);
    expect([...etags.values.values()]).toEqual([storedEtag]);
  });

  it('sees a release published between polls', async () => {
    const source = sourceFor(fake.url);
    await source.listReleases();
    const published: GithubRelease = {
      ...(fixtures[0] as GithubRelease),
      id: 999_001,
      tag_name: 'v0.31.0',
      name: 'Checkstack v0.31.0',
      html_url: 'https://github.com/enyineer/checkstack/releases/tag/v0.31.0',
    };
    fake.addRelease(published);

    const result = await source.listReleases();

    expect(result.kind).toBe('changed');
    expect(result.kind === 'changed' && result.releases.map((r) => r.tag_name)).toEqual(['v0.31.0', ...fixtures.map((r) => r.tag_name)]);
  });

  it('sees an edited release body', async () => {
    const source = sourceFor(fake.url);
    await source.listReleases();
    fake.editRelease('v0.30.0', { body: 'Edited notes' });

    const result = await source.listReleases();

    expect(result.kind === 'changed' && result.releases.find((r) => r.tag_name === 'v0.30.0')?.body).toBe('Edited notes');
  });

  it('drops a deleted release', async () => {
    const source = sourceFor(fake.url);
    await source.listReleases();
    fake.deleteRelease('v0.27.0');

    const result = await source.listReleases();

    expect(result.kind === 'changed' && result.releases.map((r) => r.tag_name)).not.toContain('v0.27.0');
    expect(result.kind === 'changed' && result.releases).toHaveLength(fixtures.length - 1);
  });

  it('does not store the ETag when a later page fails, so the next poll reads everything again', async () => {
    const source = sourceFor(fake.url);
    fake.failNext(1, 502, {}, undefined, (req) => req.query.page === '2');

    const err = await listError(source.listReleases());

    expect(err.code).toBe('github_unavailable');
    expect(etags.values.size).toBe(0);
    fake.requests.length = 0;
    const retry = await source.listReleases();
    expect(retry).toEqual({ kind: 'changed', releases: fixtures });
    expect(fake.requests[0]?.headers['if-none-match']).toBeUndefined();
  });

  it('maps an exhausted rate limit to github_rate_limited with the wait until x-ratelimit-reset', async () => {
    const reset = Math.floor(NOW / 1000) + 120;
    fake.failNext(
      1,
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-used': '60', 'x-ratelimit-limit': '60' },
      { message: "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)", documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' },
    );

    const err = await listError(sourceFor(fake.url).listReleases());

    expect(err.code).toBe('github_rate_limited');
    expect(err.details).toMatchObject({ retryAfterMs: 121_000, limit: 'primary' });
    expect(etags.values.size).toBe(0);
  });

  it('maps a secondary rate limit to github_rate_limited with retry-after', async () => {
    fake.failNext(1, 403, { 'retry-after': '30' }, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest' });

    const err = await listError(sourceFor(fake.url).listReleases());

    expect(err.code).toBe('github_rate_limited');
    expect(err.details).toMatchObject({ retryAfterMs: 30_000, limit: 'secondary' });
  });

  it('waits at least a minute on a secondary rate limit without retry-after', async () => {
    fake.failNext(1, 429, {}, { message: 'You have exceeded a secondary rate limit.' });

    const err = await listError(sourceFor(fake.url).listReleases());

    expect(err.code).toBe('github_rate_limited');
    expect(err.details).toMatchObject({ retryAfterMs: 60_000 });
  });

  it('maps a 502 to github_unavailable with a growing retryAfterMs', async () => {
    const source = sourceFor(fake.url);
    fake.failNext(2, 502);

    const first = await listError(source.listReleases());
    const second = await listError(source.listReleases());

    expect(first.code).toBe('github_unavailable');
    expect(first.details.retryAfterMs).toBe(30_000);
    expect(second.details.retryAfterMs).toBe(60_000);
  });

  it('maps a refused connection to github_unavailable', async () => {
    const gone = await startFakeGithub();
    await gone.close();

    const err = await listError(sourceFor(gone.url).listReleases());

    expect(err.code).toBe('github_unavailable');
    expect(err.details.retryAfterMs).toBeGreaterThan(0);
  });

  it('refuses to follow a Link to another host, where the token would go too', async () => {
    fake.failNext(1, 200, { link: '<http://127.0.0.2:9/releases?page=2>; rel="next"' }, []);

    const err = await listError(sourceFor(fake.url).listReleases());

    expect(err.code).toBe('github_unavailable');
    expect(err.message).toContain('127.0.0.2:9');
    expect(etags.values.size).toBe(0);
  });

  it('reads one release by tag and answers null for an unknown tag', async () => {
    const source = sourceFor(fake.url);

    expect(await source.getReleaseByTag('v0.28.0')).toEqual(fixtures.find((r) => r.tag_name === 'v0.28.0'));
    expect(await source.getReleaseByTag('v9.9.9')).toBeNull();
  });
});

describe('nextPageUrl', () => {
  it('picks rel="next" among other relations', () => {
    expect(nextPageUrl('<http://x/r?page=1>; rel="prev", <http://x/r?page=3>; rel="next", <http://x/r?page=9>; rel="last"')).toBe('http://x/r?page=3');
    expect(nextPageUrl('<http://x/r?page=1>; rel="first"')).toBeNull();
    expect(nextPageUrl(undefined)).toBeNull();
  });
});
