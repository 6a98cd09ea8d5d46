import { Octokit } from '@octokit/rest';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createGithubPinRecord, type GithubPinRecord } from '../../src/pin/pin-record-github.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';

const REPO = 'acme/infra';
const PATH = 'deploy/docker-compose.yml';
const IMAGE = 'ghcr.io/enyineer/checkstack';

const COMPOSE = `# Production Checkstack, upgraded by checkstack-chatops.
services:
  checkstack:
    image: ghcr.io/enyineer/checkstack:0.140.0
    restart: unless-stopped
    environment:
      DATABASE_URL: \${DATABASE_URL}
    ports: ["8080:3000"]

  redis:
    image: redis:7-alpine
`;

const octokitLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b).toHaveLength(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i] as string] as [string, string]]));
}

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('GitHub pin record against a fake GitHub', () => {
  let fake: FakeGithub;
  let pin: GithubPinRecord;

  const commitInput = {
    repo: REPO,
    path: PATH,
    branch: 'main',
    image: IMAGE,
    fromVersion: '0.140.0',
    toVersion: '0.141.0',
    message: 'Pin Checkstack 0.141.0 (upgrade by @alice, approved by @bob)',
  };

  beforeEach(async () => {
    fake = await startFakeGithub({ repo: REPO, files: { [PATH]: COMPOSE, 'README.md': '# infra\n' } });
    pin = createGithubPinRecord({ octokit: new Octokit({ baseUrl: fake.url, log: octokitLog }), logger: pino({ level: 'silent' }) });
  });

  afterEach(async () => {
    await fake.close();
  });

  describe('commit mode', () => {
    it('commits exactly the changed tag line on the branch', async () => {
      const before = fake.files.get('main', PATH);

      const result = await pin.commitTag(commitInput);

      const after = fake.files.get('main', PATH);
      expect(changedLines(COMPOSE, after?.content ?? '')).toEqual([
        ['    image: ghcr.io/enyineer/checkstack:0.140.0', '    image: ghcr.io/enyineer/checkstack:0.141.0'],
      ]);
      const head = fake.files.head('main');
      expect(result).toEqual({ commitSha: head?.sha, fileSha: after?.sha });
      expect(head?.message).toBe(commitInput.message);
      const put = fake.requests.find((r) => r.method === 'PUT');
      expect(put?.body).toMatchObject({ branch: 'main', sha: before?.sha, message: commitInput.message });
      // Slashes stay literal: GitHub refuses `deploy%2Fdocker-compose.yml` for fine-grained tokens.
      expect(put?.path).toBe('/repos/acme/infra/contents/deploy/docker-compose.yml');
      expect(fake.files.get('main', 'README.md')?.content).toBe('# infra\n');
    });

    it('re-reads and retries once when the file changed between read and write', async () => {
      // Someone commits to the file after our read: the PUT carries a stale sha and GitHub answers 409.
      fake.beforeNext(
        (req) => req.method === 'PUT',
        () => fake.files.put('main', PATH, COMPOSE.replace('restart: unless-stopped', 'restart: always'), 'Tune restart policy'),
      );

      const result = await pin.commitTag(commitInput);

      const puts = fake.requests.filter((r) => r.method === 'PUT');
      expect(puts).toHaveLength(2);
      const after = fake.files.get('main', PATH)?.content ?? '';
      expect(after).toContain('image: ghcr.io/enyineer/checkstack:0.141.0');
      expect(after).toContain('restart: always');
      expect(result.commitSha).toBe(fake.files.head('main')?.sha);
      expect(fake.files.history('main').map((c) => c.message)).toEqual([commitInput.message, 'Tune restart policy', 'Initial commit']);
    });

    it('gives up with git_record_failed when the conflict repeats', async () => {
      fake.failNext(2, 409, {}, { message: `${PATH} does not match`, documentation_url: 'https://docs.github.com/rest' }, (req) => req.method === 'PUT');

      const err = await failureOf(pin.commitTag(commitInput));

      expect(err.code).toBe('git_record_failed');
      expect(fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
    });

    it('is idempotent: a re-run returns the current head without a new commit', async () => {
      const first = await pin.commitTag(commitInput);
      const putsBefore = fake.requests.filter((r) => r.method === 'PUT').length;

      const second = await pin.commitTag(commitInput);

      expect(second).toEqual(first);
      expect(fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(putsBefore);
      expect(fake.files.history('main')).toHaveLength(2);
    });

    it('refuses a file that pins another version', async () => {
      const err = await failureOf(pin.commitTag({ ...commitInput, fromVersion: '0.139.0', toVersion: '0.141.0' }));

      expect(err.code).toBe('git_record_failed');
      expect(err.message).toContain('image: ghcr.io/enyineer/checkstack:0.139.0');
      expect(fake.requests.some((r) => r.method === 'PUT')).toBe(false);
    });

    it('reports a missing file as git_record_failed and a rate limit as github_rate_limited', async () => {
      const missing = await failureOf(pin.commitTag({ ...commitInput, path: 'deploy/missing.yml' }));
      fake.failNext(1, 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) });
      const limited = await failureOf(pin.commitTag(commitInput));

      expect(missing.code).toBe('git_record_failed');
      expect(limited.code).toBe('github_rate_limited');
    });

    it('reverts to the previous version with the reason in the message', async () => {
      await pin.commitTag(commitInput);

      const result = await pin.revertTag({
        repo: REPO,
        path: PATH,
        branch: 'main',
        image: IMAGE,
        currentVersion: '0.141.0',
        previousVersion: '0.140.0',
        reason: 'readiness timed out after 300 s',
      });

      expect(fake.files.get('main', PATH)?.content).toBe(COMPOSE);
      expect(result.commitSha).toBe(fake.files.head('main')?.sha);
      expect(fake.files.head('main')?.message).toMatch(/^Revert ghcr\.io\/enyineer\/checkstack to 0\.140\.0\n\n0\.141\.0 was rolled back: readiness timed out after 300 s$/);
    });
  });

  describe('pull-request mode', () => {
    const prInput = {
      repo: REPO,
      path: PATH,
      baseBranch: 'main',
      headBranch: 'checkstack/0.141.0',
      image: IMAGE,
      fromVersion: '0.140.0',
      toVersion: '0.141.0',
      title: 'Pin Checkstack 0.141.0',
      body: 'Opened by checkstack-chatops for the upgrade of prod.',
    };

    it('creates the branch from the base head, commits there and opens the pull request', async () => {
      const baseHead = fake.files.head('main')?.sha;

      const pr = await pin.openPullRequest(prInput);

      expect(pr).toEqual({ number: 1, url: 'https://github.com/acme/infra/pull/1' });
      expect(fake.requests.find((r) => r.method === 'POST' && r.path.endsWith('/git/refs'))?.body).toEqual({ ref: 'refs/heads/checkstack/0.141.0', sha: baseHead });
      expect(fake.files.get('main', PATH)?.content).toBe(COMPOSE);
      expect(changedLines(COMPOSE, fake.files.get('checkstack/0.141.0', PATH)?.content ?? '')).toHaveLength(1);
      expect(fake.pulls[0]).toMatchObject({ head: 'checkstack/0.141.0', base: 'main', state: 'open', title: prInput.title, body: prInput.body });
    });

    it('reuses the branch, commit and pull request on a re-run', async () => {
      const first = await pin.openPullRequest(prInput);
      const commits = fake.files.history('checkstack/0.141.0').length;

      const second = await pin.openPullRequest(prInput);

      expect(second).toEqual(first);
      expect(fake.pulls).toHaveLength(1);
      expect(fake.files.history('checkstack/0.141.0')).toHaveLength(commits);
    });

    it('reuses an existing branch that does not carry the change yet', async () => {
      fake.files.put('checkstack/0.141.0', 'README.md', '# infra (branch)\n');

      const pr = await pin.openPullRequest(prInput);

      expect(pr.number).toBe(1);
      expect(fake.files.get('checkstack/0.141.0', PATH)?.content).toContain('checkstack:0.141.0');
    });

    it('tells open, merged and closed apart', async () => {
      const merged = await pin.openPullRequest(prInput);
      expect(await pin.pullRequestState(REPO, merged.number)).toBe('open');

      fake.mergePull(merged.number);

      expect(await pin.pullRequestState(REPO, merged.number)).toBe('merged');
      expect(fake.files.get('main', PATH)?.content).toContain('checkstack:0.141.0');
    });

    it('closes a pull request with a comment saying why', async () => {
      const pr = await pin.openPullRequest(prInput);

      await pin.closePullRequest(REPO, pr.number, 'The upgrade to 0.141.0 was cancelled by @bob.');

      expect(await pin.pullRequestState(REPO, pr.number)).toBe('closed');
      expect(fake.pulls[0]?.comments).toEqual(['The upgrade to 0.141.0 was cancelled by @bob.']);
    });
  });
});
