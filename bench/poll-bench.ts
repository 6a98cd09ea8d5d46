// A release poll when nothing is new: the bot, already up to date with the fixtures, polls the fake GitHub once more.
// It should cost one conditional request (answered 304) and no database write.
import type { Job } from 'bullmq';
import { startFakeGithub, type FakeGithub } from '../test/fakes/fake-github.js';
import { rowVersions } from '../test/support/db-writes.js';
import { loadFixtureReleases } from '../test/support/fixtures.js';
import { waitForQueueIdle } from '../test/support/queues.js';
import { startTestBot, type TestBot } from '../test/support/test-bot.js';
import type { Report } from './report.js';

export async function unchangedPollBench(report: Report): Promise<void> {
  let github: FakeGithub | null = null;
  let t: TestBot | null = null;
  try {
    github = await startFakeGithub({ releases: loadFixtureReleases() });
    t = await startTestBot({ env: { GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', LOG_LEVEL: 'warn' } });
    const queue = t.bot.deps.queues.releases;
    // The startup poll records every fixture release.
    await waitForQueueIdle(queue, 60_000);
    const stored = await t.bot.deps.db.releases.count();

    const requestsBefore = github.requests.length;
    const rowsBefore = await rowVersions(t.bot.deps.pool);
    const added = await queue.add('poll', { reason: 'manual' });
    await waitForQueueIdle(queue);
    const newRequests = github.requests.slice(requestsBefore);
    const writes = changedRowVersions(rowsBefore, await rowVersions(t.bot.deps.pool));
    const job = (added.id ? await queue.raw.getJob(added.id) : undefined) as Job | undefined;

    report.add('poll_releases_stored', stored, 'count');
    report.add('poll_unchanged_http_requests', newRequests.length, 'count');
    report.add('poll_unchanged_db_writes', writes, 'count');
    if (job?.processedOn && job.finishedOn) report.add('poll_unchanged_job_ms', job.finishedOn - job.processedOn, 'ms');
    report.note(
      'poll_unchanged_requests',
      newRequests.map((r) => `${r.method} ${r.path}${r.headers['if-none-match'] ? ' (If-None-Match)' : ''}`),
    );
  } finally {
    await t?.close();
    await github?.close();
  }
}

/**
 * Row versions written between two `rowVersions` fingerprints: inserts and updates each leave a version that was not
 * there before; deletes beyond that leave versions missing. 0 when nothing changed.
 */
export function changedRowVersions(before: string, after: string): number {
  const versions = (fingerprint: string) =>
    new Set(
      fingerprint.split('|').flatMap((part) => {
        const [table, list = ''] = part.split(/:(.*)/s);
        return list ? list.split(',').map((v) => `${table}:${v}`) : [];
      }),
    );
  const old = versions(before);
  const now = versions(after);
  const added = [...now].filter((v) => !old.has(v)).length;
  const removed = [...old].filter((v) => !now.has(v)).length;
  return added + Math.max(0, removed - added);
}
