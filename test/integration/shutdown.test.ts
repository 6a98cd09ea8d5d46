// Stopping the bot: it says what a stop that takes long is waiting for, and is done once that lets go.
import { describe, expect, it } from 'vitest';
import { startTestBot } from '../support/test-bot.js';

describe('stopping the bot', () => {
  it('names what a stop still waits for (here a checked-out Postgres client) and finishes once it is released', async () => {
    const t = await startTestBot();
    try {
      expect(t.bot.stoppingAt()).toBeNull();
      const client = await t.bot.deps.pool.connect();

      const stopped = t.bot.stop();
      await expect.poll(() => t.bot.stoppingAt(), { timeout: 10_000 }).toBe('the postgres pool: 1 client(s) checked out');
      client.release();
      await stopped;

      expect(t.bot.stoppingAt()).toBeNull();
      expect(t.logs.entries().map((e) => e.msg)).toContain('shut down cleanly');
    } finally {
      await t.close();
    }
  });
});
