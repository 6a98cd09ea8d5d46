// Reads the Docker Engine's pull progress stream (JSON lines). A pull can fail after the engine has answered
// 200, as an `{"error": …}` line inside the stream; modem.followProgress resolves on those, so we parse ourselves.
import { AppError } from '../errors.js';
import type { PullProgress } from './deployer.js';

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
 * carries an error line, and with the stream's own error when the connection breaks.
 */
export async function followPull(
  image: string,
  stream: NodeJS.ReadableStream,
  onProgress?: (progress: PullProgress) => void,
): Promise<void> {
  const tracker = createPullProgressTracker();
  let buffered = '';
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

  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        handleLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
    let ended = false;
    stream.once('error', reject);
    stream.once('end', () => {
      ended = true;
      handleLine(buffered);
      resolve();
    });
    stream.once('close', () => {
      if (!ended) reject(new Error('the engine closed the pull stream before it ended'));
    });
  });

  if (failure !== null) {
    throw new AppError('image_pull_failed', `Pulling \`${image}\` failed: ${failure}`, { image, reason: failure });
  }
}
