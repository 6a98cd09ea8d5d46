import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES } from '../../src/errors.js';
import { toUserMessage } from '../../src/slack/error-text.js';

describe('toUserMessage: the one mapping from an error to Slack text', () => {
  it('shows the message of a user-facing code as is, with no reference', () => {
    const message = toUserMessage(new AppError('version_not_allowed', 'Version `latest` is not allowed: pin an exact tag such as `0.141.0`.'), () => 'ab12cd34');
    expect(message).toEqual({ text: 'Version `latest` is not allowed: pin an exact tag such as `0.141.0`.' });
  });

  it('hides an operator-facing message behind a generic text with the reference id', () => {
    const message = toUserMessage(new AppError('deployer_error', 'connect ECONNREFUSED /var/run/docker.sock'), () => 'ab12cd34');
    expect(message.text).not.toContain('ECONNREFUSED');
    expect(message.text).toMatch(/container platform.*reference `ab12cd34`/);
    expect(message.referenceId).toBe('ab12cd34');
  });

  it('gives an unexpected error only the reference id, never its message', () => {
    const message = toUserMessage(new TypeError("Cannot read properties of undefined (reading 'ts')"), () => 'ff00ee11');
    expect(message.text).toMatch(/reference `ff00ee11`/);
    expect(message.text).not.toContain('Cannot read');
    expect(toUserMessage(new AppError('internal', 'boom'), () => 'x1').text).not.toContain('boom');
  });

  it('gives every code other than internal either its own message or a text of its own, never the generic one', () => {
    const generic = toUserMessage(new Error('x'), () => 'r').text;
    const operatorTexts = new Map<string, string>();
    for (const code of ERROR_CODES.filter((c) => c !== 'internal')) {
      const message = toUserMessage(new AppError(code, `message of ${code}`), () => 'r');
      if (message.text === `message of ${code}`) {
        expect(message.referenceId).toBeUndefined();
        continue;
      }
      expect(message.text, code).not.toBe(generic);
      expect(message.text, code).not.toContain(`message of ${code}`);
      expect(message.text, code).toMatch(/ \(reference `r`\)$/);
      expect(operatorTexts.get(message.text), `${code} shares its text`).toBeUndefined();
      operatorTexts.set(message.text, code);
    }
    expect(operatorTexts.size).toBeGreaterThan(0);
    expect(toUserMessage(new AppError('internal', 'x'), () => 'r').text).toBe(generic);
  });
});
