// Reads the Docker Engine's pull progress stream (JSON lines). A pull can fail after the engine has answered
// 200, as an `{"error": …}` line inside the stream; modem.followProgress resolves on those, so we parse ourselves.
// Also tells a pull the engine broke off (its connection dropped: dockerd restarting) from one it refused.
import { AppError, isAppError } from '../errors.js';
import type { PullProgress } from './deployer.js';
import { lineSplitter } from './log-lines.js';

/**
 * The engine broke off a pull without a verdict on the image: the connection dropped mid-stream, or dockerd
 * cancelled the pull itself (it does when it shuts down). Pulling again is safe.
 */
export class PullInterrupted extends Error {
  override readonly name = 'PullInterrupted';
}

/** Socket errors that mean the engine is not there right now (restarting, socket gone), not that it refused. */
const ENGINE_CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Why the engine could not be talked to, when `err` says the connection to it failed (no HTTP status: nothing
 * answered); null for everything else, such as a registry error the engine reported with a status (404, 500),
 * an error line inside the pull stream, or a coded error.
 */
export function engineUnreachableReason(err: unknown): string | null {
  if (err instanceof PullInterrupted) return err.message;
  if (!(err instanceof Error) || isAppError(err)) return null;
  if (typeof (err as { statusCode?: unknown }).statusCode === 'number') return null;
  const { code, syscall } = err as NodeJS.ErrnoException;
  // ENOENT only from connect(): the engine's unix socket is gone while dockerd restarts.
  const connectionLost = (code !== undefined && ENGINE_CONNECTION_CODES.has(code)) || (code === 'ENOENT' && syscall === 'connect');
  if (!connectionLost) return /^socket hang up$|premature close/i.test(err.message) ? err.message : null;
  // Node says `aborted` when a response breaks off mid-body.
  const message = err.message === 'aborted' ? 'the connection dropped mid-pull' : err.message;
  return message.includes(code!) ? message : `${message} (${code})`;
}

/** The wait before the next try of a pull the engine broke off: 1 s, 2 s, 4 s, then every 8 s. */
export function engineRetryDelayMs(retry: number): number {
  return Math.min(1_000 * 2 ** retry, 8_000);
}

interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

/** Statuses that name a layer (the first line's id is the tag, not a layer). */
const LAYER_STATUSES = new Set([
  'Pulling fs layer',
  'Waiting',
  'Downloading',
  'Verifying Checksum',
  'Download complete',
  'Extracting',
  'Pull complete',
  'Already exists',
  'Retrying',
]);
const LAYER_DONE = new Set(['Pull complete', 'Already exists']);

interface LayerState {
  current: number;
  total: number;
  done: boolean;
}

/** Folds pull events into one running `PullProgress`. */
export function createPullProgressTracker(): { add(event: PullEvent): PullProgress | null } {
  const layers = new Map<string, LayerState>();
  let status = '';
  return {
    add(event) {
      if (!event.status) return null;
      status = event.status;
      const layerStatus = LAYER_STATUSES.has(event.status) || event.status.startsWith('Retrying');
      if (event.id && layerStatus) {
        const layer = layers.get(event.id) ?? { current: 0, total: 0, done: false };
        if (event.status === 'Downloading' && event.progressDetail) {
          layer.current = event.progressDetail.current ?? layer.current;
          layer.total = event.progressDetail.total ?? layer.total;
        }
        if (event.status === 'Download complete') layer.current = layer.total;
        if (LAYER_DONE.has(event.status)) {
          layer.done = true;
          layer.current = layer.total;
        }
        layers.set(event.id, layer);
      }
      let layersDone = 0;
      let bytesCurrent = 0;
      let bytesTotal = 0;
      for (const layer of layers.values()) {
        if (layer.done) layersDone += 1;
        bytesCurrent += layer.current;
        bytesTotal += layer.total;
      }
      return { layersTotal: layers.size, layersDone, bytesCurrent, bytesTotal, status };
    },
  };
}

/**
 * Consumes a pull stream to its end, reporting progress; rejects with `image_pull_failed` when the stream
 * carries an error line, and with `PullInterrupted` when the connection breaks or the engine cancels the pull.
 */
export async function followPull(
  image: string,
  stream: NodeJS.ReadableStream,
  onProgress?: (progress: PullProgress) => void,
): Promise<void> {
  const tracker = createPullProgressTracker();
  let failure: string | null = null;

  const handleLine = (line: string) => {
    const text = line.trim();
    if (!text) return;
    let event: PullEvent;
    try {
      event = JSON.parse(text) as PullEvent;
    } catch {
      return; // a non-JSON line is noise from a proxy, not a verdict on the pull
    }
    if (event.error || event.errorDetail) {
      failure ??= event.errorDetail?.message ?? event.error ?? 'unknown error';
      return;
    }
    const progress = tracker.add(event);
    if (progress && onProgress) onProgress(progress);
  };

  const lines = lineSplitter(handleLine);
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer | string) => lines.write(chunk));
    let ended = false;
    stream.once('error', (err: Error) => {
      const reason = engineUnreachableReason(err);
      reject(reason === null ? err : new PullInterrupted(reason, { cause: err }));
    });
    stream.once('end', () => {
      ended = true;
      lines.flush();
      resolve();
    });
    stream.once('close', () => {
      if (!ended) reject(new PullInterrupted('the engine closed the pull stream before it ended'));
    });
  });

  // The engine's own words when the pull's context ends under it: we did not abort, so dockerd is stopping.
  if (failure === 'context canceled') {
    throw new PullInterrupted('the engine cancelled the pull (context canceled)');
  }
  if (failure !== null) {
    throw new AppError('image_pull_failed', `Pulling \`${image}\` failed: ${failure}`, { image, reason: failure });
  }
}
