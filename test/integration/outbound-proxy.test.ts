// The operator's proxy for outbound calls: HTTPS_PROXY/HTTP_PROXY/NO_PROXY read by config.ts, honoured by the fetch
// that Octokit and the Checkstack clients use, through a real loopback proxy.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Octokit } from '@octokit/rest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, secretValues } from '../../src/config.js';
import { createProxyFetch } from '../../src/http/proxy-fetch.js';
import { startRecordingProxy, type RecordingProxy } from '../support/recording-proxy.js';

const BASE_ENV = { SLACK_BOT_TOKEN: 'xoxb-secret-bot-token', SLACK_SIGNING_SECRET: 'signing-secret-value' };

describe('outbound proxy', () => {
  let proxy: RecordingProxy | null = null;
  let server: Server | null = null;

  afterEach(async () => {
    await proxy?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    proxy = null;
    server = null;
  });

  async function origin(): Promise<{ url: string; port: number }> {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, port };
  }

  it('is read from the environment, lowercase first, and its credentials are secrets', () => {
    const config = loadConfig({
      env: { ...BASE_ENV, HTTPS_PROXY: 'http://upper.example:3128', https_proxy: 'http://ops:pr0xy-pass@lower.example:3128', NO_PROXY: 'internal.example,.corp' },
      readFile: () => null,
    });
    expect(config.proxy).toEqual({ httpsProxy: 'http://ops:pr0xy-pass@lower.example:3128', httpProxy: null, noProxy: 'internal.example,.corp' });
    expect(secretValues(config)).toContain('pr0xy-pass');
    expect(loadConfig({ env: BASE_ENV, readFile: () => null }).proxy).toEqual({ httpsProxy: null, httpProxy: null, noProxy: null });
  });

  it('refuses a proxy that is not an http(s) URL, naming the key', () => {
    expect(() => loadConfig({ env: { ...BASE_ENV, HTTPS_PROXY: 'not a url' }, readFile: () => null })).toThrow(/HTTPS_PROXY/);
    expect(() => loadConfig({ env: { ...BASE_ENV, http_proxy: 'socks5://127.0.0.1:1080' }, readFile: () => null })).toThrow(/http_proxy/);
  });

  it('sends the calls through the proxy when one is set', async () => {
    const target = await origin();
    proxy = await startRecordingProxy();
    const fetch = createProxyFetch({ httpProxy: proxy.url, httpsProxy: null, noProxy: null });

    const answer = await fetch(`${target.url}/api/health`);

    expect(await answer.json()).toEqual({ path: '/api/health' });
    expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${target.port}`]);
  });

  it('takes Octokit through the proxy', async () => {
    const target = await origin();
    proxy = await startRecordingProxy();
    const octokit = new Octokit({ baseUrl: target.url, request: { fetch: createProxyFetch({ httpProxy: proxy.url, httpsProxy: null, noProxy: null }) } });

    const answer = await octokit.request('GET /repos/{owner}/{repo}/releases', { owner: 'enyineer', repo: 'checkstack' });

    expect(answer.data).toEqual({ path: '/repos/enyineer/checkstack/releases' });
    expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${target.port}`]);
  });

  it('goes direct to a host NO_PROXY names, and through the proxy to one it does not', async () => {
    const target = await origin();
    proxy = await startRecordingProxy();
    const fetch = createProxyFetch({ httpProxy: proxy.url, httpsProxy: null, noProxy: `internal.example, 127.0.0.1:${target.port}` });

    expect((await fetch(`${target.url}/direct`)).status).toBe(200);
    expect(proxy.seen).toEqual([]);

    const other = createProxyFetch({ httpProxy: proxy.url, httpsProxy: null, noProxy: `127.0.0.1:${target.port + 1}` });
    expect((await other(`${target.url}/proxied`)).status).toBe(200);
    expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${target.port}`]);
  });

  it("is Node's own fetch when no proxy is set", () => {
    expect(createProxyFetch({ httpProxy: null, httpsProxy: null, noProxy: 'anything' })).toBe(globalThis.fetch);
  });
});
