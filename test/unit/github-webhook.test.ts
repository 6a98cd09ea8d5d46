import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseReleaseWebhook, verifyGithubSignature } from '../../src/github/webhook.js';
import { loadFixtureReleases } from '../support/fixtures.js';

const SECRET = 'webhook-secret-for-tests';

function sign(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function releaseDelivery(action: string) {
  const release = loadFixtureReleases()[0];
  // GitHub sends the whole release object plus sender, repository and installation data.
  return {
    action,
    release: { ...release, url: 'https://api.github.com/repos/enyineer/checkstack/releases/1', assets: [], author: { login: 'github-actions[bot]' } },
    repository: { id: 1, full_name: 'enyineer/checkstack', name: 'checkstack', private: false },
    sender: { login: 'enyineer' },
  };
}

describe('verifyGithubSignature', () => {
  const body = Buffer.from(JSON.stringify(releaseDelivery('published')));

  it('accepts the signature GitHub computes over the raw body', () => {
    expect(verifyGithubSignature(SECRET, body, sign(SECRET, body))).toBe(true);
  });

  it('accepts an upper-case hex digest', () => {
    const hex = sign(SECRET, body).slice('sha256='.length);
    expect(verifyGithubSignature(SECRET, body, `sha256=${hex.toUpperCase()}`)).toBe(true);
  });

  it('refuses a body changed after signing', () => {
    const tampered = Buffer.from(body.toString('utf8').replace('published', 'deleted'));
    expect(verifyGithubSignature(SECRET, tampered, sign(SECRET, body))).toBe(false);
  });

  it('refuses a signature made with another secret', () => {
    expect(verifyGithubSignature(SECRET, body, sign('another-secret', body))).toBe(false);
  });

  it('refuses a missing or empty header', () => {
    expect(verifyGithubSignature(SECRET, body, undefined)).toBe(false);
    expect(verifyGithubSignature(SECRET, body, '')).toBe(false);
  });

  it('refuses malformed headers without throwing', () => {
    const hex = sign(SECRET, body).slice('sha256='.length);
    expect(verifyGithubSignature(SECRET, body, hex)).toBe(false);
    expect(verifyGithubSignature(SECRET, body, `sha1=${hex}`)).toBe(false);
    expect(verifyGithubSignature(SECRET, body, `sha256=${hex.slice(0, -2)}`)).toBe(false);
    expect(verifyGithubSignature(SECRET, body, `sha256=${hex}00`)).toBe(false);
    expect(verifyGithubSignature(SECRET, body, `sha256=${'z'.repeat(64)}`)).toBe(false);
  });

  it('refuses everything when no secret is configured', () => {
    expect(verifyGithubSignature('', body, sign('', body))).toBe(false);
  });
});

describe('parseReleaseWebhook', () => {
  it('parses a published release event', () => {
    const delivery = releaseDelivery('published');

    const parsed = parseReleaseWebhook({ 'x-github-event': 'release', 'x-github-delivery': 'abc' }, delivery);

    expect(parsed).toEqual({ action: 'published', release: loadFixtureReleases()[0], repository: 'enyineer/checkstack' });
  });

  it.each(['published', 'edited', 'prereleased', 'released', 'deleted', 'created', 'unpublished'])('knows the %s action', (action) => {
    expect(parseReleaseWebhook({ 'x-github-event': 'release' }, releaseDelivery(action))?.action).toBe(action);
  });

  it('reads the event header whatever its case', () => {
    expect(parseReleaseWebhook({ 'X-GitHub-Event': 'release' }, releaseDelivery('edited'))?.action).toBe('edited');
  });

  it('ignores ping and other events', () => {
    expect(parseReleaseWebhook({ 'x-github-event': 'ping' }, { zen: 'Keep it logically awesome.', hook_id: 1 })).toBeNull();
    expect(parseReleaseWebhook({ 'x-github-event': 'push' }, releaseDelivery('published'))).toBeNull();
    expect(parseReleaseWebhook({}, releaseDelivery('published'))).toBeNull();
  });

  it('ignores a release action it does not know', () => {
    expect(parseReleaseWebhook({ 'x-github-event': 'release' }, releaseDelivery('archived'))).toBeNull();
  });

  it('refuses a release event without a usable release', () => {
    const broken = { ...releaseDelivery('published'), release: { id: 'not-a-number' } };

    expect(() => parseReleaseWebhook({ 'x-github-event': 'release' }, broken)).toThrow(AppError);
    expect(() => parseReleaseWebhook({ 'x-github-event': 'release' }, null)).toThrow(AppError);
  });
});
