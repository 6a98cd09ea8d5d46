// pino with two layers of redaction: by key name (anything like *key*, *token*, *secret*) and by value
// (every registered secret, wherever it appears: messages, stacks, nested objects).
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { escapeRegExp } from './domain/regexp.js';
import { SECRET_NAME } from './secret-mask.js';

export type { Logger } from 'pino';

export const REDACTED = '[REDACTED]';

/** Key names (SECRET_NAME) whose values are secret whatever they hold, except these: names of secrets (`apiKeyEnv`) and fingerprints. */
const NOT_SECRET_KEY = /(Env|Fingerprint|Id|Ids|Name|Count)$|^(key|keys)$/;

/** A set of secret values that only grows; shared by the logger and anything else that must scrub text. */
export class SecretRegistry {
  private readonly values = new Set<string>();
  private pattern: RegExp | null = null;

  register(...secrets: (string | null | undefined)[]): void {
    let changed = false;
    for (const s of secrets) {
      if (s && s.length >= 4 && !this.values.has(s)) {
        this.values.add(s);
        changed = true;
      }
    }
    if (changed) {
      const alternatives = [...this.values].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.pattern = new RegExp(alternatives.join('|'), 'g');
    }
  }

  scrub(text: string): string {
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }

  get size(): number {
    return this.values.size;
  }
}

function redactByKey(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactByKey(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_NAME.test(k) && !NOT_SECRET_KEY.test(k) && v !== null && v !== undefined ? REDACTED : redactByKey(v, depth + 1);
  }
  return out;
}

export interface LoggerSettings {
  level: string;
  /** `pretty` for humans; defaults to pretty when stdout is a TTY. */
  format?: 'json' | 'pretty' | null;
  secrets: SecretRegistry;
  destination?: DestinationStream;
  name?: string;
}

export function createLogger({ level, format, secrets, destination, name = 'checkstack-chatops' }: LoggerSettings): Logger {
  const pretty = format === 'pretty' || (format == null && !destination && process.stdout.isTTY);
  const options: LoggerOptions = {
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: (obj) => redactByKey(obj) as Record<string, unknown> },
    hooks: { streamWrite: (line) => secrets.scrub(line) },
  };
  if (destination) return pino(options, destination);
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  return pino(options);
}
