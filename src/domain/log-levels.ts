// What a Checkstack log line says about its severity, and what the log watch may show of it; pure. The watch's
// summary in words is src/slack/log-watch-words.ts.
//
// Checkstack's backend logs through winston (`rootLogger` in core/backend) with `format.simple()` and colours:
// `error: message {"meta":…}`, the level wrapped in ANSI colour codes. Bun prints uncaught errors as
// `error: message` followed by `at …` frames, and Node as `TypeError: message`. Operators often put a JSON
// logger or a log shipper in front, so JSON lines (pino numeric levels, winston/bunyan string levels) count too.
import { maskSecrets } from '../secret-mask.js';
import { squashWhitespace } from '../util/squash-whitespace.js';

export type LogLineLevel = 'fatal' | 'error' | 'warn' | 'info' | 'other';

export interface LogCounts {
  warn: number;
  error: number;
  fatal: number;
}

/** How the runtime looked when the watch ended; null when the platform could not tell. */
export interface LogWatchRuntime {
  running: boolean;
  exitCode: number | null;
  oomKilled: boolean;
}

export type LogWatchEnd =
  /** `until` was reached (the normal end). */
  | { kind: 'ended'; minutes: number; runtime?: LogWatchRuntime | null }
  /** Someone stopped it from the thread; `by` is a Slack user id when known. */
  | { kind: 'stopped'; minutes: number; by?: string | null; runtime?: LogWatchRuntime | null }
  /** The upgrade is not `succeeded` any more (rolled back, …): watching the new version makes no sense. */
  | { kind: 'superseded'; minutes: number; status: string; runtime?: LogWatchRuntime | null };

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

const WORD_LEVELS: Record<string, LogLineLevel> = {
  fatal: 'fatal',
  panic: 'fatal',
  crit: 'fatal',
  critical: 'fatal',
  emerg: 'fatal',
  emergency: 'fatal',
  alert: 'fatal',
  error: 'error',
  err: 'error',
  eror: 'error',
  severe: 'error',
  warn: 'warn',
  warning: 'warn',
  wrn: 'warn',
  info: 'info',
  inf: 'info',
  notice: 'info',
  http: 'info',
  verbose: 'info',
  debug: 'info',
  dbg: 'info',
  trace: 'info',
  trc: 'info',
  silly: 'info',
};

/** A level word as loggers spell it (`ERROR`, `warning`, `Err`), or undefined. */
function levelWord(word: string): LogLineLevel | undefined {
  return WORD_LEVELS[word.toLowerCase()];
}

/** pino/bunyan numbers: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
function levelNumber(n: number): LogLineLevel {
  if (n >= 60) return 'fatal';
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  return 'info';
}

const LEVEL_KEYS = ['level', 'lvl', 'severity', 'levelname', 'loglevel', 'log.level', '@l'];

function classifyJson(value: Record<string, unknown>): LogLineLevel | undefined {
  for (const key of LEVEL_KEYS) {
    const raw = key === 'log.level' ? (value.log as Record<string, unknown> | undefined)?.level : value[key];
    if (typeof raw === 'number' && Number.isFinite(raw)) return levelNumber(raw);
    if (typeof raw === 'string') {
      const text = raw.replace(ANSI, '').trim();
      if (/^\d+$/.test(text)) return levelNumber(Number(text));
      const level = levelWord(text);
      if (level) return level;
    }
  }
  return undefined;
}

/** Things that end a process, whatever level they were logged at. */
const FATAL_MARKERS = [
  /\bFATAL\b/,
  /^panic(?:\([^)]*\))?:/i,
  /\buncaught ?exception\b/i,
  /\bunhandled ?(?:promise )?rejection\b/i,
  /JavaScript heap out of memory/i,
  /\bSegmentation fault\b/i,
];

/** A timestamp, a pid or a `[tag]` before the level: `2025-06-01T12:00:00.000Z`, `[12:00:00.123]`, `(42)`. */
const HEAD_NOISE =
  /^(?:\[[^\]]{0,64}\]|\([^)]{0,32}\)|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2})\s*/;

