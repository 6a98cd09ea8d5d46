import { afterEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { createRegistryClient, splitImage } from '../../src/registry/oci-registry.js';
import { startFakeOciRegistry, type FakeOciRegistry } from '../fakes/fake-oci-registry.js';

const NAME = 'enyineer/checkstack';
const IMAGE = `ghcr.io/${NAME}`;
const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;

let registry: FakeOciRegistry | null = null;
afterEach(async () => {
  await registry?.close();
  registry = null;
});

function tagsUpTo(count: number): Record<string, string> {
  const tags: Record<string, string> = { latest: d(count), 'main': d(999) };
  for (let i = 1; i <= count; i++) tags[`0.${100 + i}.0`] = d(i);
  return tags;
}

describe('registry client', () => {
  it('refuses clearly when the request bound is reached before a match', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: tagsUpTo(30) });
    const client = createRegistryClient({ baseUrl: registry.url, maxRequests: 5 });
    const err = await client.findVersionForDigests(IMAGE, [d(1)]).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('registry_unavailable');
    expect((err as Error).message).toMatch(/stopped after 5 requests \(REGISTRY_MAX_REQUESTS\)/);
    expect(registry.requests.length).toBe(5);
  });

  it('says no match when the digest is no version tag', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: tagsUpTo(3) });
    const client = createRegistryClient({ baseUrl: registry.url, maxRequests: 40 });
    const result = await client.findVersionForDigests(IMAGE, [d(999)]);
    expect(result).toMatchObject({ kind: 'no_match', checkedTags: 3 });
  });

  it('takes the anonymous token and matches the newest tag first', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: tagsUpTo(3) });
    const client = createRegistryClient({ baseUrl: registry.url, maxRequests: 40 });
    const result = await client.findVersionForDigests(IMAGE, [d(3)]);
    expect(result).toMatchObject({ kind: 'matched', version: '0.103.0' });
    expect(registry.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
      `GET /v2/${NAME}/tags/list`,
      'GET /token',
      `GET /v2/${NAME}/tags/list`,
      `HEAD /v2/${NAME}/manifests/0.103.0`,
    ]);
  });

  it('follows the Link header through every page of tags', async () => {
    registry = await startFakeOciRegistry({ name: NAME, tags: tagsUpTo(7), pageSize: 3 });
    const client = createRegistryClient({ baseUrl: registry.url, maxRequests: 40 });
    const result = await client.findVersionForDigests(IMAGE, [d(1)]);
    expect(result).toMatchObject({ kind: 'matched', version: '0.101.0' });
    expect(registry.requests.filter((r) => r.path.includes('/tags/list')).length).toBeGreaterThanOrEqual(4);
  });

  it('answers registry_unavailable when nothing listens', async () => {
    const client = createRegistryClient({ baseUrl: 'http://127.0.0.1:1', maxRequests: 40 });
    const err = await client.findVersionForDigests(IMAGE, [d(1)]).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('registry_unavailable');
  });

  it('splits image references into host and repository', () => {
    expect(splitImage('ghcr.io/enyineer/checkstack')).toEqual({ host: 'ghcr.io', name: 'enyineer/checkstack' });
    expect(splitImage('127.0.0.1:5000/x/checkstack')).toEqual({ host: '127.0.0.1:5000', name: 'x/checkstack' });
    expect(splitImage('postgres')).toEqual({ host: 'registry-1.docker.io', name: 'library/postgres' });
  });
});
