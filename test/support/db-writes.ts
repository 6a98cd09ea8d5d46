// A fingerprint of every row version in the bot's tables: any INSERT, UPDATE (even one that rewrites the same
// values) or DELETE changes it, unlike pg_stat counters, which other backends flush late.
import type { Pool } from '../../src/db/pool.js';

const TABLES = ['releases', 'bot_state', 'subscriptions', 'announcements'];

export async function rowVersions(pool: Pool, tables = TABLES): Promise<string> {
  const parts: string[] = [];
  for (const table of tables) {
    const { rows } = await pool.query<{ v: string | null }>(`SELECT string_agg(xmin::text || '@' || ctid::text, ',' ORDER BY ctid) AS v FROM ${table}`);
    parts.push(`${table}:${rows[0]?.v ?? ''}`);
  }
  return parts.join('|');
}