/**
 * The level a plain-text line starts with, after timestamps and tags: `error: …` (winston simple),
 * `ERROR …`, `[WARN] …`, `2025-06-01 12:00:00 INFO …`, `[12:00:00.123] ERROR (42): …` (pino-pretty).
 * Lower-case words count only with a colon, so that `error handling enabled` is not an error.
 */
function leadingLevel(line: string): LogLineLevel | undefined {
  let rest = line;
  for (let i = 0; i < 4; i += 1) {
    const bracketed = /^[[<(]\s*([A-Za-z]+)\s*[\]>)]/.exec(rest);
    if (bracketed) {
      const level = levelWord(bracketed[1]!);
      if (level) return level;
    }
    const word = /^([A-Za-z]+)(:|\s|$)/.exec(rest);
    if (word) {
      const level = levelWord(word[1]!);
      const shouting = word[1] === word[1]!.toUpperCase();
      if (level && (word[2] === ':' || shouting)) return level;
    }
    const noise = HEAD_NOISE.exec(rest);
    if (!noise || noise[0].length === 0) return undefined;
    rest = rest.slice(noise[0].length);
  }
  return undefined;
}

/** `level=error`, `lvl="warn"`, `severity=ERROR` anywhere in a logfmt line. */
function logfmtLevel(line: string): LogLineLevel | undefined {
  const match = /(?:^|\s)(?:level|lvl|severity)=("?)([A-Za-z]+)\1(?=\s|$)/i.exec(line);
  return match ? levelWord(match[2]!) : undefined;
}

/** `[ERROR]`, `<warn>` further into the line (after a logger name, say). */
function bracketedLevel(line: string): LogLineLevel | undefined {
  const match = /[[<]\s*(FATAL|PANIC|CRIT(?:ICAL)?|ERROR|ERR|WARN(?:ING)?|INFO|DEBUG|TRACE)\s*[\]>]/i.exec(line);
  return match ? levelWord(match[1]!) : undefined;
}

/** The head of an error with a stack trace: `Error: …`, `TypeError: …`, `Uncaught SyntaxError …`, `AppError [code]: …`. */
const ERROR_HEAD = /^(?:Uncaught\s+)?(?:[A-Z][A-Za-z0-9]*)?(?:Error|Exception)(?:\s*\[[^\]]*\])?(?::|\s*$)/;

/**
 * The severity of one log line. `info` covers lines that carry a level below warn (info, debug, trace);
 * `other` is anything without a recognisable level: plain output, stack frames, banners.
 */
export function classifyLogLine(text: string): LogLineLevel {
  const line = text.replace(ANSI, '').trim();
  if (line === '') return 'other';

  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const record = parsed as Record<string, unknown>;
        const level = classifyJson(record);
        if (level) return level;
        // No level field: a wrapper around console output; the message may carry the level itself.
        const message = record.msg ?? record.message;
        return typeof message === 'string' && !message.trim().startsWith('{') ? classifyLogLine(message) : 'other';
      }
    } catch {
      // Not JSON after all: a brace-led text line.
    }
  }

  const level = leadingLevel(line) ?? logfmtLevel(line) ?? bracketedLevel(line);
  // A crash marker upgrades an error (and an unlevelled line); an info line that merely mentions one stays info.
  if (level === undefined || level === 'error' || level === 'fatal') {
    if (FATAL_MARKERS.some((marker) => marker.test(line))) return 'fatal';
  }
  if (level) return level;
  if (ERROR_HEAD.test(line)) return 'error';
  if (/^\(node:\d+\) \w*Warning:/.test(line)) return 'warn';
  return 'other';
}

/** A log line as the thread may show it: colours gone, secrets masked, one line, at most `max` characters. */
export function logLineForSlack(text: string, max = 300): string {
  return squashWhitespace(maskSecrets(text.replace(ANSI, '')), max);
}
