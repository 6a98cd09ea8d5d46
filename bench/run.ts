// `npm run bench [-- part …]`: runs the named bench parts (default: all), prints each figure as `name: value unit`,
// writes them to bench/results/latest.json and ends with `bench: done`.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/repo-root.js';
import { createReport, type Report } from './report.js';

// Loaded when run, so a part that cannot even load (say, the bot fails to import) fails alone.
const PARTS: Record<string, (report: Report) => Promise<void>> = {
  summarize: async (report) => (await import('./release-bench.js')).releaseParsingBench(report),
  'auto-upgrade': async (report) => (await import('./auto-upgrade-bench.js')).autoUpgradeDecideBench(report),
  'auto-upgrade-service': async (report) => (await import('./auto-upgrade-service-bench.js')).autoUpgradeServiceBench(report),
  poll: async (report) => (await import('./poll-bench.js')).unchangedPollBench(report),
  ack: async (report) => (await import('./ack-latency.js')).ackLatencyBench(report),
  job: async (report) => (await import('./job-bench.js')).jobOverheadBench(report),
  load: async (report) => (await import('./load-bench.js')).loadBench(report),
  backup: async (report) => (await import('./backup-bench.js')).backupBench(report),
};

const RESULTS_PATH = join(REPO_ROOT, 'bench/results/latest.json');

async function main(argv: string[]): Promise<number> {
  const requested = argv.length > 0 && !argv.includes('all') ? argv : Object.keys(PARTS);
  const unknown = requested.filter((part) => !(part in PARTS));
  if (unknown.length > 0) {
    console.error(`bench: unknown part ${unknown.join(', ')}; choose from ${Object.keys(PARTS).join(', ')} (default: all)`);
    return 2;
  }
  const report = createReport();
  const startedAt = new Date().toISOString();
  const failed: string[] = [];
  for (const part of requested) {
    try {
      await PARTS[part]!(report);
    } catch (err) {
      failed.push(part);
      console.error(`bench: part ${part} failed`, err);
    }
  }
  await report.write(RESULTS_PATH, {
    startedAt,
    finishedAt: new Date().toISOString(),
    parts: requested,
    failed,
    node: process.version,
    cpus: availableParallelism(),
  });
  if (failed.length > 0) {
    console.error(`bench: failed parts: ${failed.join(', ')}`);
    return 1;
  }
  process.stdout.write('bench: done\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('bench: failed', err);
    process.exit(1);
  },
);
