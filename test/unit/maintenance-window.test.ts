import { describe, expect, it } from 'vitest';
import {
  currentOrNextWindow,
  isInsideWindow,
  localTimeIn,
  maintenanceWindowSchema,
  nextMomentInWindow,
  windowEndAt,
  windowOccurrenceAt,
  type MaintenanceWindow,
} from '../../src/domain/maintenance-window.js';

// Expected instants below were computed independently (Python's zoneinfo), not with the code under test.
// Europe/Berlin 2026: clocks jump 02:00 → 03:00 on Sun 29 March (at 01:00Z) and fall 03:00 → 02:00 on Sun 25 October
// (at 01:00Z). America/New_York: 8 March and 1 November. Australia/Lord_Howe moves by 30 minutes.
const at = (iso: string) => new Date(iso);
const window = (w: Partial<MaintenanceWindow> & Pick<MaintenanceWindow, 'from' | 'to'>): MaintenanceWindow =>
  maintenanceWindowSchema.parse({ days: ['sat', 'sun'], timeZone: 'Europe/Berlin', ...w });

describe('maintenanceWindowSchema', () => {
  it('accepts the contract example and normalises days and zone', () => {
    expect(maintenanceWindowSchema.parse({ days: ['sun', 'sat', 'sun'], from: '02:00', to: '05:00', timeZone: 'europe/berlin' })).toEqual({
      days: ['sat', 'sun'],
      from: '02:00',
      to: '05:00',
      timeZone: 'Europe/Berlin',
    });
  });

  it('means every day when days is omitted', () => {
    expect(maintenanceWindowSchema.parse({ from: '22:00', to: '02:00', timeZone: 'UTC' }).days).toEqual(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a zone that does not exist', { timeZone: 'Mars/Olympus_Mons' }, 'timeZone', /`Mars\/Olympus_Mons` is not a time zone the runtime knows: use an IANA name such as Europe\/Berlin or UTC/],
    ['a fixed offset instead of a zone', { timeZone: '+01:00' }, 'timeZone', /not a time zone/],
    ['no zone', { timeZone: undefined }, 'timeZone', /is required: use an IANA name/],
    ['a day spelled out', { days: ['saturday'] }, 'days.0', /must be one of mon, tue, wed, thu, fri, sat, sun/],
    ['a day as a string', { days: 'sat' }, 'days', /must be a list of days such as \[sat, sun\]/],
    ['no days', { days: [] }, 'days', /at least one day/],
    ['24:00', { to: '24:00' }, 'to', /write "00:00" for midnight/],
    ['an unquoted YAML 1.1 time', { from: 120 }, 'from', /write the time in quotes, such as "02:00"/],
    ['a time without its leading zero', { from: '2:00' }, 'from', /24-hour time HH:MM such as "02:00"/],
    ['seconds', { from: '02:00:00' }, 'from', /HH:MM/],
    ['12-hour time', { from: '2am' }, 'from', /HH:MM/],
    ['the same from and to', { from: '02:00', to: '02:00' }, 'to', /the same time/],
    ['an unknown field', { start: '02:00' }, '', /start/],
  ])('refuses %s', (_name, change, path, message) => {
    const result = maintenanceWindowSchema.safeParse({ days: ['sat'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin', ...change });
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(issue.path.join('.')).toBe(path);
    expect(issue.message + JSON.stringify(issue)).toMatch(message);
  });
});

describe('a weekend window in winter (Europe/Berlin, UTC+1)', () => {
  const w = window({ from: '02:00', to: '05:00' });

  it.each([
    ['Friday noon', '2026-01-23T12:00:00Z', false],
    ['one millisecond before the start', '2026-01-24T00:59:59.999Z', false],
    ['the start (inclusive)', '2026-01-24T01:00:00Z', true],
    ['the last millisecond', '2026-01-24T03:59:59.999Z', true],
    ['the end (exclusive)', '2026-01-24T04:00:00Z', false],
    ['Sunday 04:30 local', '2026-01-25T03:30:00Z', true],
    ['Monday 03:00 local', '2026-01-26T02:00:00Z', false],
  ])('%s is inside: %s', (_name, iso, inside) => {
    expect(isInsideWindow(w, at(iso))).toBe(inside);
  });

  it.each([
    ['Friday noon → Saturday 02:00', '2026-01-23T12:00:00Z', '2026-01-24T01:00:00.000Z'],
    ['inside → itself', '2026-01-24T02:17:00Z', '2026-01-24T02:17:00.000Z'],
    ['Saturday 05:00 → Sunday 02:00', '2026-01-24T04:00:00Z', '2026-01-25T01:00:00.000Z'],
    ['Sunday 05:00 → next Saturday', '2026-01-25T04:00:00Z', '2026-01-31T01:00:00.000Z'],
  ])('the next moment inside: %s', (_name, iso, next) => {
    expect(nextMomentInWindow(w, at(iso)).toISOString()).toBe(next);
  });

  it('gives the end of the opening for a moment inside, and null outside', () => {
    expect(windowEndAt(w, at('2026-01-24T02:00:00Z'))?.toISOString()).toBe('2026-01-24T04:00:00.000Z');
    expect(windowEndAt(w, at('2026-01-23T12:00:00Z'))).toBeNull();
  });

  it('is any time without a window', () => {
    expect(isInsideWindow(null, at('2026-01-23T12:00:00Z'))).toBe(true);
    expect(nextMomentInWindow(undefined, at('2026-01-23T12:00:00Z')).toISOString()).toBe('2026-01-23T12:00:00.000Z');
    expect(windowEndAt(null, at('2026-01-23T12:00:00Z'))).toBeNull();
  });
});

describe('a window that crosses midnight belongs to the day it starts', () => {
  const friday = window({ days: ['fri'], from: '22:00', to: '02:00' });

  it('is open from Friday 22:00 to Saturday 02:00, and not on Saturday night', () => {
    expect(windowOccurrenceAt(friday, at('2026-01-23T23:30:00Z'))).toEqual({ start: at('2026-01-23T21:00:00Z'), end: at('2026-01-24T01:00:00Z') });
    expect(isInsideWindow(friday, at('2026-01-24T00:59:00Z'))).toBe(true);
    expect(isInsideWindow(friday, at('2026-01-24T01:00:00Z'))).toBe(false);
    expect(isInsideWindow(friday, at('2026-01-24T21:30:00Z'))).toBe(false);
    expect(nextMomentInWindow(friday, at('2026-01-24T21:30:00Z')).toISOString()).toBe('2026-01-30T21:00:00.000Z');
  });

  it('ends at midnight with to "00:00"', () => {
    const evening = window({ days: ['sat'], from: '22:00', to: '00:00' });
    expect(windowOccurrenceAt(evening, at('2026-01-24T22:00:00Z'))).toEqual({ start: at('2026-01-24T21:00:00Z'), end: at('2026-01-24T23:00:00Z') });
  });

  it('spans the night of a spring-forward change with its real length (America/New_York, 4 h on the clock, 3 h real)', () => {
    const ny = window({ days: ['sat'], from: '23:00', to: '03:00', timeZone: 'America/New_York' });
    expect(currentOrNextWindow(ny, at('2026-03-07T12:00:00Z'))).toEqual({ start: at('2026-03-08T04:00:00Z'), end: at('2026-03-08T07:00:00Z') });
  });
});

describe('the spring-forward day (Europe/Berlin, Sun 29 March 2026: 02:00 → 03:00)', () => {
  it('opens a window whose start the clock skips at the jump, 03:00 CEST', () => {
    const w = window({ days: ['sun'], from: '02:30', to: '05:00' });
    expect(nextMomentInWindow(w, at('2026-03-28T12:00:00Z')).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(isInsideWindow(w, at('2026-03-29T00:59:59Z'))).toBe(false);
    expect(windowEndAt(w, at('2026-03-29T01:00:00Z'))?.toISOString()).toBe('2026-03-29T03:00:00.000Z');
  });

  it('closes a window whose end the clock skips at the jump', () => {
    const w = window({ days: ['sun'], from: '01:00', to: '02:30' });
    expect(currentOrNextWindow(w, at('2026-03-28T12:00:00Z'))).toEqual({ start: at('2026-03-29T00:00:00Z'), end: at('2026-03-29T01:00:00Z') });
  });

  it('skips that day for a window wholly inside the skipped hour', () => {
    const w = window({ days: ['sun'], from: '02:00', to: '03:00' });
    expect(currentOrNextWindow(w, at('2026-03-28T12:00:00Z'))).toEqual({ start: at('2026-04-05T00:00:00Z'), end: at('2026-04-05T01:00:00Z') });
  });

  it('keeps a window that crosses the jump, one hour shorter', () => {
    const w = window({ days: ['sun'], from: '01:00', to: '05:00' });
    expect(currentOrNextWindow(w, at('2026-03-28T12:00:00Z'))).toEqual({ start: at('2026-03-29T00:00:00Z'), end: at('2026-03-29T03:00:00Z') });
  });
});

describe('the fall-back day (Europe/Berlin, Sun 25 October 2026: 03:00 → 02:00)', () => {
  it('starts a window in the repeated hour at its first pass (02:30 CEST) and stays open through the second', () => {
    const w = window({ days: ['sun'], from: '02:30', to: '04:00' });
    expect(currentOrNextWindow(w, at('2026-10-24T12:00:00Z'))).toEqual({ start: at('2026-10-25T00:30:00Z'), end: at('2026-10-25T03:00:00Z') });
    expect(isInsideWindow(w, at('2026-10-25T01:30:00Z'))).toBe(true); // 02:30 CET, the second pass
  });

  it('never opens a window twice on one day', () => {
    const w = window({ days: ['sun'], from: '02:00', to: '02:45' });
    expect(currentOrNextWindow(w, at('2026-10-24T12:00:00Z'))).toEqual({ start: at('2026-10-25T00:00:00Z'), end: at('2026-10-25T00:45:00Z') });
    // 02:10 CET, the clock's second pass through the window's times: closed; next Sunday instead.
    expect(isInsideWindow(w, at('2026-10-25T01:10:00Z'))).toBe(false);
    expect(nextMomentInWindow(w, at('2026-10-25T01:10:00Z')).toISOString()).toBe('2026-11-01T01:00:00.000Z');
  });

  it('keeps a window that ends in the repeated hour to its first pass', () => {
    const w = window({ days: ['sun'], from: '01:00', to: '02:30' });
    expect(currentOrNextWindow(w, at('2026-10-24T12:00:00Z'))).toEqual({ start: at('2026-10-24T23:00:00Z'), end: at('2026-10-25T00:30:00Z') });
  });

  it('handles half-hour changes (Australia/Lord_Howe, 5 April 2026: 02:00 → 01:30)', () => {
    const w = window({ days: ['sun'], from: '01:40', to: '01:50', timeZone: 'Australia/Lord_Howe' });
    expect(currentOrNextWindow(w, at('2026-04-04T00:00:00Z'))).toEqual({ start: at('2026-04-04T14:40:00Z'), end: at('2026-04-04T14:50:00Z') });
  });

  it('handles a half-hour jump forward (Australia/Lord_Howe, 4 October 2026: 02:00 → 02:30)', () => {
    const w = window({ days: ['sun'], from: '02:10', to: '03:00', timeZone: 'Australia/Lord_Howe' });
    expect(currentOrNextWindow(w, at('2026-10-03T00:00:00Z'))).toEqual({ start: at('2026-10-03T15:30:00Z'), end: at('2026-10-03T16:00:00Z') });
  });
});

describe('window invariants over a year of random moments', () => {
  // A fixed-seed generator: the same moments every run.
  function* moments(seed: number, count: number): Generator<Date> {
    let state = seed;
    for (let i = 0; i < count; i++) {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      yield new Date(Date.UTC(2026, 0, 1) + (state / 2_147_483_648) * 365 * 86_400_000);
    }
  }
  const windows: MaintenanceWindow[] = [
    window({ from: '02:00', to: '05:00' }),
    window({ days: ['sun'], from: '02:30', to: '03:15' }),
    window({ days: ['fri', 'sun'], from: '22:00', to: '02:30' }),
    window({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '12:00', to: '12:01', timeZone: 'America/New_York' }),
  ];

  it('finds the next moment inside, with nothing inside just before it, and an end after it', () => {
    for (const w of windows) {
      for (const t of moments(42, 150)) {
        const next = nextMomentInWindow(w, t);
        expect(next.getTime()).toBeGreaterThanOrEqual(t.getTime());
        expect(isInsideWindow(w, next)).toBe(true);
        if (next.getTime() > t.getTime()) expect(isInsideWindow(w, new Date(next.getTime() - 1))).toBe(false);
        const end = windowEndAt(w, next)!;
        expect(end.getTime()).toBeGreaterThan(next.getTime());
        expect(isInsideWindow(w, new Date(end.getTime() - 1))).toBe(true);
        expect(isInsideWindow(w, end)).toBe(false);
      }
    }
  });
});

describe('localTimeIn', () => {
  it('gives the weekday and wall time in the zone', () => {
    expect(localTimeIn('Europe/Berlin', at('2026-01-24T01:00:00Z'))).toEqual({ weekday: 'sat', date: '2026-01-24', time: '02:00' });
    expect(localTimeIn('Europe/Berlin', at('2026-10-25T01:30:00Z'))).toEqual({ weekday: 'sun', date: '2026-10-25', time: '02:30' });
  });
});

describe('a window object that bypassed the schema', () => {
  it('refuses an unknown zone instead of guessing', () => {
    expect(() => isInsideWindow({ days: ['sat'], from: '02:00', to: '05:00', timeZone: 'Mars/Olympus_Mons' }, at('2026-01-24T01:00:00Z'))).toThrow(/unknown time zone/);
  });
});
