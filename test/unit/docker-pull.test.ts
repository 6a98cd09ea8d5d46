import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { PullProgress } from '../../src/targets/deployer.js';
import { AppError } from '../../src/errors.js';
import { engineRetryDelayMs, engineUnreachableReason, followPull, PullInterrupted } from '../../src/targets/docker-pull.js';

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

  it('rejects with PullInterrupted when the engine resets the connection mid-stream', async () => {
    const stream = new Readable({ read() {} });
    stream.push(JSON.stringify(SUCCESSFUL_PULL[0]) + '\n');
    setImmediate(() => stream.destroy(errno('aborted', 'ECONNRESET')));

    const error = await followPull(IMAGE, stream).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(PullInterrupted);
    expect((error as Error).message).toBe('the connection dropped mid-pull (ECONNRESET)');
  });

  it('rejects with PullInterrupted when the stream closes without ending', async () => {
    const stream = new Readable({ read() {} });
    stream.push(JSON.stringify(SUCCESSFUL_PULL[0]) + '\n');
    setImmediate(() => stream.destroy());

    await expect(followPull(IMAGE, stream)).rejects.toThrow(PullInterrupted);
  });

  it('rejects with PullInterrupted when the engine cancels the pull itself (shutting down)', async () => {
    const stream = engineStream([SUCCESSFUL_PULL[0]!, { errorDetail: { message: 'context canceled' }, error: 'context canceled' }]);

    const error = await followPull(IMAGE, stream).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(PullInterrupted);
    expect((error as Error).message).toContain('context canceled');
  });
});

function errno(message: string, code: string, syscall?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, ...(syscall ? { syscall } : {}) });
}

/** How dockerode reports an answer with a status (docker-modem's error shape). */
function engineAnswer(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) server error - ${message} `), { statusCode, json: { message } });
}

describe('engineUnreachableReason', () => {
  it.each([
    ['the unix socket is gone while dockerd restarts', errno('connect ENOENT /run/docker.sock', 'ENOENT', 'connect'), 'connect ENOENT /run/docker.sock'],
    ['nothing listens on the socket yet', errno('connect ECONNREFUSED /run/docker.sock', 'ECONNREFUSED', 'connect'), 'connect ECONNREFUSED /run/docker.sock'],
    ['the engine closed the connection before answering', errno('socket hang up', 'ECONNRESET'), 'socket hang up (ECONNRESET)'],
    ['the response broke off mid-body', errno('aborted', 'ECONNRESET'), 'the connection dropped mid-pull (ECONNRESET)'],
    ['the request could not be written', errno('write EPIPE', 'EPIPE', 'write'), 'write EPIPE'],
    ['a TCP engine did not accept the connection in time', errno('connect ETIMEDOUT 10.0.0.5:2375', 'ETIMEDOUT', 'connect'), 'connect ETIMEDOUT 10.0.0.5:2375'],
    ['the stream closed early', errno('Premature close', 'ERR_STREAM_PREMATURE_CLOSE'), 'Premature close (ERR_STREAM_PREMATURE_CLOSE)'],
    ['followPull saw the engine cancel the pull', new PullInterrupted('the engine cancelled the pull (context canceled)'), 'the engine cancelled the pull (context canceled)'],
  ])('retries when %s', (_case, err, reason) => {
    expect(engineUnreachableReason(err)).toBe(reason);
  });

  it.each([
    ['the tag is missing (404 from the registry)', engineAnswer(404, 'manifest unknown')],
    ['the registry failed (500)', engineAnswer(500, 'Get "http://127.0.0.1:5000/v2/": dial tcp: connection refused')],
    ['the engine answered with a status even with a socket-like code', Object.assign(engineAnswer(502, 'bad gateway'), { code: 'ECONNRESET' })],
    ['an error line arrived inside the pull stream', new AppError('image_pull_failed', 'Pulling failed: unknown blob')],
    ['a file is missing (ENOENT not from connect)', errno('open /etc/docker/key.json', 'ENOENT', 'open')],
    ['access to the socket is denied', errno('connect EACCES /run/docker.sock', 'EACCES', 'connect')],
    ['the pull was aborted by the bot', Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })],
    ['a plain error', new Error('something else')],
    ['a non-error value', 'ECONNRESET'],
  ])('does not retry when %s', (_case, err) => {
    expect(engineUnreachableReason(err)).toBeNull();
  });
});

describe('engineRetryDelayMs', () => {
  it('backs off 1 s, 2 s, 4 s, then waits 8 s between tries', () => {
    expect([0, 1, 2, 3, 4, 10].map(engineRetryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });
});
