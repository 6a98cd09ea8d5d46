import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseScheduleTime } from '../../src/domain/schedule-time.js';

const NOW = new Date('2026-01-30T12:00:00Z');

describe('parseScheduleTime', () => {
  it.each<[string, string]>([
    ['2026-01-31T02:00Z', '2026-01-31T02:00:00.000Z'],
    ['2026-01-31t02:00z', '2026-01-31T02:00:00.000Z'],
    ['2026-01-31T02:00:30Z', '2026-01-31T02:00:30.000Z'],
    ['2026-01-31T02:00:30.25Z', '2026-01-31T02:00:30.250Z'],
    ['2026-01-31T02:00+01:00', '2026-01-31T01:00:00.000Z'],
    ['2026-01-31T02:00+0100', '2026-01-31T01:00:00.000Z'],
    ['2026-01-31T02:00+01', '2026-01-31T01:00:00.000Z'],
    ['2026-01-30T20:00-05:00', '2026-01-31T01:00:00.000Z'],
    ['2026-01-31T02:00+05:45', '2026-01-30T20:15:00.000Z'],
    ['2026-03-01T12:00Z', '2026-03-01T12:00:00.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseScheduleTime(text, NOW)).toEqual({ kind: 'time', at: new Date(iso) });
  });

  it('reads window in any case', () => {
    expect(parseScheduleTime('Window', NOW)).toEqual({ kind: 'window' });
  });

  it.each<[string, RegExp]>([
    ['2026-01-31T02:00', /has no offset, so the bot cannot tell which time zone it is in/],
    ['2026-01-31T02:00:00', /has no offset/],
    ['2026-01-31', /has no time of day: write the moment with its offset, such as `2026-01-31T02:00Z`/],
    ['02:00', /has no date/],
    ['02:00+01:00', /has no date/],
    ['tomorrow', /is not a time: write an ISO 8601 moment with `Z` or an offset, such as `2026-01-31T02:00Z`/],
    ['1769824800', /is not a time/],
    ['2026-02-30T02:00Z', /not a real moment/],
    ['2026-13-01T02:00Z', /not a real moment/],
    ['2026-00-10T02:00Z', /not a real moment/],
    ['2026-01-31T24:00Z', /not a real moment/],
    ['2026-01-31T02:60Z', /not a real moment/],
    ['2026-01-31T02:00:60Z', /not a real moment/],
    ['2026-01-31T02:00+15:00', /not a real moment/],
    ['2026-01-31T02:00+01:60', /not a real moment/],
    ['2026-01-30T12:00Z', /in the past \(2026-01-30T12:00:00.000Z; it is now 2026-01-30T12:00:00.000Z\)/],
    ['2026-01-30T11:59Z', /in the past/],
    ['2026-03-01T12:00:01Z', /more than 30 days ahead: the bot schedules upgrades at most 30 days ahead/],
    ['', /Say when after `--at`/],
    ['<!channel>', /&lt;!channel&gt;/],
  ])('refuses %j', (text, message) => {
    let error: unknown;
    try {
      parseScheduleTime(text, NOW);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_input');
    expect((error as AppError).message).toMatch(message);
    expect((error as AppError).message).not.toMatch(/<!/);
  });
});
