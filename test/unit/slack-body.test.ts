import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsesToNonObject, slackBodyInternals } from '../../src/http/slack-body.js';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const { surelyObjectOrUnparseable, parsedLikeBolt } = slackBodyInternals;

/** The answer from the full parse alone, as the guard gave it before the fast path. */
function fullParseSaysNonObject(raw: Buffer, contentType: string): boolean {
  const body = parsedLikeBolt(raw, contentType);
  return body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body));
}

describe('parsesToNonObject: bodies Bolt 5 would parse to something other than an object', () => {
  it.each([
    ['a JSON event', JSON_TYPE, '{"type":"event_callback"}', false],
    ['a JSON object after whitespace', JSON_TYPE, ' \r\n\t{"type":"x"}', false],
    ['JSON null', JSON_TYPE, 'null', true],
    ['a JSON array', JSON_TYPE, '[{"type":"x"}]', true],
    ['a JSON number', JSON_TYPE, '42', true],
    ['a JSON string', JSON_TYPE, '"payload"', true],
    ['text that is not JSON (Bolt answers it)', JSON_TYPE, 'nul', false],
    ['an empty body (Bolt answers it)', JSON_TYPE, '', false],
    ['a form payload that is null', FORM, 'payload=null', true],
    ['a form payload that is an array', FORM, 'payload=%5B%5D', true],
    ['a form payload that is an object', FORM, 'payload=%7B%22type%22%3A%22block_actions%22%7D', false],
    ['a form payload with escaped whitespace before the object', FORM, 'payload=+%0A%09%7B%7D', false],
    ['a form payload under an escaped name', FORM, '%70ayload=null', true],
    ['a form payload after another field', FORM, 'token=x&payload=null', true],
    ['a form payload given twice (Bolt keeps the form)', FORM, 'payload=null&payload=null', false],
    ['a form payload with a broken escape (Bolt answers it)', FORM, 'payload=%7', false],
    ['a slash command', FORM, 'command=%2Fcheckstack&text=upgrade+0.141.0&user_id=U1&response_url=https%3A%2F%2Fx', false],
    ['a form under a content type Bolt reads as JSON', `${FORM}; charset=utf-8`, 'payload=null', false],
  ])('%s', (_name, contentType, body, expected) => {
    const raw = Buffer.from(body);
    expect(parsesToNonObject(raw, contentType)).toBe(expected);
    expect(fullParseSaysNonObject(raw, contentType)).toBe(expected);
  });

  it("decides Slack's own bodies without parsing them", () => {
    const interactivity = new URLSearchParams({ payload: JSON.stringify({ type: 'block_actions', actions: [{ action_id: 'confirm:backup', value: 'a&b=c' }] }) });
    const command = new URLSearchParams({ token: 't', command: '/checkstack', text: 'upgrade 0.141.0 & more=%', response_url: 'https://hooks.slack.com/x?a=1&b=2' });
    expect(surelyObjectOrUnparseable(Buffer.from(interactivity.toString()), FORM)).toBe(true);
    expect(surelyObjectOrUnparseable(Buffer.from(command.toString()), FORM)).toBe(true);
    expect(surelyObjectOrUnparseable(Buffer.from(JSON.stringify({ type: 'event_callback' })), JSON_TYPE)).toBe(true);
  });

  it('agrees with the full parse on 20,000 generated bodies, and its shortcut never hides a non-object', () => {
    const names = ['payload', 'payloa', 'payloads', '%70ayload', 'pay+load', 'Payload', 'token', 'command', '', 'text'];
    const values = ['null', '%7B%7D', '{}', '%7B', '+%7B%22a%22%3A1%7D', '%5B1%5D', '[1]', '42', '%22s%22', '%20null', '%7', '%zz', '', '%0A%7B%7D', 'true', '%EF%BB%BF%7B%7D'];
    const jsonTexts = ['{}', ' {"a":1}', 'null', ' null', '[]', '1', '"x"', '{', '', '\ufeff{}', 'true', '\n\t[1]'];
    const field = fc.oneof(
      { arbitrary: fc.constantFrom(...names), weight: 1 },
      { arbitrary: fc.tuple(fc.constantFrom(...names), fc.constantFrom(...values)).map(([name, value]) => `${name}=${value}`), weight: 9 },
    );
    const body = fc.oneof(
      { arbitrary: fc.record({ contentType: fc.constantFrom(JSON_TYPE, 'text/plain', `${FORM}; charset=utf-8`), body: fc.constantFrom(...jsonTexts) }), weight: 3 },
      {
        arbitrary: fc
          .tuple(fc.array(field, { minLength: 1, maxLength: 4 }), fc.constantFrom('&', '&', '&', '&', '&', '&', '&', '&', '&', '&&'))
          .map(([pairs, joiner]) => ({ contentType: FORM, body: pairs.join(joiner) })),
        weight: 7,
      },
    );
    let shortcuts = 0;
    fc.assert(
      fc.property(body, ({ contentType, body }) => {
        const raw = Buffer.from(body);
        const shortcut = surelyObjectOrUnparseable(raw, contentType);
        const expected = fullParseSaysNonObject(raw, contentType);
        if (shortcut) {
          shortcuts++;
          expect(expected, `${contentType} ${body}`).toBe(false);
        }
        expect(parsesToNonObject(raw, contentType), `${contentType} ${body}`).toBe(expected);
      }),
      { seed: 20261127, numRuns: 20_000 },
    );
    // The generator must exercise both paths, or the agreement above proves little.
    expect(shortcuts).toBeGreaterThan(2_000);
    expect(shortcuts).toBeLessThan(18_000);
  });

  it('leaves a form with more fields than Bolt reads to the full parse', () => {
    const body = `${Array.from({ length: 1000 }, (_, i) => `f${i}=1`).join('&')}&payload=null`;
    expect(surelyObjectOrUnparseable(Buffer.from(body), FORM)).toBe(false);
    // Bolt stops at the 1000th field, so the payload after it is never parsed: an object.
    expect(parsesToNonObject(Buffer.from(body), FORM)).toBe(false);
  });
});
