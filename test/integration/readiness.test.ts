import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { databaseUrlFor, createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTestBot, type TestBot } from '../support/test-bot.js';

async function readyz(t: TestBot) {
  const res = await fetch(`${t.bot.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> } };
}

describe('/readyz follows Postgres and Redis without a restart', () => {
  let database: TestDatabase;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let t: TestBot;

  beforeAll(async () => {
    database = await createTestDatabase();
    pgProxy = await startTcpProxy(5432);
    redisProxy = await startTcpProxy(6379);
    const viaProxy = new URL(databaseUrlFor(database.name));
    viaProxy.port = String(pgProxy.port);
    t = await startTestBot({
      database,
      env: { DATABASE_URL: viaProxy.toString(), REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` },
    });
  });
  afterAll(async () => {
    await pgProxy?.restore().catch(() => undefined);
    await redisProxy?.restore().catch(() => undefined);
    await t?.close();
    await pgProxy?.close();
    await redisProxy?.close();
    await database?.drop();
  });

  it('is 200 while both answer', async () => {
    expect((await readyz(t)).status).toBe(200);
  });

  it('goes 503 naming Redis when Redis is cut, and back to 200 when it returns', async () => {
    await redisProxy.cut();

    await expect.poll(async () => (await readyz(t)).status, { timeout: 10_000 }).toBe(503);
    const down = await readyz(t);
    expect(down.body.checks.redis?.ok).toBe(false);
    expect(down.body.checks.postgres?.ok).toBe(true);

    await redisProxy.restore();
    await expect.poll(async () => (await readyz(t)).status, { timeout: 15_000 }).toBe(200);
  });

  it('goes 503 naming Postgres when Postgres is cut, and back to 200 when it returns', async () => {
    await pgProxy.cut();

    await expect.poll(async () => (await readyz(t)).status, { timeout: 10_000 }).toBe(503);
    const down = await readyz(t);
    expect(down.body.checks.postgres?.ok).toBe(false);
    expect(down.body.checks.redis?.ok).toBe(true);

    await pgProxy.restore();
    await expect.poll(async () => (await readyz(t)).status, { timeout: 15_000 }).toBe(200);
  });
});
