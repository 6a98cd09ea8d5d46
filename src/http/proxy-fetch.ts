// The fetch of the outbound clients (Octokit, the Checkstack client): through the operator's proxy when one is set,
// with NO_PROXY honoured as curl and Node do (src/domain/proxy-route.ts, which Slack's transport follows too).
import { Agent, ProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { proxyFor, type ProxyConfig } from '../domain/proxy-route.js';

/**
 * An undici dispatcher that takes each origin direct or over the operator's proxy (NO_PROXY honoured); null when no
 * proxy is set. Undici's fetch and its WebSocket (Socket Mode) both take it.
 */
export function createProxyDispatcher(proxy: ProxyConfig): Dispatcher | null {
  if (!proxy.httpsProxy && !proxy.httpProxy) return null;
  const proxyAgents = new Map<string, ProxyAgent>();
  const viaProxy = (uri: string) => proxyAgents.get(uri) ?? proxyAgents.set(uri, new ProxyAgent({ uri })).get(uri)!;
  // Decided per dispatch, as undici's EnvHttpProxyAgent does, so a redirect to another host is decided for that host.
  return new Agent().compose((direct) => (options, handler) => {
    const uri = options.origin === undefined ? null : proxyFor(new URL(options.origin), proxy);
    return uri ? viaProxy(uri).dispatch(options, handler) : direct(options, handler);
  });
}

/** Node's own fetch when no proxy is set; otherwise undici's fetch over the proxy dispatcher (idle sockets do not hold the process). */
export function createProxyFetch(proxy: ProxyConfig): typeof globalThis.fetch {
  const dispatcher = createProxyDispatcher(proxy);
  if (!dispatcher) return globalThis.fetch;
  return ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof globalThis.fetch;
}
