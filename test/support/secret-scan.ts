// Looks for secret values in everything the bot wrote: raw and in the encodings a careless serialiser would use.
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';

/** One place a secret was found, with the secret itself masked so the report does not print it again. */
export interface SecretFinding {
  secret: string;
  form: string;
  source: string;
  excerpt: string;
}

/**
 * The distinct strings that betray `value`: raw, URL- and form-encoded, JSON-escaped, and base64/base64url. A secret inside a
 * longer base64 text encodes differently by its offset modulo 3, so each alignment contributes the part of the
 * encoding that only the secret's own bytes decide.
 */
export function encodedForms(value: string): Map<string, string> {
  const forms = new Map<string, string>([
    ['raw', value],
    ['url-encoded', encodeURIComponent(value)],
    ['form-encoded', new URLSearchParams({ v: value }).toString().slice(2)],
    ['json-escaped', JSON.stringify(value).slice(1, -1)],
  ]);
  const bytes = Buffer.from(value, 'utf8');
  for (const offset of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(offset, 0x20), bytes]);
    const end = Math.floor(padded.length / 3) * 4;
    const start = offset === 0 ? 0 : 4;
    for (const encoding of ['base64', 'base64url'] as const) {
      const part = padded.toString(encoding).slice(start, end);
      if (part.length >= 12) forms.set(`${encoding}@${offset}`, part);
    }
  }
  // A form that equals an earlier one (a hex key is its own URL encoding) would only report the same hit twice.
  const seen = new Set<string>();
  return new Map([...forms].filter(([, text]) => !seen.has(text) && seen.add(text)));
}

/** Every occurrence of every secret (in every form) in every source, `sources` being label → text. */
export function findSecrets(secrets: Record<string, string>, sources: Iterable<[string, string]>): SecretFinding[] {
  const needles = Object.entries(secrets).flatMap(([name, value]) => [...encodedForms(value)].map(([form, text]) => ({ name, form, text })));
  const findings: SecretFinding[] = [];
  for (const [source, haystack] of sources) {
    for (const needle of needles) {
      let at = haystack.indexOf(needle.text);
      while (at !== -1) {
        const excerpt = haystack.slice(Math.max(0, at - 60), at + needle.text.length + 60).split(needle.text).join(`<${needle.name}>`);
        findings.push({ secret: needle.name, form: needle.form, source, excerpt });
        at = haystack.indexOf(needle.text, at + 1);
      }
    }
  }
  return findings;
}

/** Every row of every table in the public schema, one JSON text per table, and the row counts. */
export async function dumpDatabase(url: string): Promise<{ tables: Map<string, string>; rowCounts: Map<string, number> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tableRows } = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    const tables = new Map<string, string>();
    const rowCounts = new Map<string, number>();
    for (const { tablename } of tableRows) {
      const { rows } = await client.query(`SELECT * FROM "${tablename.replace(/"/g, '""')}"`);
      tables.set(tablename, JSON.stringify(rows));
      rowCounts.set(tablename, rows.length);
    }
    return { tables, rowCounts };
  } finally {
    await client.end();
  }
}

/** Every Redis key under `<prefix>:` with its whole content (hashes, strings, lists, sets, sorted sets, streams). */
export async function dumpRedisKeys(redisUrl: string, prefix: string): Promise<Map<string, string>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const dump = new Map<string, string>();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) dump.set(key, JSON.stringify(await readKey(redis, key)));
    } while (cursor !== '0');
    return dump;
  } finally {
    redis.disconnect();
  }
}

async function readKey(redis: Redis, key: string): Promise<unknown> {
  const type = await redis.type(key);
  switch (type) {
    case 'hash':
      return redis.hgetall(key);
    case 'string':
      return redis.get(key);
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'set':
      return redis.smembers(key);
    case 'zset':
      return redis.zrange(key, 0, -1, 'WITHSCORES');
    case 'stream':
      return redis.xrange(key, '-', '+');
    default:
      return `(${type})`;
  }
}

/** An error as completely as Node can print it: message, stack, own properties such as `details`, and its causes. */
export function errorText(err: unknown): string {
  return inspect(err, { depth: 12, breakLength: Infinity, maxStringLength: null, maxArrayLength: null });
}
