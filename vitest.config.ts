import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Slack's rules hold in every test: see test/support/slack-rules.ts.
    setupFiles: ['test/support/slack-rules.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The second reporter names the suites skipped without Docker, and fails a CI run that skipped any.
    reporters: ['default', './test/support/docker-skip-reporter.ts'],
  },
});
