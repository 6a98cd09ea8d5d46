import { describe, expect, it } from 'vitest';
import { dockerSkipVerdict } from '../support/docker-skip-reporter.js';

const SKIPPED = [{ file: 'test/integration/log-watch.test.ts', name: 'log watch on the real engine' }];

describe('the Docker skip reporter', () => {
  it('fails a CI run without DOCKER_HOST, even before any suite is seen', () => {
    const verdict = dockerSkipVerdict({ ci: true, dockerHost: undefined, skipped: [] });
    expect(verdict.failRun).toBe(true);
    expect(verdict.lines.join('\n')).toContain('.ci/docker-up.sh');
  });

  it('fails a CI run that skipped a suite although DOCKER_HOST is set', () => {
    const verdict = dockerSkipVerdict({ ci: true, dockerHost: 'unix:///tmp/d.sock', skipped: SKIPPED });
    expect(verdict.failRun).toBe(true);
    expect(verdict.lines).toContain('  - test/integration/log-watch.test.ts: log watch on the real engine');
  });

  it('names each suite a local run skipped without DOCKER_HOST and how to run them, without failing', () => {
    const verdict = dockerSkipVerdict({ ci: false, dockerHost: undefined, skipped: SKIPPED });
    expect(verdict.failRun).toBe(false);
    expect(verdict.lines[0]).toBe('1 suite(s) were skipped because DOCKER_HOST is not set:');
    expect(verdict.lines).toContain('  - test/integration/log-watch.test.ts: log watch on the real engine');
    expect(verdict.lines.join('\n')).toMatch(/\.ci\/docker-up\.sh .*npm test/);
  });

  it('says nothing when nothing was skipped', () => {
    expect(dockerSkipVerdict({ ci: true, dockerHost: 'tcp://127.0.0.1:2375', skipped: [] })).toEqual({ lines: [], failRun: false });
    expect(dockerSkipVerdict({ ci: false, dockerHost: undefined, skipped: [] })).toEqual({ lines: [], failRun: false });
  });
});
