// Says out loud which suites a run skipped for want of a Docker engine: a local `npm test` prints them with the way
// to run them, and in CI (CI=true) a skipped suite fails the run, since CI must never pass without them.
import { relative } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export interface SkippedSuite {
  file: string;
  name: string;
}

export interface DockerSkipVerdict {
  /** Lines to print; empty when nothing was skipped. */
  lines: string[];
  failRun: boolean;
}

const HOW_TO_RUN = [
  'Run them against a throwaway engine and registry (needs root, docker.io and docker-registry):',
  '  env_lines=$(.ci/docker-up.sh /tmp/ck-docker) && eval "$env_lines" && npm test',
  '  .ci/docker-down.sh /tmp/ck-docker',
];

/** What to say (and whether to fail) given the suites skipped in a run. */
export function dockerSkipVerdict({ ci, dockerHost, skipped }: { ci: boolean; dockerHost: string | undefined; skipped: readonly SkippedSuite[] }): DockerSkipVerdict {
  if (ci && !dockerHost) {
    return { lines: ['CI=true but DOCKER_HOST is not set: the Docker suites cannot run, so this run fails.', ...HOW_TO_RUN], failRun: true };
  }
  if (skipped.length === 0) return { lines: [], failRun: false };
  const listed = skipped.map((suite) => `  - ${suite.file}: ${suite.name}`);
  if (ci) return { lines: [`CI=true and ${skipped.length} suite(s) were skipped; CI runs every suite, so this run fails:`, ...listed], failRun: true };
  const why = dockerHost ? 'were skipped' : 'were skipped because DOCKER_HOST is not set';
  return { lines: [`${skipped.length} suite(s) ${why}:`, ...listed, ...(dockerHost ? [] : HOW_TO_RUN)], failRun: false };
}

export default class DockerSkipReporter implements Reporter {
  private root = process.cwd();
  private filtered = false;

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
    // With -t, vitest skips what the pattern leaves out: those are not Docker skips.
    this.filtered = Boolean(vitest.config.testNamePattern);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped: SkippedSuite[] = this.filtered
      ? []
      : testModules.flatMap((module) =>
          [...module.children.suites()]
            .filter((suite) => suite.options.mode === 'skip')
            .map((suite) => ({ file: relative(this.root, module.moduleId), name: suite.name })),
        );
    const verdict = dockerSkipVerdict({ ci: process.env.CI === 'true', dockerHost: process.env.DOCKER_HOST, skipped });
    if (verdict.lines.length === 0) return;
    process.stderr.write(`\n${verdict.lines.join('\n')}\n\n`);
    if (verdict.failRun) process.exitCode = 1;
  }
}
