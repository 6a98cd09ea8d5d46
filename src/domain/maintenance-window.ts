// Maintenance windows: when, in a target's own time zone, an automatic or `--at window` upgrade may start.
//
// A window is open on each listed day from `from` to `to`, local time. `days` names the day a window STARTS:
// `{ days: [sat], from: "22:00", to: "02:00" }` is open from Saturday 22:00 to Sunday 02:00. Local times are turned
// into instants with the time-zone database (luxon, backed by the runtime's ICU data); across a DST change a
// window opens and closes at the FIRST moment the local clock shows its time or later:
// - a time the clock skips (02:30 on the spring-forward day in Europe/Berlin) means the moment the clock jumps
//   (03:00 CEST), so the window opens then and is only shorter; a window that lies wholly inside the skipped hour
//   (02:00–03:00 that day) does not open that day at all;
// - a time the clock shows twice (02:30 on the autumn day) means the first of the two (02:30 CEST), so a window is
//   never open twice on one day.
import { IANAZone } from 'luxon';
import { z } from 'zod';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface MaintenanceWindow {
  /** The days a window starts on, in week order, each once. */
  days: readonly Weekday[];
  /** `HH:MM`, 24 h, local time. */
  from: string;
  /** `HH:MM`, 24 h, local time; earlier than `from` means the window ends the next day. */
  to: string;
  /** An IANA zone name as the runtime spells it (`Europe/Berlin`, `UTC`). */
  timeZone: string;
}

