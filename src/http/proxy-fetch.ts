// The fetch of the outbound clients (Octokit, the Checkstack client): through the operator's proxy when one is set,
// with NO_PROXY honoured as curl and Node do (src/domain/proxy-route.ts, which Slack's transport follows too).
import { Agent, ProxyAgent, fetch as undiciFetch } from 'undici';
import { proxyFor, type ProxyConfig } from '../domain/proxy-route.js';

/** Node's own fetch when no proxy is set; otherwise undici's fetch, each origin direct or over a proxy agent (idle sockets do not hold the process). */
export function createProxyFetch(proxy: ProxyConfig): typeof globalThis.fetch {
  if (!proxy.httpsProxy && !proxy.httpProxy) return globalThis.fetch;
  const proxyAgents = new Map<string, ProxyAgent>();
  const viaProxy = (uri: string) => proxyAgents.get(uri) ?? proxyAgents.set(uri, new ProxyAgent({ uri })).get(uri)!;
  // Decided per dispatch, as undici's EnvHttpProxyAgent does, so a redirect to another host is decided for that host.
  const dispatcher = new Agent().compose((direct) => (options, handler) => {
    const uri = options.origin === undefined ? null : proxyFor(new URL(options.origin), proxy);
    return uri ? viaProxy(uri).dispatch(options, handler) : direct(options, handler);
  });
  return ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof globalThis.fetch;
}
