// The operator's proxy for outbound calls: HTTPS_PROXY/HTTP_PROXY/NO_PROXY read by config.ts, honoured by the fetch
// that Octokit and the Checkstack clients use and by Slack's transport, through a real loopback proxy.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Octokit } from '@octokit/rest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, secretValues } from '../../src/config.js';
import { createSlackClient } from '../../src/deps.js';
import { createDoctorDeps } from '../../src/doctor/doctor-deps.js';
import { createProxyFetch } from '../../src/http/proxy-fetch.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { createSlackTransport, type SlackTransport } from '../../src/slack/slack-transport.js';
import { startRecordingProxy, type RecordingProxy } from '../support/recording-proxy.js';
import { selfSignedCertificate, type SelfSigned } from '../support/self-signed.js';

const BASE_ENV = { SLACK_BOT_TOKEN: 'xoxb-secret-bot-token', SLACK_SIGNING_SECRET: 'signing-secret-value' };

describe('outbound proxy', () => {
  let proxy: RecordingProxy | null = null;
  let server: Server | null = null;
  let transport: SlackTransport | null = null;
  let tls: SelfSigned;

  beforeAll(() => {
    tls = selfSignedCertificate();
  });

  afterEach(async () => {
    transport?.close();
    transport = null;
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

  /** An https:// stand-in for Slack's Web API that answers every method with `{ ok: true }`. */
  async function slackOverTls(): Promise<{ apiUrl: string; port: number; calls: string[] }> {
    const calls: string[] = [];
    server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      calls.push(req.url ?? '');
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return { apiUrl: `https://127.0.0.1:${port}/api/`, port, calls };
  }

  function slackThrough(env: Record<string, string>, apiUrl: string) {
    const config = loadConfig({ env: { ...BASE_ENV, SLACK_API_URL: apiUrl, ...env }, readFile: () => null });
    transport = createSlackTransport({ proxy: config.proxy, ca: tls.cert });
    return createSlackClient(config.slack, transport, createLogger({ level: 'silent', format: 'json', secrets: new SecretRegistry() }));
  }

  it("fails a Slack call with the proxy's refusal, after offering the proxy's credentials, and never names them", async () => {
    const connects: IncomingHttpHeaders[] = [];
    server = createServer();
    server.on('connect', (req, socket) => {
      connects.push(req.headers);
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://ops:pr0xy%20pass@127.0.0.1:${(server.address() as AddressInfo).port}`;
    transport = createSlackTransport({ proxy: { httpsProxy: proxyUrl, httpProxy: null, noProxy: null } });

    const failure = await transport.fetch('https://slack.example/api/auth.test', { method: 'POST', body: '' }).catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('The proxy refused a tunnel to slack.example:443: 407 Proxy Authentication Required');
    expect(connects).toEqual([expect.objectContaining({ host: 'slack.example:443', 'proxy-authorization': `Basic ${Buffer.from('ops:pr0xy pass').toString('base64')}` })]);
  });

  it('takes Slack calls through HTTPS_PROXY in a CONNECT tunnel that stays open for the next call', async () => {
    const slack = await slackOverTls();
    proxy = await startRecordingProxy();
    const client = slackThrough({ HTTPS_PROXY: proxy.url }, slack.apiUrl);

    expect((await client.auth.test()).ok).toBe(true);
    expect((await client.chat.postMessage({ channel: 'C1', text: 'hi' })).ok).toBe(true);

    expect(slack.calls).toEqual(['/api/auth.test', '/api/chat.postMessage']);
    expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${slack.port}`]);
  });

  it('takes Slack calls direct to a host NO_PROXY names, and through the proxy when NO_PROXY names another port', async () => {
    const slack = await slackOverTls();
    proxy = await startRecordingProxy();

    const direct = slackThrough({ HTTPS_PROXY: proxy.url, NO_PROXY: `internal.example, 127.0.0.1:${slack.port}` }, slack.apiUrl);
    expect((await direct.auth.test()).ok).toBe(true);
    expect(proxy.seen).toEqual([]);
    transport!.close();

    const proxied = slackThrough({ HTTPS_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${slack.port + 1}` }, slack.apiUrl);
    expect((await proxied.auth.test()).ok).toBe(true);
    expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${slack.port}`]);
    expect(slack.calls).toEqual(['/api/auth.test', '/api/auth.test']);
  });

  it('takes an http:// Slack URL direct when only HTTPS_PROXY is set, as curl does', async () => {
    const target = await origin();
    proxy = await startRecordingProxy();
    transport = createSlackTransport({ proxy: loadConfig({ env: { ...BASE_ENV, HTTPS_PROXY: proxy.url }, readFile: () => null }).proxy });

    expect((await transport.fetch(`${target.url}/api/auth.test`)).status).toBe(200);
    expect(proxy.seen).toEqual([]);
  });

  it("takes the doctor's Slack and GitHub calls through the proxy too", async () => {
    const calls: string[] = [];
    server = createServer((req, res) => {
      calls.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    proxy = await startRecordingProxy();
    const config = loadConfig({
      env: { ...BASE_ENV, HTTP_PROXY: proxy.url, SLACK_API_URL: `http://127.0.0.1:${port}/api/`, GITHUB_API_URL: `http://127.0.0.1:${port}/github` },
      readFile: () => null,
    });
    const doctor = createDoctorDeps(config, new Writable({ write: (_chunk, _enc, done) => done() }));
    try {
      expect((await doctor.slack.auth.test()).ok).toBe(true);
      expect((await doctor.octokit.request('GET /rate_limit')).status).toBe(200);
    } finally {
      await doctor.close();
    }

    expect(calls).toEqual(['/api/auth.test', '/github/rate_limit']);
    expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${port}`, `CONNECT 127.0.0.1:${port}`]);
  });

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
