import { describe, expect, it } from 'vitest';
import { clipGraphemes, graphemePrefix } from '../../src/domain/graphemes.js';
import { clipMrkdwn, clipPlain, fitMessage, outside } from '../../src/slack/clip.js';
import { checkMessagePayload } from '../fakes/slack-block-kit.js';

/** True when `text` holds a lone surrogate: half of a character, which Slack and Postgres refuse or mangle. */
const hasLoneSurrogate = (text: string) => /\p{Cs}/u.test(text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));

describe('grapheme-safe cutting', () => {
  it.each([
    ['a surrogate pair', '😀'],
    ['a skin-toned emoji', '👍🏽'],
    ['a family joined by ZWJ', '👨‍👩‍👧‍👦'],
    ['a flag', '🇩🇪'],
    ['a letter with combining marks', 'é̃'],
  ])('never cuts into %s', (_name, cluster) => {
    for (let lead = 0; lead < 12; lead += 1) {
      const text = `${'x'.repeat(lead)}${cluster.repeat(5)}`;
      for (let max = 0; max <= text.length; max += 1) {
        const prefix = graphemePrefix(text, max);
        expect(prefix.length).toBeLessThanOrEqual(max);
        expect(text.startsWith(prefix)).toBe(true);
        const rest = prefix.slice(Math.min(lead, prefix.length));
        expect(rest.length % cluster.length, `cut ${text} at ${max}`).toBe(0);
      }
    }
  });

  it('keeps the longest prefix that fits, and marks a cut with …', () => {
    expect(clipGraphemes('abcdef', 6)).toBe('abcdef');
    expect(clipGraphemes('abcdef', 4)).toBe('abc…');
    expect(clipGraphemes('ab😀😀', 4)).toBe('ab…');
    expect(clipPlain('Roll back 😀😀😀', 12)).toBe('Roll back…');
  });

  it('costs no more for a 1,000,000-character text than for a short one (only the cut is segmented)', () => {
    const huge = '😀'.repeat(500_000);
    const cut = graphemePrefix(huge, 3001);
    expect(cut.length).toBe(3000);
    expect(hasLoneSurrogate(cut)).toBe(false);
  });
});

describe('clipping mrkdwn', () => {
  it('never leaves half an entity, link or mention, and closes an open code span or block', () => {
    const entity = clipMrkdwn(`${'a'.repeat(30)}&amp;${'b'.repeat(30)}`, 40);
    expect(entity).toMatch(/^a+…$/);
    const link = clipMrkdwn(`see ${'a'.repeat(20)} <https://example.com/${'p'.repeat(40)}|the page> now`, 50);
    expect(link).not.toContain('<');
    const span = clipMrkdwn(`\`${'c'.repeat(60)}\``, 30);
    expect(span.split('`').length - 1).toBe(2);
    const block = clipMrkdwn(`\`\`\`\n${'l'.repeat(60)}\n\`\`\``, 30);
    expect(block.split('```').length - 1).toBe(2);
    for (const text of [entity, link, span, block]) expect(text.length).toBeLessThanOrEqual(50);
  });

  it('ends with a link to the rest when there is one', () => {
    const clipped = clipMrkdwn('x'.repeat(5000), 3000, { url: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0', label: 'the release notes' });
    expect(clipped.length).toBeLessThanOrEqual(3000);
    expect(clipped).toMatch(/x … <https:\/\/github\.com\/enyineer\/checkstack\/releases\/tag\/v0\.30\.0\|the release notes>$/);
  });

  it('escapes outside text so it cannot mention anyone, flattens it and clips it', () => {
    const text = outside(`<!channel> & <@U123>\n${'😀'.repeat(5000)}`, 100);
    expect(text.startsWith('&lt;!channel&gt; &amp; &lt;@U123&gt; 😀')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(100);
    expect(hasLoneSurrogate(text)).toBe(false);
    expect(text.endsWith('…')).toBe(true);
  });
});

describe('fitMessage, the last line of defence', () => {
  const hostile = '😀<&>`*_~'.repeat(2000);

  it("makes whatever a presenter built acceptable to Slack, and says what it changed", () => {
    const built = {
      text: hostile.repeat(3),
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: hostile } },
        ...Array.from({ length: 60 }, (_, i) => ({ type: 'section', block_id: `s${i}`, text: { type: 'mrkdwn', text: hostile } })),
        { type: 'context', elements: Array.from({ length: 12 }, () => ({ type: 'mrkdwn', text: hostile })) },
        { type: 'actions', elements: Array.from({ length: 30 }, (_, i) => ({ type: 'button', action_id: `a${i}`, text: { type: 'plain_text', text: hostile }, value: hostile })) },
      ],
    };

    const { message, clipped } = fitMessage(built);

    expect(checkMessagePayload(message)).toEqual({ refusal: null, defects: [], text: message.text });
    expect(clipped.length).toBeGreaterThan(0);
    expect(hasLoneSurrogate(JSON.stringify(message))).toBe(false);
  });

  it('changes nothing in a message that already fits', () => {
    const fine = { text: 'Upgrade failed', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '❌ *Upgrade failed*' } }] };
    expect(fitMessage(fine)).toEqual({ message: fine, clipped: [] });
  });

  it('keeps a text-only message under 4,000 characters', () => {
    const { message } = fitMessage({ text: 'h'.repeat(50_000) });
    expect(message.text.length).toBeLessThanOrEqual(4000);
  });
});
