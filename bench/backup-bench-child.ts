// The bot's side of the backup bench, in a process of its own: takes one backup with the bot's code and reports its
// wall time and how far the process' resident size rose above where it stood before the dump began.
import { takeBackup } from '../src/backup/take-backup.js';
import { createLogger, SecretRegistry } from '../src/logger.js';

interface Input {
  databaseUrl: string;
  dir: string;
}

const input = JSON.parse(process.env.BACKUP_BENCH_INPUT ?? '{}') as Input;
const logger = createLogger({ level: 'warn', format: 'json', secrets: new SecretRegistry(), destination: process.stderr as never });

async function main(): Promise<void> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  // Where the resident size stood once the first 16 MB of dump had gone through: from there on, a streamed dump
  // must not make it grow (a buffered one would grow by every byte that follows).
  let afterFirst16Mb: number | null = null;
  const started = performance.now();
  const outcome = await takeBackup(
    {
      target: 'bench', version: '0.0.0', databaseUrl: input.databaseUrl, dir: input.dir, keep: 1,
      onProgress: (bytes) => {
        if (afterFirst16Mb === null && bytes >= 16 * 1024 * 1024) afterFirst16Mb = process.memoryUsage().rss;
      },
    },
    { logger, now: () => new Date() },
  );
  const durationMs = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  process.stdout.write(`${JSON.stringify({ durationMs, rssBefore: before, rssPeak: peak, rssAfterFirst16Mb: afterFirst16Mb ?? peak, bytes: outcome.record.bytes })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
