// Durations in the config file: one whole number and one unit (`30s`, `15m`, `24h`, `90d`), parsed strictly.
import { z } from 'zod';

export type DurationUnit = 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const UNIT_ORDER: readonly DurationUnit[] = ['d', 'h', 'm', 's'];

/** Longest duration any field accepts unless it says otherwise: a year is more than every cadence the bot has. */
export const MAX_DURATION_MS = 366 * UNIT_MS.d;
/** More digits than this is never a real duration, and would lose precision as a number. */
const MAX_DIGITS = 9;

const DURATION = /^(0|[1-9]\d*)([smhd])$/;
const PLAIN_SECONDS = /^(0|[1-9]\d*)$/;

export interface DurationRules {
  /**
   * `seconds` for the fields that were plain seconds before durations existed (`readyTimeout: 300`): a bare whole
   * number is read as seconds. `refuse` everywhere else: `10` alone says nothing about its unit.
   */
  plainNumbers: 'seconds' | 'refuse';
  /** Smallest accepted value in ms; 0 allows `0s`. Default 1 s. */
  minMs?: number;
  /** Largest accepted value in ms. Default a year (`MAX_DURATION_MS`). */
  maxMs?: number;
  /** The example an error message offers, such as `72h`. */
  example: string;
}

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `\`${value.length > 24 ? `${value.slice(0, 24)}…` : value}\``;
  if (typeof value === 'number') return `\`${String(value)}\``;
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Parses one duration. The message of a refusal says what was wrong and what to write instead; the caller adds
 * the field's name (the config loader prefixes its path). Never throws.
 */
export function parseDurationValue(value: unknown, rules: DurationRules): DurationResult {
  const { example } = rules;
  const minMs = rules.minMs ?? UNIT_MS.s;
  const maxMs = rules.maxMs ?? MAX_DURATION_MS;
  const shape = `a whole number and a unit (s, m, h or d), such as \`${example}\``;
  const seconds = rules.plainNumbers === 'seconds';

  let text: string;
  if (typeof value === 'number') {
    if (!seconds) return { ok: false, message: `\`${value}\` has no unit: write ${shape}` };
    if (!Number.isSafeInteger(value) || value < 0) {
      return { ok: false, message: `${describeValue(value)} is not a whole number of seconds: write ${shape}, or whole seconds such as \`300\`` };
    }
    text = String(value);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    return { ok: false, message: `expected a duration, got ${describeValue(value)}: write ${shape}` };
  }

  // No trimming, no inner spaces, no signs, no fractions, no exponents: one spelling per value.
  if (text !== text.trim() || /\s/.test(text)) {
    return { ok: false, message: `${describeValue(text)} contains spaces: write ${shape}, with nothing around it` };
  }
  let amount: string | undefined;
  let unit: DurationUnit = 's';
  const withUnit = DURATION.exec(text);
  if (withUnit) {
    amount = withUnit[1];
    unit = withUnit[2] as DurationUnit;
  } else if (PLAIN_SECONDS.test(text)) {
    if (!seconds) return { ok: false, message: `${describeValue(text)} has no unit: write ${shape}` };
    amount = text;
  } else {
    return { ok: false, message: `${describeValue(text)} is not a duration: ${refusalHint(text, example)}` };
  }
  if (amount === undefined || amount.length > MAX_DIGITS) {
    return { ok: false, message: `${describeValue(text)} is too long: the most this field takes is ${formatDuration(maxMs)}` };
  }
  const ms = Number(amount) * UNIT_MS[unit];
  if (ms > maxMs) return { ok: false, message: `${describeValue(text)} is too long: the most this field takes is ${formatDuration(maxMs)}` };
  if (ms < minMs) {
    return {
      ok: false,
      message: minMs <= UNIT_MS.s ? `${describeValue(text)} is zero: write ${shape}` : `${describeValue(text)} is too short: the least this field takes is ${formatDuration(minMs)}`,
    };
  }
  return { ok: true, ms };
}

function refusalHint(text: string, example: string): string {
  const shape = `write a whole number and a unit (s, m, h or d), such as \`${example}\``;
  if (/^[+-]/.test(text)) return `durations have no sign; ${shape}`;
  const fraction = /^(\d+)[.,](\d+)([smhd])$/.exec(text);
  if (fraction) {
    const [, whole = '0', frac = '0', u = 's'] = fraction;
    const ms = Number(`${whole}.${frac}`) * UNIT_MS[u as DurationUnit];
    const better = Number.isSafeInteger(ms) && ms > 0 ? formatDuration(ms) : null;
    return `fractions are not allowed${better ? `; write \`${better}\`` : ''} (${shape})`;
  }
  if (/^[smhd]$/i.test(text)) return `the number is missing; ${shape}`;
  if (/^0\d+[smhd]?$/.test(text)) return `no leading zeros; ${shape}`;
  if (/^\d+[SMHD]$/.test(text)) return `units are lower case; write \`${text.toLowerCase()}\``;
  if (/^(\d+[a-z]+){2,}$/i.test(text)) return `one unit only (\`1h30m\` is \`90m\`); ${shape}`;
  if (/^\d+[a-z]+$/i.test(text)) return `the unit must be s, m, h or d; ${shape}`;
  return shape;
}

/** The shortest exact spelling of a duration in the config's own language: `90m`, `72h`, `1d`, `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const unit of UNIT_ORDER) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Parses a duration for code outside the config loader (a job option, a CLI flag): throws an Error whose message
 * starts with the field's name.
 */
export function parseDuration(value: unknown, field: string, rules: DurationRules): number {
  const result = parseDurationValue(value, rules);
  if (!result.ok) throw new Error(`${field}: ${result.message}`);
  return result.ms;
}

/** A Zod schema for a duration field: accepts the config's spelling, outputs milliseconds. */
export function durationSchema(rules: DurationRules) {
  return z.unknown().transform((value, ctx): number => {
    const result = parseDurationValue(value, rules);
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: result.message });
      return z.NEVER;
    }
    return result.ms;
  });
}
