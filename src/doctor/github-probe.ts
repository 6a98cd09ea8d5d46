// GitHub facts for the doctor: reachability and the rate limit (`GET /rate_limit`, which costs nothing), and whether
// the token may push to each pin repository (`GET /repos/{owner}/{repo}`: `permissions.push`). Reads only.
import type { Octokit } from '@octokit/rest';
import type { Config } from '../config.js';
import type { GithubFacts } from '../domain/doctor.js';

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(err: unknown): string {
  const message = (err as { response?: { data?: { message?: unknown } } } | null)?.response?.data?.message;
  if (typeof message === 'string') return message;
  return err instanceof Error ? err.message : String(err);
}

export async function probeGithub(octokit: Octokit, config: Pick<Config, 'github' | 'targets'>): Promise<GithubFacts> {
  let rateLimit: GithubFacts['rateLimit'];
  try {
    const { data } = await octokit.rest.rateLimit.get();
    const core = data.resources.core;
    rateLimit = { limit: core.limit, remaining: core.remaining, resetAt: new Date(core.reset * 1000).toISOString() };
  } catch (err) {
    const status = statusOf(err);
    rateLimit = { error: status ? `HTTP ${status}: ${messageOf(err)}` : messageOf(err) };
  }
  const pinRepos = await Promise.all(
    config.targets
      .filter((t) => t.pin?.github)
      .map(async (t): Promise<GithubFacts['pinRepos'][number]> => {
        const repo = t.pin!.github!.repo;
        const [owner, name] = repo.split('/') as [string, string];
        try {
          const { data } = await octokit.rest.repos.get({ owner, repo: name });
          return { target: t.name, repo, answer: { push: data.permissions?.push ?? null } };
        } catch (err) {
          const status = statusOf(err);
          return { target: t.name, repo, answer: status ? { status, error: messageOf(err) } : { error: messageOf(err) } };
        }
      }),
  );
  return { apiUrl: config.github.apiUrl, tokenSet: config.github.token !== null, rateLimit, pinRepos };
}
