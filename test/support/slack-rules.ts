// Every test runs under Slack's rules: a payload the fake Slack refused (a message, a response_url body, a Home tab
// view), or accepted only by cutting it, fails the test during which it was sent (or the file, when it came after
// the last test), unless the test took it on purpose with `slack.takeViolations()`. Registered for every test file
// in vitest.config.ts (`setupFiles`).
import { afterAll, afterEach } from 'vitest';
import { collectUntakenViolations } from '../fakes/fake-slack.js';

function failOnViolations(when: string): void {
  const lines = collectUntakenViolations();
  if (lines.length > 0) {
    throw new Error(`Slack would not have shown what the bot sent ${when}:\n  ${lines.join('\n  ')}`);
  }
}

afterEach(() => failOnViolations('during this test'));
afterAll(() => failOnViolations('after the last test of this file'));
