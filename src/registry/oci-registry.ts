// Finds which version tag of an image a digest is, through the OCI distribution API (tag list, then each
// candidate's manifest digest, newest first), with the anonymous bearer-token flow public GHCR images use.
// Every HTTP request counts against a bound, so a registry with thousands of tags cannot make the bot loop.
import { z } from 'zod';
import { compareVersions, isPrerelease, isValidVersion } from '../domain/versions.js';
import { AppError } from '../errors.js';

export const DEFAULT_REGISTRY_MAX_REQUESTS = 40;

/** Manifest lists first: a multi-arch tag's digest is its index's, which is what `docker pull` records. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const tagListSchema = z.object({ name: z.string(), tags: z.array(z.string()).nullable() });
const tokenSchema = z.object({ token: z.string().optional(), access_token: z.string().optional() });

export interface RegistryClientOptions {
  /** Base URL of the registry, e.g. https://ghcr.io; null derives it from the image reference. */
  baseUrl: string | null;
  maxRequests: number;
  fetch?: typeof globalThis.fetch;
}

export type DigestMatch =
  | { kind: 'matched'; version: string; tag: string; requests: number }
  | { kind: 'no_match'; checkedTags: number; requests: number };

/** Splits `ghcr.io/enyineer/checkstack` into its registry host and repository name. */
export function splitImage(image: string): { host: string; name: string } {
  const first = image.split('/')[0] ?? '';
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { host: first, name: image.slice(first.length + 1) };
  }
  return { host: 'registry-1.docker.io', name: image.includes('/') ? image : `library/${image}` };
}

function parseChallenge(header: string): { realm: string; service?: string; scope?: string } | null {
  if (!/^bearer\s/i.test(header)) return null;
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  if (!params.realm) return null;
  return { realm: params.realm, service: params.service, scope: params.scope };
}

function nextLink(header: string | null, base: string): string | null {
  const m = header?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
  return m ? new URL(m[1]!, base).toString() : null;
}

export function createRegistryClient(options: RegistryClientOptions) {
  const doFetch = options.fetch ?? globalThis.fetch;

  async function findVersionForDigests(image: string, digests: readonly string[]): Promise<DigestMatch> {
    const { host, name } = splitImage(image);
    const base = (options.baseUrl ?? (host === 'localhost' || /^127\.|:\d+$/.test(host) ? `http://${host}` : `https://${host}`)).replace(/\/+$/, '');
    const wanted = new Set(digests);
    let requests = 0;
    let token: string | null = null;

    async function request(url: string, init: { method: string; headers?: Record<string, string> }): Promise<Response> {
      for (let attempt = 0; attempt < 2; attempt++) {
        if (requests >= options.maxRequests) {
          throw new AppError('registry_unavailable', `The registry lookup for ${image} stopped after ${options.maxRequests} requests (REGISTRY_MAX_REQUESTS) without finding the running digest; pin the version by hand or raise the bound.`, { image, maxRequests: options.maxRequests });
        }
        requests++;
        const headers: Record<string, string> = { ...init.headers };
        if (token) headers.authorization = `Bearer ${token}`;
        let res: Response;
        try {
          res = await doFetch(url, { method: init.method, headers, redirect: 'follow' });
        } catch (err) {
          throw new AppError('registry_unavailable', `The registry for ${image} could not be reached.`, { image }, { cause: err });
        }
        if (res.status !== 401 || token) return res;
        const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
        await res.body?.cancel();
        if (!challenge) return res;
        token = await fetchToken(challenge);
      }
      throw new AppError('registry_unavailable', `The registry for ${image} refused the anonymous token.`, { image });
    }

    async function fetchToken(challenge: { realm: string; service?: string; scope?: string }): Promise<string> {
      const url = new URL(challenge.realm);
      if (challenge.service) url.searchParams.set('service', challenge.service);
      url.searchParams.set('scope', challenge.scope ?? `repository:${name}:pull`);
      if (requests >= options.maxRequests) {
        throw new AppError('registry_unavailable', `The registry lookup for ${image} stopped after ${options.maxRequests} requests (REGISTRY_MAX_REQUESTS).`, { image, maxRequests: options.maxRequests });
      }
      requests++;
      let res: Response;
      try {
        res = await doFetch(url, { method: 'GET' });
      } catch (err) {
        throw new AppError('registry_unavailable', `The registry's token service for ${image} could not be reached.`, { image }, { cause: err });
      }
      if (!res.ok) throw new AppError('registry_unavailable', `The registry's token service answered ${res.status} for ${image}.`, { image, status: res.status });
      const body = tokenSchema.parse(await res.json());
      const value = body.token ?? body.access_token;
      if (!value) throw new AppError('registry_unavailable', `The registry's token service gave no token for ${image}.`, { image });
      return value;
    }

    const tags: string[] = [];
    let url: string | null = `${base}/v2/${name}/tags/list?n=1000`;
    while (url) {
      const res = await request(url, { method: 'GET', headers: { accept: 'application/json' } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new AppError('registry_unavailable', `The registry answered ${res.status} to the tag list of ${image}.`, { image, status: res.status });
      }
      const parsed = tagListSchema.safeParse(await res.json());
      if (!parsed.success) throw new AppError('registry_unavailable', `The registry's tag list of ${image} was not understood.`, { image });
      tags.push(...(parsed.data.tags ?? []));
      url = nextLink(res.headers.get('link'), url);
    }

    const candidates = tags
      .filter((t) => isValidVersion(t) && !isPrerelease(t))
      .sort((a, b) => compareVersions(b, a));
    let checked = 0;
    for (const tag of candidates) {
      const res = await request(`${base}/v2/${name}/manifests/${encodeURIComponent(tag)}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
      checked++;
      if (res.status === 404) continue;
      if (!res.ok) throw new AppError('registry_unavailable', `The registry answered ${res.status} to the manifest of ${image}:${tag}.`, { image, tag, status: res.status });
      const digest = res.headers.get('docker-content-digest');
      if (digest && wanted.has(digest)) return { kind: 'matched', version: tag.replace(/^v/, ''), tag, requests };
    }
    return { kind: 'no_match', checkedTags: checked, requests };
  }

  return { findVersionForDigests };
}

export type RegistryClient = ReturnType<typeof createRegistryClient>;
