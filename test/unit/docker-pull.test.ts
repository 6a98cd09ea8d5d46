import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { PullProgress } from '../../src/targets/deployer.js';
import { followPull } from '../../src/targets/docker-pull.js';

const IMAGE = '127.0.0.1:5000/checkstack:0.141.0';

/** Recorded from Docker Engine 20.10 pulling from a local registry (progress bars trimmed). */
const SUCCESSFUL_PULL = [
  { status: 'Pulling from checkstack', id: '0.141.0' },
  { status: 'Already exists', progressDetail: {}, id: '7485c13a09c9' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '15fb21dfc922' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '01fd757bdcc2' },
  { status: 'Waiting', progressDetail: {}, id: '01fd757bdcc2' },
  { status: 'Downloading', progressDetail: { current: 512, total: 1059 }, progress: '[====>  ]', id: '15fb21dfc922' },
  { status: 'Downloading', progressDetail: { current: 1059, total: 1059 }, progress: '[======>]', id: '15fb21dfc922' },
  { status: 'Verifying Checksum', progressDetail: {}, id: '15fb21dfc922' },
  { status: 'Download complete', progressDetail: {}, id: '15fb21dfc922' },
  { status: 'Downloading', progressDetail: { current: 231, total: 231 }, progress: '[======>]', id: '01fd757bdcc2' },
  { status: 'Download complete', progressDetail: {}, id: '01fd757bdcc2' },
  { status: 'Extracting', progressDetail: { current: 1059, total: 1059 }, id: '15fb21dfc922' },
  { status: 'Pull complete', progressDetail: {}, id: '15fb21dfc922' },
  { status: 'Extracting', progressDetail: { current: 231, total: 231 }, id: '01fd757bdcc2' },
  { status: 'Pull complete', progressDetail: {}, id: '01fd757bdcc2' },
  { status: 'Digest: sha256:5b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c' },
  { status: `Status: Downloaded newer image for ${IMAGE}` },
];

/** Recorded: the manifest was found (HTTP 200 already sent), then a layer was missing from the registry. */
const FAILED_IN_STREAM = [
  { status: 'Pulling from checkstack', id: '0.141.0' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '6681d6fc2982' },
  { status: 'Downloading', progressDetail: {}, id: '6681d6fc2982' },
  { errorDetail: { message: 'unknown blob' }, error: 'unknown blob' },
];

/** The engine writes JSON lines in arbitrary chunks; split mid-line to prove the parser buffers. */
function engineStream(events: object[], chunkSize = 37): Readable {
  const text = events.map((event) => JSON.stringify(event)).join('\r\n') + '\r\n';
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += chunkSize) chunks.push(text.slice(i, i + chunkSize));
  return Readable.from(chunks);
}

describe('followPull', () => {
  it('reports layers and bytes until every layer is done', async () => {
    const progress: PullProgress[] = [];

    await followPull(IMAGE, engineStream(SUCCESSFUL_PULL), (p) => progress.push(p));

    expect(progress.at(-1)).toEqual({
      layersTotal: 3,
      layersDone: 3,
      bytesCurrent: 1290,
      bytesTotal: 1290,
      status: `Status: Downloaded newer image for ${IMAGE}`,
    });
    expect(progress).toContainEqual(expect.objectContaining({ layersDone: 1, bytesCurrent: 512, bytesTotal: 1059 }));
  });

  it('rejects with image_pull_failed on an error line inside a 200 stream', async () => {
    const progress: PullProgress[] = [];

    const error = await followPull(IMAGE, engineStream(FAILED_IN_STREAM), (p) => progress.push(p)).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'image_pull_failed', details: { image: IMAGE, reason: 'unknown blob' } });
    expect((error as Error).message).toContain('unknown blob');
    expect(progress.at(-1)).toMatchObject({ layersTotal: 1, layersDone: 0 });
  });

  it('rejects with image_pull_failed on an error line without errorDetail', async () => {
    const stream = engineStream([{ status: 'Pulling from checkstack', id: '0.141.0' }, { error: 'toomanyrequests: rate limited' }]);

    await expect(followPull(IMAGE, stream)).rejects.toMatchObject({ code: 'image_pull_failed', details: { reason: 'toomanyrequests: rate limited' } });
  });

  it('rejects when the connection breaks before the stream ends', async () => {
    const stream = new Readable({ read() {} });
    stream.push(JSON.stringify(SUCCESSFUL_PULL[0]) + '\n');
    setImmediate(() => stream.destroy(new Error('socket hang up')));

    await expect(followPull(IMAGE, stream)).rejects.toThrow('socket hang up');
  });
});
