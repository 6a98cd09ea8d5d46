import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseTargetVersionValue, targetVersionValue } from '../../src/slack/action-ids.js';
import { floatingRunsText, pinOfferOf, withPinButton } from '../../src/slack/adoption-words.js';

describe('the Pin button value', () => {
  it('refuses values that are not "<target> <version>"', () => {
    for (const value of ['', 'prod', 'prod  0.140.0', ' prod 0.140.0', 'prod 0.140.0 extra', `${'x'.repeat(129)} 0.140.0`]) {
      expect(parseTargetVersionValue(value)).toBeNull();
    }
  });
  it('reads back what it wrote', () => {
    expect(parseTargetVersionValue(targetVersionValue('prod-eu', '0.140.0'))).toEqual({ target: 'prod-eu', version: '0.140.0' });
    expect(targetVersionValue('prod', '0.140.0')).toBe('prod 0.140.0');
  });
});

describe('adoption words', () => {
  it('names the version behind the floating tag and how it was found', () => {
    expect(floatingRunsText({ kind: 'identified', tag: 'latest', version: '0.140.0', source: 'digest' })).toBe('runs `latest` = `0.140.0` (digest matched)');
    expect(floatingRunsText({ kind: 'identified', tag: 'latest', version: '0.140.0', source: 'about' })).toBe('runs `latest` = `0.140.0` (from /api/about)');
    expect(floatingRunsText({ kind: 'unmatched', tag: 'edge', image: 'ghcr.io/enyineer/checkstack', checkedTags: 12 })).toMatch(/matches none of the 12 version tag\(s\).*will not guess/);
  });

  it('offers the Pin button only for a target_not_pinned refusal that carries the offer', () => {
    expect(pinOfferOf(new AppError('digest_unmatched', 'x', { pinOffer: { target: 'prod', version: '0.140.0' } }))).toBeNull();
    expect(pinOfferOf(new AppError('target_not_pinned', 'x'))).toBeNull();
    expect(pinOfferOf(new Error('x'))).toBeNull();
    expect(pinOfferOf(new AppError('target_not_pinned', 'x', { pinOffer: { target: 'prod', version: '0.140.0' } }))).toEqual({ target: 'prod', version: '0.140.0' });
  });

  it('keeps each section of a long reply within Slack\'s 3,000 characters, whole lines only', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `${i} ${'x'.repeat(200)}`);
    const reply = withPinButton(lines.join('\n'), { target: 'prod', version: '0.140.0' });
    const sections = reply.blocks!.filter((b) => b.type === 'section').map((b) => (b as { text: { text: string } }).text.text);
    expect(sections.length).toBeGreaterThan(1);
    for (const text of sections) expect(text.length).toBeLessThanOrEqual(3000);
    expect(sections.join('\n')).toBe(lines.join('\n'));
    expect(reply.blocks!.at(-1)).toMatchObject({ type: 'actions', elements: [{ action_id: 'pin_version', value: 'prod 0.140.0' }] });
  });

  it('adds no blocks without an offer', () => {
    expect(withPinButton('plain', null)).toEqual({ text: 'plain' });
  });
});
