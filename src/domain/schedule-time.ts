// The value of `/checkstack upgrade … --at <time>|window`: an ISO 8601 moment with an explicit offset, or the
// target's next maintenance window.
import { AppError } from '../errors.js';
import { echoUserInput } from './versions.js';

export type UpgradeSchedule = { kind: 'window' } | { kind: 'time'; at: Date };

/** How far ahead `--at` may reach: approvals and release notes go stale, and a forgotten schedule should not fire. */
export const MAX_SCHEDULE_AHEAD_DAYS = 30;
const DAY_MS = 86_400_000;

const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

function invalid(message: string): never {
  throw new AppError('invalid_input', message);
}

/** An example in the user's near future, so copying it works: tomorrow 02:00 UTC. */
function exampleAfter(now: Date): string {
  const tomorrow = new Date(now.getTime() + DAY_MS);
  return `${tomorrow.toISOString().slice(0, 10)}T02:00Z`;
}

function offsetMinutes(text: string): number | null {
  if (text === 'Z' || text === 'z') return 0;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(text);
  if (!match) return null;
  const hours = Number(match[2]);
  const minutes = Number(match[3] ?? '0');
  if (hours > 14 || minutes > 59) return null;
  return (match[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * Parses `--at`'s value. `window` (any case) means the target's next maintenance window. A time must carry `Z` or an
 * offset (`+01:00`): a bare local time is ambiguous, since the bot, the user and the target may sit in three zones.
 * The moment must lie after `now` and at most `MAX_SCHEDULE_AHEAD_DAYS` ahead. Throws `invalid_input`.
 */
export function parseScheduleTime(raw: string, now: Date): UpgradeSchedule {
  if (raw.toLowerCase() === 'window') return { kind: 'window' };
  const example = exampleAfter(now);
  if (raw === '') {
    invalid(`Say when after \`--at\`: an ISO 8601 time with an offset, such as \`--at ${example}\`, or \`--at window\` for the target's next maintenance window.`);
  }
  const shown = echoUserInput(raw);
  const match = ISO.exec(raw);
  if (!match) {
    if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) invalid(`\`${shown}\` has no time of day: write the moment with its offset, such as \`${raw}T02:00Z\` or \`${raw}T02:00+01:00\`.`);
    if (/^\d{1,2}:\d{2}/.test(raw)) invalid(`\`${shown}\` has no date: write the whole moment with its offset, such as \`${example}\`, or \`--at window\` for the target's next maintenance window.`);
    invalid(`\`${shown}\` is not a time: write an ISO 8601 moment with \`Z\` or an offset, such as \`${example}\` or \`${example.replace('Z', '+01:00')}\`, or \`--at window\` for the target's next maintenance window.`);
  }
  const [, y, mo, d, h, mi, s = '0', fraction = '0', zone] = match;
  if (zone === undefined) {
    invalid(
      `\`${shown}\` has no offset, so the bot cannot tell which time zone it is in: add \`Z\` for UTC or your offset, such as \`${raw}Z\` or \`${raw}+01:00\`.`,
    );
  }
  const offset = offsetMinutes(zone);
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(local);
  const valid =
    offset !== null &&
    month >= 1 &&
    check.getUTCFullYear() === year &&
    check.getUTCMonth() === month - 1 &&
    check.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60;
  if (!valid) invalid(`\`${shown}\` is not a real moment (check the date, the time and the offset): write it such as \`${example}\`.`);
  const at = new Date(local - offset! * 60_000);
  if (at.getTime() <= now.getTime()) {
    invalid(`\`${shown}\` is in the past (${at.toISOString()}; it is now ${now.toISOString()}): pick a later time, such as \`${example}\`, or \`--at window\`.`);
  }
  if (at.getTime() - now.getTime() > MAX_SCHEDULE_AHEAD_DAYS * DAY_MS) {
    invalid(
      `\`${shown}\` is more than ${MAX_SCHEDULE_AHEAD_DAYS} days ahead: the bot schedules upgrades at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead, so that approvals and release notes are fresh when it starts.`,
    );
  }
  return { kind: 'time', at };
}
