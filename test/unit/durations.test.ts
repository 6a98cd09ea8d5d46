import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { durationSchema, formatDuration, parseDuration, parseDurationValue, type DurationRules } from '../../src/domain/durations.js';

const STRICT: DurationRules = { plainNumbers: 'refuse', example: '72h' };
const LEGACY: DurationRules = { plainNumbers: 'seconds', example: '300' };

describe('parseDurationValue', () => {
  it.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['90d', 90 * 86_400_000],
    ['1s', 1_000],
    ['366d', 366 * 86_400_000],
  ])('reads %s', (text, ms) => {
    expect(parseDurationValue(text, STRICT)).toEqual({ ok: true, ms });
  });

  it.each<[unknown, RegExp]>([
    ['1.5h', /fractions are not allowed; write `90m`/],
    ['0.5d', /fractions are not allowed; write `12h`/],
    ['1,5h', /fractions are not allowed/],
    ['10', /`10` has no unit: write a whole number and a unit \(s, m, h or d\), such as `72h`/],
    [10, /`10` has no unit/],
    ['-1h', /no sign/],
    ['+1h', /no sign/],
    ['h', /the number is missing/],
    ['', /not a duration/],
    ['1H', /lower case; write `1h`/],
    ['1h30m', /one unit only \(`1h30m` is `90m`\)/],
    ['10ms', /the unit must be s, m, h or d/],
    ['2w', /the unit must be s, m, h or d/],
    ['010m', /no leading zeros/],
    [' 10m', /contains spaces/],
    ['10m ', /contains spaces/],
    ['10 m', /contains spaces/],
    ['10\u00a0m', /contains spaces/],
    ['1e3s', /not a duration/],
    ['0x10s', /not a duration/],
    ['Infinityh', /not a duration/],
    ['99999999999999999999h', /too long: the most this field takes is 366d/],
    ['367d', /too long: the most this field takes is 366d/],
    ['9000h', /too long/],
    ['0s', /`0s` is zero/],
    [true, /expected a duration, got a boolean/],
    [null, /expected a duration, got nothing/],
    [undefined, /expected a duration, got nothing/],
    [['1h'], /got a list/],
    [{ h: 1 }, /got an object/],
  ])('refuses %j with a message that says what to write', (value, message) => {
    const result = parseDurationValue(value, STRICT);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(message);
  });

  it('reads plain numbers and digit strings as seconds where the field was seconds before', () => {
    expect(parseDurationValue(300, LEGACY)).toEqual({ ok: true, ms: 300_000 });
    expect(parseDurationValue('300', LEGACY)).toEqual({ ok: true, ms: 300_000 });
    expect(parseDurationValue('5m', LEGACY)).toEqual({ ok: true, ms: 300_000 });
  });

  it.each<[unknown, RegExp]>([
    [1.5, /not a whole number of seconds/],
    [-1, /not a whole number of seconds/],
    [Number.NaN, /not a whole number of seconds/],
    [Number.POSITIVE_INFINITY, /not a whole number of seconds/],
    [1e30, /not a whole number of seconds/],
    ['0300', /no leading zeros/],
    [0, /is zero/],
  ])('refuses %j even where plain seconds are allowed', (value, message) => {
    const result = parseDurationValue(value, LEGACY);
    expect(!result.ok && result.message).toMatch(message);
  });

  it('honours a field minimum of zero and a field maximum', () => {
    expect(parseDurationValue('0s', { ...STRICT, minMs: 0 })).toEqual({ ok: true, ms: 0 });
    expect(parseDurationValue('0h', { ...STRICT, minMs: 0 })).toEqual({ ok: true, ms: 0 });
    const week = { ...STRICT, maxMs: 7 * 86_400_000 };
    expect(parseDurationValue('7d', week)).toEqual({ ok: true, ms: 7 * 86_400_000 });
    expect(parseDurationValue('169h', week)).toEqual({ ok: false, message: '`169h` is too long: the most this field takes is 7d' });
    expect(parseDurationValue('30s', { ...STRICT, minMs: 60_000 })).toEqual({ ok: false, message: '`30s` is too short: the least this field takes is 1m' });
  });

  it('cuts a long input short in its message', () => {
    const result = parseDurationValue(`${'x'.repeat(500)}h`, STRICT);
    expect(!result.ok && result.message.length).toBeLessThan(200);
  });
});

describe('parseDuration', () => {
  it('names the field in the error', () => {
    expect(() => parseDuration('1.5h', 'autoUpgrade.notice', STRICT)).toThrow(/^autoUpgrade\.notice: `1\.5h` is not a duration: fractions are not allowed; write `90m`/);
    expect(parseDuration('10m', 'autoUpgrade.notice', STRICT)).toBe(600_000);
  });
});

describe('durationSchema', () => {
  it('parses to milliseconds inside an object and reports the path of a bad value', () => {
    const schema = z.object({ soak: durationSchema(STRICT), notice: durationSchema(STRICT).prefault('10m') });
    expect(schema.parse({ soak: '24h' })).toEqual({ soak: 86_400_000, notice: 600_000 });
    const result = schema.safeParse({ soak: '24 h' });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([expect.objectContaining({ path: ['soak'], message: expect.stringMatching(/contains spaces/) })]);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [30_000, '30s'],
    [90 * 60_000, '90m'],
    [72 * 3_600_000, '3d'],
    [25 * 3_600_000, '25h'],
    [1_500, '1500ms'],
  ])('spells %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through the parser', () => {
    for (const text of ['30s', '15m', '25h', '90d']) {
      const ms = parseDuration(text, 'x', STRICT);
      expect(parseDuration(formatDuration(ms), 'x', STRICT)).toBe(ms);
    }
  });
});
