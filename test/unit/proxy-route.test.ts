import { describe, expect, it } from 'vitest';
import { bypassesProxy, proxyFor } from '../../src/domain/proxy-route.js';

const BOTH = { httpsProxy: 'http://tls-proxy:3128', httpProxy: 'http://plain-proxy:3128', noProxy: null };

describe('proxy route: HTTPS_PROXY/HTTP_PROXY/NO_PROXY as curl and Node read them', () => {
  it.each([
    ['no entries', null, 'https://slack.com/api/', false],
    ['an empty value', ' , ', 'https://slack.com/api/', false],
    ['the exact host', 'slack.com', 'https://slack.com/api/', true],
    ['a subdomain of the host', 'slack.com', 'https://hooks.slack.com/x', true],
    ['not a host that merely ends the same', 'slack.com', 'https://notslack.com/', false],
    ['a leading dot', '.slack.com', 'https://slack.com/', true],
    ['a leading *.', '*.slack.com', 'https://files.slack.com/', true],
    ['case-insensitively', 'Slack.COM', 'https://SLACK.com/', true],
    ['the matching port', 'slack.com:443', 'https://slack.com/', true],
    ['not another port', 'slack.com:8443', 'https://slack.com/', false],
    ["an http URL's default port", 'internal.example:80', 'http://internal.example/', true],
    ['an IP address', '10.0.0.1', 'http://10.0.0.1:8080/', true],
    ['an IPv6 address in brackets', '[::1]', 'http://[::1]:3000/', true],
    ['entries split by spaces and commas', 'a.example  b.example,slack.com', 'https://slack.com/', true],
    ['the wildcard alone', '*', 'https://anything.example/', true],
  ])('NO_PROXY: %s (%j, %s) bypasses: %s', (_what, noProxy, url, bypass) => {
    expect(bypassesProxy(new URL(url), noProxy)).toBe(bypass);
  });

  it('takes https calls through HTTPS_PROXY, http calls through HTTP_PROXY', () => {
    expect(proxyFor(new URL('https://slack.com/api/'), BOTH)).toBe('http://tls-proxy:3128');
    expect(proxyFor(new URL('http://checkstack:3000/'), BOTH)).toBe('http://plain-proxy:3128');
  });

  it('takes https calls through HTTP_PROXY when HTTPS_PROXY is unset, but never http calls through HTTPS_PROXY', () => {
    expect(proxyFor(new URL('https://slack.com/api/'), { ...BOTH, httpsProxy: null })).toBe('http://plain-proxy:3128');
    expect(proxyFor(new URL('http://checkstack:3000/'), { ...BOTH, httpProxy: null })).toBeNull();
  });

  it('goes direct when NO_PROXY names the host, or when no proxy is set', () => {
    expect(proxyFor(new URL('https://slack.com/api/'), { ...BOTH, noProxy: '.slack.com' })).toBeNull();
    expect(proxyFor(new URL('https://slack.com/api/'), { httpsProxy: null, httpProxy: null, noProxy: null })).toBeNull();
  });
});
