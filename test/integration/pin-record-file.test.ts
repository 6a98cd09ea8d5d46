import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pinTagInFile } from '../../src/pin/pin-record-file.js';

const IMAGE = 'ghcr.io/enyineer/checkstack';
const compose = (version: string) => `# production stack: never :latest
services:
  checkstack:
    image: ${IMAGE}:${version}  # pinned
    restart: unless-stopped
  checkstack-sidecar:
    image: ${IMAGE}-sidecar:0.140.0
`;

describe('pin.file: the compose file mounted into the bot', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ck-pin-'));
    file = join(dir, 'docker-compose.yml');
    await writeFile(file, compose('0.140.0'));
    await chmod(file, 0o640);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('changes only the tag of the pinned image, keeping comments and the mode, and leaves no temporary file', async () => {
    expect(await pinTagInFile(file, IMAGE, '0.140.0', '0.141.0')).toBe('changed');

    expect(await readFile(file, 'utf8')).toBe(compose('0.141.0').replace(`${IMAGE}-sidecar:0.141.0`, `${IMAGE}-sidecar:0.140.0`));
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['docker-compose.yml']);
  });

  it('is a no-op when the file already pins the new tag (a re-run after a crash)', async () => {
    await pinTagInFile(file, IMAGE, '0.140.0', '0.141.0');
    const before = await readFile(file, 'utf8');

    expect(await pinTagInFile(file, IMAGE, '0.140.0', '0.141.0')).toBe('unchanged');
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('refuses, writing nothing, when the file pins neither version (changed by hand)', async () => {
    await expect(pinTagInFile(file, IMAGE, '0.139.0', '0.141.0')).rejects.toMatchObject({ code: 'git_record_failed' });
    expect(await readFile(file, 'utf8')).toBe(compose('0.140.0'));
  });
});
