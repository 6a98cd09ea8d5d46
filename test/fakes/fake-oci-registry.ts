// A strict loopback OCI registry: anonymous bearer-token flow like GHCR (401 + WWW-Authenticate, then a token),
// paginated tag lists with a Link header, manifests answering with Docker-Content-Digest for the accepted types.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOciRegistry {
  url: string;
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startFakeOciRegistry(opts: { name: string; tags: Record<string, string>; pageSize?: number; requireToken?: boolean }): Promise<FakeOciRegistry> {
  const token = 'anon-token-1';
  const requests: { method: string; path: string }[] = [];
  const pageSize = opts.pageSize ?? 1000;
  let url = '';
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', url);
    requests.push({ method: req.method ?? '', path: u.pathname + u.search });
    if (u.pathname === '/token') {
      if (u.searchParams.get('scope') !== `repository:${opts.name}:pull` || u.searchParams.get('service') !== 'fake-registry') {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
      return;
    }
    if ((opts.requireToken ?? true) && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${url}/token",service="fake-registry",scope="repository:${opts.name}:pull"` }).end();
      return;
    }
    if (u.pathname === `/v2/${opts.name}/tags/list`) {
      const all = Object.keys(opts.tags).sort();
      const n = Math.min(Number(u.searchParams.get('n') ?? pageSize), pageSize);
      const last = u.searchParams.get('last');
      const start = last ? all.findIndex((t) => t > last) : 0;
      const page = start < 0 ? [] : all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start >= 0 && start + n < all.length) headers.link = `</v2/${opts.name}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name: opts.name, tags: page }));
      return;
    }
    const m = u.pathname.match(new RegExp(`^/v2/${opts.name}/manifests/([^/]+)$`));
    if (m && (req.method === 'HEAD' || req.method === 'GET')) {
      const digest = opts.tags[decodeURIComponent(m[1]!)];
      if (!digest) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN' }] }));
        return;
      }
      if (!(req.headers.accept ?? '').includes('application/vnd.oci.image.index.v1+json')) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': digest }).end();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
