// Release-note parsing: the whole fixture set summarised repeatedly, and the largest body on its own.
import { summarizeRelease, summarizeReleases } from '../src/domain/release-summary.js';
import type { GithubRelease } from '../src/domain/release-types.js';
import { loadFixtureReleases } from '../test/support/fixtures.js';
import { median } from './percentile.js';
import type { Report } from './report.js';

export interface ReleaseBenchOptions {
  runs?: number;
  releases?: GithubRelease[];
}

export function releaseParsingBench(report: Report, options: ReleaseBenchOptions = {}): void {
  const runs = options.runs ?? 50;
  const releases = options.releases ?? loadFixtureReleases();
  const summaries = summarizeReleases(releases);
  const largest = releases.reduce((a, b) => ((b.body ?? '').length > (a.body ?? '').length ? b : a));
  const previous = summaries.find((s) => s.url === largest.html_url)?.previous ?? null;

  // One untimed pass each, so the first timed run does not pay for compiling the regular expressions.
  summarizeRelease(largest, previous);
  const perSet: number[] = [];
  const perLargest: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    let started = performance.now();
    summarizeReleases(releases);
    perSet.push(performance.now() - started);
    started = performance.now();
    summarizeRelease(largest, previous);
    perLargest.push(performance.now() - started);
  }

  report.add('summarize_releases', summaries.length, 'count');
  report.add('summarize_runs', runs, 'count');
  report.add('summarize_ms_per_release', median(perSet) / releases.length, 'ms');
  report.add('summarize_largest_body_ms', median(perLargest), 'ms');
  report.add('summarize_largest_body_chars', (largest.body ?? '').length, 'chars');
  report.note('summarize_largest_body_tag', largest.tag_name);
}
