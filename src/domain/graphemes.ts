// Cutting text where a reader sees a character end: never inside a UTF-16 surrogate pair, an emoji with its
// modifiers and joiners, a flag, or a letter with its combining marks. Lengths are UTF-16 code units, which are
// never fewer than the characters Slack or GitHub count, so a cut that fits here fits there.

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Enough context after the cut for the segmenter to see where the cluster at the cut ends. */
const LOOKAHEAD = 64;

/** The longest prefix of `text` that ends on a grapheme boundary and is at most `maxUnits` UTF-16 code units long. */
export function graphemePrefix(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  if (maxUnits <= 0) return '';
  // Only the neighbourhood of the cut is segmented: a 100,000-character log line costs no more than a short one.
  const window = text.slice(0, maxUnits + LOOKAHEAD);
  let end = 0;
  for (const { index, segment } of segmenter.segment(window)) {
    // A cluster that ends within the budget ends before the window does, so the window saw all of it.
    const segmentEnd = index + segment.length;
    if (segmentEnd > maxUnits) break;
    end = segmentEnd;
  }
  return text.slice(0, end);
}

/** `text` cut on a grapheme boundary to at most `maxUnits` code units, ending in `marker` when it was cut. */
export function clipGraphemes(text: string, maxUnits: number, marker = '…'): string {
  if (text.length <= maxUnits) return text;
  return `${graphemePrefix(text, maxUnits - marker.length).trimEnd()}${marker}`;
}
