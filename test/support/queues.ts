// Waiting for a BullMQ queue to have nothing left to do, so a test can assert that something did NOT happen; and
// reading what BullMQ says happened to its jobs.
import type { Redis } from 'ioredis';
import type { TypedQueue, QueueName } from '../../src/queue.js';

/** Every entry of a queue's BullMQ events stream, oldest first, as field maps: `{ event: 'completed', jobId, … }`. */
export async function queueEvents(redis: Redis, prefix: string, queue: QueueName): Promise<Record<string, string>[]> {
  return (await redis.xrange(`${prefix}:${queue}:events`, '-', '+')).map(([, fields]) => {
    const map: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
    return map;
  });
}

export async function waitForQueueIdle(queue: TypedQueue<QueueName>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let idleSince: number | null = null;
  while (Date.now() < deadline) {
    const counts = await queue.raw.getJobCounts('active', 'waiting', 'prioritized', 'waiting-children');
    const busy = Object.values(counts).some((n) => n > 0);
    if (busy) idleSince = null;
    else if (idleSince === null) idleSince = Date.now();
    else if (Date.now() - idleSince >= 300) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`queue ${queue.raw.name} still busy after ${timeoutMs} ms`);
}
