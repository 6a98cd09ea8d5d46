// The people who opened the bot's Home tab, newest first: whom a refresh after an upgrade step publishes to.
import type { Pool } from './pool.js';

export interface AppHomeStore {
  /** Records that `userId` opened the Home tab at `at` (a later open replaces an earlier one). */
  opened(userId: string, at: Date): Promise<void>;
  /** The users who opened it at or after `since`, most recent first, at most `limit`. */
  recentViewers(since: Date, limit: number): Promise<string[]>;
}

export function createAppHomeStore(pool: Pool): AppHomeStore {
  return {
    async opened(userId, at) {
      await pool.query(
        `INSERT INTO app_home_viewers (user_id, opened_at) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET opened_at = GREATEST(app_home_viewers.opened_at, EXCLUDED.opened_at)`,
        [userId, at],
      );
    },
    async recentViewers(since, limit) {
      const { rows } = await pool.query<{ user_id: string }>(
        `SELECT user_id FROM app_home_viewers WHERE opened_at >= $1 ORDER BY opened_at DESC, user_id LIMIT $2`,
        [since, limit],
      );
      return rows.map((r) => r.user_id);
    },
  };
}
