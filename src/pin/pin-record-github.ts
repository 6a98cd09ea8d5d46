// The pin record in Git: a target's pinned image tag, written through GitHub's API (a commit or a pull request).
import type { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import { z } from 'zod';
import { countImageTag, replaceImageTag } from './pin-record-text.js';
import { AppError } from '../errors.js';
import { asGithubRequestError, encodePathSegments, githubRetryableError, splitRepo } from '../github/release-source.js';

export interface CommitTagInput {
  /** `owner/name` */
  repo: string;
  path: string;
  branch: string;
  /** `ghcr.io/enyineer/checkstack` */
  image: string;
  fromVersion: string;
  toVersion: string;
  message: string;
}

export interface OpenPullRequestInput {
  repo: string;
  path: string;
  baseBranch: string;
  headBranch: string;
  image: string;
  fromVersion: string;
  toVersion: string;
  title: string;
  body: string;
}

export interface RevertTagInput {
  repo: string;
  path: string;
  branch: string;
  image: string;
  /** The version the file pins now, which is being undone. */
  currentVersion: string;
  /** The version to pin again. */
  previousVersion: string;
  /** Why: goes into the commit message. */
  reason: string;
}

export type PullRequestState = 'open' | 'merged' | 'closed';

export interface GithubPinRecord {
  commitTag(input: CommitTagInput): Promise<{ commitSha: string; fileSha: string }>;
  openPullRequest(input: OpenPullRequestInput): Promise<{ number: number; url: string }>;
  pullRequestState(repo: string, number: number): Promise<PullRequestState>;
  revertTag(input: RevertTagInput): Promise<{ commitSha: string; fileSha: string }>;
  closePullRequest(repo: string, number: number, comment: string): Promise<void>;
  /** Whether the file on `branch` pins `image:version` now. */
  pinsTag(input: { repo: string; path: string; branch: string; image: string; version: string }): Promise<boolean>;
}

export interface GithubPinRecordDeps {
  octokit: Octokit;
  logger: Logger;
}

const contentsSchema = z.object({ type: z.literal('file'), sha: z.string(), content: z.string(), encoding: z.literal('base64') });
const putResultSchema = z.object({ content: z.object({ sha: z.string() }), commit: z.object({ sha: z.string() }) });
const refSchema = z.object({ object: z.object({ sha: z.string() }) });
const pullSchema = z.object({ number: z.number().int(), html_url: z.string(), state: z.string(), merged: z.boolean().nullish() });

function statusOf(err: unknown): number | undefined {
  return asGithubRequestError(err)?.status;
}

export function createGithubPinRecord({ octokit, logger }: GithubPinRecordDeps): GithubPinRecord {
  function failure(err: unknown, operation: string, repo: string): AppError {
    if (err instanceof AppError) return err;
    const retryable = githubRetryableError(err, operation);
    if (retryable) return retryable;
    const status = statusOf(err) ?? null;
    const hint =
      status === 401 || status === 403
        ? ' The `GITHUB_TOKEN` needs contents and pull-request write access to that repository.'
        : status === 404
          ? ' Check the repository, branch and path of the target\'s `pin.github` setting.'
          : '';
    logger.error({ repo, operation, status }, 'git record request failed');
    return new AppError('git_record_failed', `GitHub answered ${status ?? 'with an error'} to ${operation} in ${repo}.${hint}`, { repo, status }, { cause: err });
  }

  async function call<T>(operation: string, repo: string, schema: z.ZodType<T>, run: () => Promise<{ data: unknown }>): Promise<T> {
    let data: unknown;
    try {
      ({ data } = await run());
    } catch (err) {
      throw failure(err, operation, repo);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new AppError('git_record_failed', `GitHub's answer to ${operation} in ${repo} did not have the expected shape.`, { repo });
    }
    return parsed.data;
  }

  async function readFile(repo: string, path: string, ref: string): Promise<{ text: string; sha: string }> {
    const { owner, repo: name } = splitRepo(repo);
    const file = await call(`reading ${path} at ${ref}`, repo, contentsSchema, () =>
      octokit.request(`GET /repos/{owner}/{repo}/contents/${encodePathSegments(path)}`, { owner, repo: name, ref }),
    );
    return { text: Buffer.from(file.content, 'base64').toString('utf8'), sha: file.sha };
  }

  async function branchHead(repo: string, branch: string): Promise<string> {
    const { owner, repo: name } = splitRepo(repo);
    const ref = await call(`reading branch ${branch}`, repo, refSchema, () =>
      octokit.request(`GET /repos/{owner}/{repo}/git/ref/heads/${encodePathSegments(branch)}`, { owner, repo: name }),
    );
    return ref.object.sha;
  }

  async function commitTag(input: CommitTagInput): Promise<{ commitSha: string; fileSha: string }> {
    const { repo, path, branch, image, fromVersion, toVersion, message } = input;
    const { owner, repo: name } = splitRepo(repo);
    for (let attempt = 1; ; attempt++) {
      const file = await readFile(repo, path, branch);
      const { text, replaced } = replaceImageTag(file.text, image, fromVersion, toVersion);
      if (replaced === 0) {
        if (countImageTag(file.text, image, toVersion) > 0) {
          // A retried job, or someone was quicker: the record already says what we want.
          logger.info({ repo, path, branch, toVersion }, 'pin already recorded');
          return { commitSha: await branchHead(repo, branch), fileSha: file.sha };
        }
        throw new AppError(
          'git_record_failed',
          `${path} on ${branch} in ${repo} has no \`image: ${image}:${fromVersion}\` line to change to ${toVersion}; it pins something else. Fix the file or the target's \`pin\` setting.`,
          { repo, path, branch, image, fromVersion, toVersion },
        );
      }
      try {
        const { data } = await octokit.request(`PUT /repos/{owner}/{repo}/contents/${encodePathSegments(path)}`, {
          owner,
          repo: name,
          branch,
          message,
          sha: file.sha,
          content: Buffer.from(text, 'utf8').toString('base64'),
        });
        const result = putResultSchema.parse(data);
        logger.info({ repo, path, branch, fromVersion, toVersion, commitSha: result.commit.sha, replaced }, 'pin recorded');
        return { commitSha: result.commit.sha, fileSha: result.content.sha };
      } catch (err) {
        const status = statusOf(err);
        // The file moved between our read and write (409 stale sha; 422 on some sha races): read again, once.
        if ((status === 409 || status === 422) && attempt === 1) {
          logger.warn({ repo, path, branch, status }, 'pin file changed during commit; retrying');
          continue;
        }
        if (err instanceof z.ZodError) {
          throw new AppError('git_record_failed', `GitHub's answer to writing ${path} in ${repo} did not have the expected shape.`, { repo });
        }
        throw failure(err, `writing ${path} on ${branch}`, repo);
      }
    }
  }

  async function findOpenPull(repo: string, headBranch: string, baseBranch: string): Promise<{ number: number; url: string } | null> {
    const { owner, repo: name } = splitRepo(repo);
    const pulls = await call(`listing pull requests for ${headBranch}`, repo, z.array(pullSchema), () =>
      octokit.request('GET /repos/{owner}/{repo}/pulls', { owner, repo: name, head: `${owner}:${headBranch}`, base: baseBranch, state: 'open' }),
    );
    const pull = pulls[0];
    return pull ? { number: pull.number, url: pull.html_url } : null;
  }

  return {
    commitTag,

    async pinsTag({ repo, path, branch, image, version }) {
      return countImageTag((await readFile(repo, path, branch)).text, image, version) > 0;
    },

    async openPullRequest(input) {
      const { repo, path, baseBranch, headBranch, image, fromVersion, toVersion, title, body } = input;
      const { owner, repo: name } = splitRepo(repo);
      const baseSha = await branchHead(repo, baseBranch);
      try {
        await octokit.request('POST /repos/{owner}/{repo}/git/refs', { owner, repo: name, ref: `refs/heads/${headBranch}`, sha: baseSha });
        logger.info({ repo, headBranch, baseSha }, 'pin branch created');
      } catch (err) {
        if (statusOf(err) !== 422) throw failure(err, `creating branch ${headBranch}`, repo);
        // "Reference already exists": a retry of this job made it; reuse it.
        await branchHead(repo, headBranch);
        logger.info({ repo, headBranch }, 'pin branch reused');
      }

      await commitTag({ repo, path, branch: headBranch, image, fromVersion, toVersion, message: title });

      const existing = await findOpenPull(repo, headBranch, baseBranch);
      if (existing) {
        logger.info({ repo, headBranch, number: existing.number }, 'pin pull request reused');
        return existing;
      }
      try {
        const { data } = await octokit.request('POST /repos/{owner}/{repo}/pulls', { owner, repo: name, title, body, head: headBranch, base: baseBranch });
        const pull = pullSchema.parse(data);
        logger.info({ repo, headBranch, number: pull.number }, 'pin pull request opened');
        return { number: pull.number, url: pull.html_url };
      } catch (err) {
        // A concurrent run opened it between our lookup and create.
        if (statusOf(err) === 422) {
          const raced = await findOpenPull(repo, headBranch, baseBranch);
          if (raced) return raced;
        }
        if (err instanceof z.ZodError) {
          throw new AppError('git_record_failed', `GitHub's answer to opening a pull request in ${repo} did not have the expected shape.`, { repo });
        }
        throw failure(err, `opening a pull request from ${headBranch}`, repo);
      }
    },

    async pullRequestState(repo, number) {
      const { owner, repo: name } = splitRepo(repo);
      const pull = await call(`reading pull request #${number}`, repo, pullSchema, () =>
        octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { owner, repo: name, pull_number: number }),
      );
      if (pull.merged) return 'merged';
      return pull.state === 'closed' ? 'closed' : 'open';
    },

    revertTag({ repo, path, branch, image, currentVersion, previousVersion, reason }) {
      return commitTag({
        repo,
        path,
        branch,
        image,
        fromVersion: currentVersion,
        toVersion: previousVersion,
        message: `Revert ${image} to ${previousVersion}\n\n${currentVersion} was rolled back: ${reason}`,
      });
    },

    async closePullRequest(repo, number, comment) {
      const { owner, repo: name } = splitRepo(repo);
      await call(`commenting on pull request #${number}`, repo, z.unknown(), () =>
        octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { owner, repo: name, issue_number: number, body: comment }),
      );
      await call(`closing pull request #${number}`, repo, pullSchema, () =>
        octokit.request('PATCH /repos/{owner}/{repo}/pulls/{pull_number}', { owner, repo: name, pull_number: number, state: 'closed' }),
      );
      logger.info({ repo, number }, 'pin pull request closed');
    },
  };
}
