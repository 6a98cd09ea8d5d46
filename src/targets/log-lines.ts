// Streams arrive as chunks of bytes: these turn them into lines, and a platform's timestamped log lines into `LogLine`s.
import type { LogLine } from './deployer.js';

export interface LineSplitter {
  write(chunk: Buffer | string): void;
  /** Passes on the last line when the stream ended without a newline. */
  flush(): void;
}

/** Splits chunks into lines (without `\n` or `\r\n`), calling `onLine` for each complete one. */
export function lineSplitter(onLine: (line: string) => void): LineSplitter {
  let buffered = '';
  return {
    write(chunk) {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, newline).replace(/\r$/, ''));
        buffered = buffered.slice(newline + 1);
      }
    },
    flush() {
      if (buffered) onLine(buffered);
      buffered = '';
    },
  };
}

/**
 * The lines of a log read with timestamps (`2026-12-04T15:30:12.123456789Z text`) as `LogLine`s of `stream`. Lines
 * stamped before `sinceMs` are dropped: both platforms take `since` in whole seconds and start up to a second early.
 */
export function timestampedLogLines(stream: LogLine['stream'], sinceMs: number, onLine: (line: LogLine) => void): LineSplitter {
  return lineSplitter((raw) => {
    const space = raw.indexOf(' ');
    const timestamp = space > 0 ? raw.slice(0, space) : '';
    const text = space > 0 ? raw.slice(space + 1) : raw;
    const at = Date.parse(timestamp);
    if (!Number.isNaN(at) && at < sinceMs) return;
    onLine({ stream, timestamp, text });
  });
}

/**
 * Stdout and stderr of a Docker log read without a TTY, interleaved in order (the 8-byte frame headers dropped);
 * a buffer that does not start with a frame header (a TTY's output) is returned as it is.
 */
export function demuxLogBuffer(raw: Buffer): string {
  const out: string[] = [];
  let at = 0;
  while (at + 8 <= raw.length && raw[at]! <= 2 && raw[at + 1] === 0) {
    const size = raw.readUInt32BE(at + 4);
    out.push(raw.subarray(at + 8, at + 8 + size).toString('utf8'));
    at += 8 + size;
  }
  return at === 0 ? raw.toString('utf8') : out.join('');
}
