// One pattern decides that a name holds a secret: the logger's fields, assignments in outside text, a container's variables.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, SecretRegistry } from '../../src/logger.js';
import { MASK, maskSecrets, SECRET_NAME } from '../../src/secret-mask.js';

describe('the secret-name pattern', () => {
  it.each([
    'ENCRYPTION_MASTER_KEY', 'apiKey', 'SLACK_BOT_TOKEN', 'client-secret', 'db_password', 'DB_PASSWD', 'MYSQL_PWD',
    'AWS_CREDENTIAL', 'credentials', 'Authorization', 'cookie', 'x-hub-signature-256',
  ])('calls %s secret', (name) => {
    expect(SECRET_NAME.test(name)).toBe(true);
  });

  it.each(['PORT', 'NODE_ENV', 'DATABASE_HOST', 'LOG_LEVEL', 'user', 'passage'])('does not call %s secret', (name) => {
    expect(SECRET_NAME.test(name)).toBe(false);
  });

  it('is what the logger redacts by field name: a name only the text masking knew (pwd, credentials) is redacted too', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination });

    logger.info({ MYSQL_PWD: 'hunter22', credentials: { user: 'ops' }, port: 5432 }, 'connecting');

    expect(JSON.parse(lines[0]!)).toMatchObject({ MYSQL_PWD: REDACTED, credentials: REDACTED, port: 5432 });
  });

  it('is what outside text is masked by: a name only the logger knew (signature, cookie) is masked too', () => {
    expect(maskSecrets('webhook signature=sha256-abcdef0123 cookie: session=9f8e7d6c port=8080')).toBe(`webhook signature=${MASK} cookie: ${MASK} port=8080`);
  });
});
