// Postgres and Redis facts for the doctor: both answer; Redis evicts nothing (`noeviction`, which BullMQ needs) and
// persists (AOF or RDB). CONFIG GET may be refused (managed Redis): that is reported as unknown, not as a fault.
import type { Redis } from 'ioredis';
import type { PostgresFacts, RedisFacts } from '../domain/doctor.js';
import { postgresServerVersion, type Pool } from '../db/pool.js';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function probePostgres(pool: Pool): Promise<PostgresFacts> {
  try {
    return { reachable: true, serverVersion: await postgresServerVersion(pool) };
  } catch (err) {
    return { reachable: false, error: messageOf(err) };
  }
}

export async function probeRedis(redis: Redis): Promise<RedisFacts> {
  try {
    await redis.ping();
  } catch (err) {
    return { reachable: false, error: messageOf(err), maxmemoryPolicy: null, appendonly: null, save: null };
  }
  const get = async (key: string): Promise<string | null> => {
    const answer = (await redis.config('GET', key)) as unknown;
    return Array.isArray(answer) && typeof answer[1] === 'string' ? answer[1] : null;
  };
  try {
    const [maxmemoryPolicy, appendonly, save] = [await get('maxmemory-policy'), await get('appendonly'), await get('save')];
    return { reachable: true, maxmemoryPolicy, appendonly, save };
  } catch (err) {
    return { reachable: true, maxmemoryPolicy: null, appendonly: null, save: null, configError: messageOf(err) };
  }
}
