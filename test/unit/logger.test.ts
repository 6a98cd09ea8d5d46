import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, SecretRegistry } from '../../src/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, destination };
}

describe('logger redaction', () => {
  const MASTER_KEY = 'a'.repeat(32) + 'b'.repeat(32);

  it('redacts fields named like keys, tokens and secrets, at any depth', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination });

    logger.info({ botToken: 'abc-123', nested: { ENCRYPTION_MASTER_KEY: 'zzz', headers: { authorization: 'Bearer q' } }, apiKeyEnv: 'CHECKSTACK_API_KEY' }, 'hello');

    const entry = JSON.parse(lines[0]!);
    expect(entry.botToken).toBe(REDACTED);
    expect(entry.nested.ENCRYPTION_MASTER_KEY).toBe(REDACTED);
    expect(entry.nested.headers.authorization).toBe(REDACTED);
    expect(entry.apiKeyEnv).toBe('CHECKSTACK_API_KEY');
  });

  it('scrubs registered secret values wherever they appear, including messages and error stacks', () => {
    const { lines, destination } = capture();
    const secrets = new SecretRegistry();
    const logger = createLogger({ level: 'info', secrets, destination });
    secrets.register('xoxb-the-bot-token', MASTER_KEY);

    logger.error({ err: new Error(`could not use xoxb-the-bot-token`), env: [`ENCRYPTION_MASTER_KEY=${MASTER_KEY}`] }, `key was ${MASTER_KEY}`);

    const text = lines.join('');
    expect(text).not.toContain('xoxb-the-bot-token');
    expect(text).not.toContain(MASTER_KEY);
    expect(text).toContain(REDACTED);
  });
});
