// Which proxy an outbound call takes, from HTTPS_PROXY/HTTP_PROXY/NO_PROXY as curl and Node read them: the rules of
// undici's EnvHttpProxyAgent, written once for the fetch of GitHub/Checkstack and for Slack's transport.

export interface ProxyConfig {
  httpsProxy: string | null;
  httpProxy: string | null;
  /** Comma-separated hosts (`example.com`, `.example.com`, `10.0.0.1`, `host:port`, `*`) reached directly. */
  noProxy: string | null;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

interface NoProxyEntry {
  hostname: string;
  /** 0: any port. */
  port: number;
}

function parseNoProxy(noProxy: string): NoProxyEntry[] {
  return noProxy
    .split(/[,\s]/)
    .filter((entry) => entry !== '')
    .map((entry) => {
      const withPort = /^(.+):(\d+)$/.exec(entry);
      // `.example.com` and `*.example.com` mean the same as `example.com`: the host and every subdomain.
      return { hostname: (withPort ? withPort[1]! : entry).replace(/^\*?\./, '').toLowerCase(), port: withPort ? Number.parseInt(withPort[2]!, 10) : 0 };
    });
}

/** True when NO_PROXY sends a call to `url` direct: the host or a subdomain of an entry, on the entry's port if it names one. */
export function bypassesProxy(url: URL, noProxy: string | null): boolean {
  const entries = parseNoProxy(noProxy ?? '');
  if (entries.length === 0) return false;
  if (noProxy === '*') return true;
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  return entries.some((entry) => (!entry.port || entry.port === port) && (hostname === entry.hostname || hostname.endsWith(`.${entry.hostname}`)));
}

/** The proxy URL a call to `url` goes through, or null for direct. HTTP_PROXY also carries https calls when HTTPS_PROXY is unset. */
export function proxyFor(url: URL, proxy: ProxyConfig): string | null {
  const via = url.protocol === 'https:' ? (proxy.httpsProxy ?? proxy.httpProxy) : proxy.httpProxy;
  if (!via || bypassesProxy(url, proxy.noProxy)) return null;
  return via;
}