/** One opening of a window: from `start` (inclusive) to `end` (exclusive). */
export interface WindowOccurrence {
  start: Date;
  end: Date;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function parseClock(value: string): number {
  const match = HH_MM.exec(value);
  if (!match) throw new Error(`not an HH:MM time: ${value}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** The runtime's own spelling of a zone (`europe/berlin` → `Europe/Berlin`), or null when it does not exist. */
export function canonicalTimeZone(name: string): string | null {
  // Offsets such as `+01:00` are not zones: they have no DST rules, which is the point of naming a zone.
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name) || !IANAZone.isValidZone(name)) return null;
  return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
}

const clockSchema = (field: 'from' | 'to') =>
  z.unknown().transform((value, ctx): string => {
    if (typeof value === 'number') {
      // YAML 1.1 reads an unquoted 02:00 as the number 120.
      ctx.addIssue({ code: 'custom', message: `write the time in quotes, such as "${field === 'from' ? '02:00' : '05:00'}"` });
      return z.NEVER;
    }
    if (typeof value !== 'string' || !HH_MM.test(value)) {
      const hint = value === '24:00' ? ': write "00:00" for midnight (a window from "22:00" to "00:00" ends at midnight)' : '';
      ctx.addIssue({ code: 'custom', message: `must be a 24-hour time HH:MM such as "${field === 'from' ? '02:00' : '05:00'}"${hint}` });
      return z.NEVER;
    }
    return value;
  });

/** The `window` block of `autoUpgrade`, as the config file spells it. */
export const maintenanceWindowSchema = z
  .object({
    days: z
      .array(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` }), { error: 'must be a list of days such as [sat, sun]' })
      .min(1, 'must name at least one day, such as [sat, sun]; omit `days` for every day')
      .default([...WEEKDAYS])
      .transform((days) => WEEKDAYS.filter((day) => days.includes(day))),
    from: clockSchema('from'),
    to: clockSchema('to'),
    timeZone: z.unknown().transform((value, ctx): string => {
      const zone = typeof value === 'string' ? canonicalTimeZone(value) : null;
      if (zone === null) {
        ctx.addIssue({
          code: 'custom',
          message: `${typeof value === 'string' ? `\`${value.slice(0, 40)}\` is not a time zone the runtime knows` : 'is required'}: use an IANA name such as Europe/Berlin or UTC`,
        });
        return z.NEVER;
      }
      return zone;
    }),
  })
  .strict()
  .refine((w) => w.from !== w.to, { message: '`from` and `to` are the same time: the window would be empty (or a whole day; omit `window` for any time)', path: ['to'] });

export type MaintenanceWindowInput = z.input<typeof maintenanceWindowSchema>;

// ---- turning local times into instants ----

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

function zoneOf(window: MaintenanceWindow): IANAZone {
  const zone = IANAZone.create(window.timeZone);
  if (!zone.isValid) throw new Error(`unknown time zone: ${window.timeZone}`);
  return zone;
}

/** Milliseconds east of UTC at `ms` (luxon's offset is in minutes). */
function offsetMs(zone: IANAZone, ms: number): number {
  return zone.offset(ms) * MINUTE_MS;
}

function localDateOf(zone: IANAZone, ms: number): CalendarDate {
  const local = new Date(ms + offsetMs(zone, ms));
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
}

function addDays(date: CalendarDate, days: number): CalendarDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function weekdayOf(date: CalendarDate): Weekday {
  // getUTCDay: 0 = Sunday.
  return WEEKDAYS[(new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7]!;
}

/**
 * The first instant at which the local clock shows `minutes` past midnight of `date`, or later: the one instant
 * for a normal time, the first of two in a repeated hour, the moment of the jump for a skipped time.
 */
function firstInstantOfLocalTime(zone: IANAZone, date: CalendarDate, minutes: number): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minutes * MINUTE_MS;
  const wallAt = (ms: number) => ms + offsetMs(zone, ms);
  // The offsets a day either side bound the offsets that can apply at `wall` (zones change at most once a day).
  const offsets = new Set([offsetMs(zone, wall - DAY_MS), offsetMs(zone, wall), offsetMs(zone, wall + DAY_MS)]);
  const exact = [...offsets].map((offset) => wall - offset).filter((ms) => wallAt(ms) === wall);
  if (exact.length > 0) return Math.min(...exact);
  // Skipped by a jump forward: the answer is the jump itself, the first instant whose local time is past `wall`.
  let low = wall - Math.max(...offsets); // local time before the jump: earlier than `wall`
  let high = wall - Math.min(...offsets); // local time after the jump: later than `wall`
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (wallAt(middle) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

function occurrenceStartingOn(window: MaintenanceWindow, zone: IANAZone, date: CalendarDate): WindowOccurrence | null {
  if (!window.days.includes(weekdayOf(date))) return null;
  const from = parseClock(window.from);
  const to = parseClock(window.to);
  const start = firstInstantOfLocalTime(zone, date, from);
  const end = firstInstantOfLocalTime(zone, to > from ? date : addDays(date, 1), to);
  // Empty only when the whole window lies in a skipped hour.
  return end > start ? { start: new Date(start), end: new Date(end) } : null;
}

/** The occurrences that start on local dates `first` .. `first + count - 1`, in order. */
function occurrences(window: MaintenanceWindow, zone: IANAZone, first: CalendarDate, count: number): WindowOccurrence[] {
  const found: WindowOccurrence[] = [];
  for (let i = 0; i < count; i++) {
    const occurrence = occurrenceStartingOn(window, zone, addDays(first, i));
    if (occurrence) found.push(occurrence);
  }
  return found;
}

/** The opening of the window that contains `t`, or null when `t` is outside it. */
export function windowOccurrenceAt(window: MaintenanceWindow, t: Date): WindowOccurrence | null {
  const zone = zoneOf(window);
  const ms = t.getTime();
  // An opening that contains t started on t's local date or the day before (a window is shorter than 25 h).
  const today = localDateOf(zone, ms);
  return occurrences(window, zone, addDays(today, -1), 2).find((o) => o.start.getTime() <= ms && ms < o.end.getTime()) ?? null;
}

/** Whether `t` is inside the window; always true without a window (any time). */
export function isInsideWindow(window: MaintenanceWindow | null | undefined, t: Date): boolean {
  return window == null || windowOccurrenceAt(window, t) !== null;
}

/**
 * The opening that contains `t`, or else the next one to start after `t`. Without a window: null (any time).
 * Every listed weekday comes round within a week, and at most one day a year loses its opening to DST, so the
 * search ends within two weeks.
 */
export function currentOrNextWindow(window: MaintenanceWindow, t: Date): WindowOccurrence {
  const current = windowOccurrenceAt(window, t);
  if (current) return current;
  const zone = zoneOf(window);
  const ms = t.getTime();
  const today = localDateOf(zone, ms);
  // Openings come in date order, so the first one that starts after t is the answer.
  for (let day = 0; day < 16; day++) {
    const next = occurrenceStartingOn(window, zone, addDays(today, day));
    if (next && next.start.getTime() > ms) return next;
  }
  throw new Error(`no opening of the window within 16 days of ${t.toISOString()}`);
}

/** The first moment at or after `t` that is inside the window: `t` itself when inside, else the next start. */
export function nextMomentInWindow(window: MaintenanceWindow | null | undefined, t: Date): Date {
  if (window == null) return t;
  const occurrence = currentOrNextWindow(window, t);
  return occurrence.start.getTime() <= t.getTime() ? t : occurrence.start;
}

/** When the opening that contains `t` closes; null when `t` is outside the window or there is no window. */
export function windowEndAt(window: MaintenanceWindow | null | undefined, t: Date): Date | null {
  if (window == null) return null;
  return windowOccurrenceAt(window, t)?.end ?? null;
}

/** The window's local wall-clock fields of an instant (for presenting a start as `Sat 02:00 Europe/Berlin`). */
export function localTimeIn(timeZone: string, t: Date): { weekday: Weekday; date: string; time: string } {
  const zone = IANAZone.create(timeZone);
  const local = new Date(t.getTime() + offsetMs(zone, t.getTime()));
  const date = { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
  const pad = (n: number) => String(n).padStart(2, '0');
  return {
    weekday: weekdayOf(date),
    date: `${date.year}-${pad(date.month)}-${pad(date.day)}`,
    time: `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}`,
  };
}
