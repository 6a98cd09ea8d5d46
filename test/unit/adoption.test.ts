import { describe, expect, it } from 'vitest';
import { exactPreviousImage, isFloatingTag } from '../../src/domain/adoption.js';

describe('isFloatingTag', () => {
  it('calls latest, other words and no tag floating', () => {
    for (const tag of ['latest', 'main', 'edge', '0.140', '', null]) expect(isFloatingTag(tag)).toBe(true);
  });
  it('calls exact versions pinned', () => {
    for (const tag of ['0.140.0', 'v0.140.0', '0.141.0-rc.1']) expect(isFloatingTag(tag)).toBe(false);
  });
});

describe('exactPreviousImage', () => {
  const repo = 'ghcr.io/enyineer/checkstack';
  it('replaces a floating or missing tag by the version it was', () => {
    expect(exactPreviousImage(`${repo}:latest`, repo, '0.140.0')).toBe(`${repo}:0.140.0`);
    expect(exactPreviousImage(repo, repo, '0.140.0')).toBe(`${repo}:0.140.0`);
    expect(exactPreviousImage('127.0.0.1:5000/checkstack:edge', '127.0.0.1:5000/checkstack', '0.140.0')).toBe('127.0.0.1:5000/checkstack:0.140.0');
  });
  it('keeps an exact tag or a digest', () => {
    expect(exactPreviousImage(`${repo}:0.139.0`, repo, '0.140.0')).toBe(`${repo}:0.139.0`);
    expect(exactPreviousImage('127.0.0.1:5000/checkstack:0.139.0', '127.0.0.1:5000/checkstack', '0.140.0')).toBe('127.0.0.1:5000/checkstack:0.139.0');
    expect(exactPreviousImage(`${repo}@sha256:${'a'.repeat(64)}`, repo, '0.140.0')).toBe(`${repo}@sha256:${'a'.repeat(64)}`);
  });
});
