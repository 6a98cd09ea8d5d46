// The fetch of the outbound clients (Octokit, the Checkstack client): through the operator's proxy when one is set,
// with NO_PROXY honoured as curl and Node do (undici's EnvHttpProxyAgent, given the values config.ts read).
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import type { ProxyConfig } from '../config.js';

/** Node's own fetch when no proxy is set; otherwise undici's fetch over the proxy agent (idle sockets do not hold the process). */
export function createProxyFetch(proxy: ProxyConfig): typeof globalThis.fetch {
  if (!proxy.httpsProxy && !proxy.httpProxy) return globalThis.fetch;
  // An empty string (not undefined) keeps undici from reading the environment itself: config.ts is the only reader.
  const agent = new EnvHttpProxyAgent({ httpsProxy: proxy.httpsProxy ?? '', httpProxy: proxy.httpProxy ?? '', noProxy: proxy.noProxy ?? '' });
  return ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher: agent })) as unknown as typeof globalThis.fetch;
}
