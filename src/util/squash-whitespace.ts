import { clipGraphemes } from '../domain/graphemes.js';

/** Runs of white space become one space, and the text is cut to `max` on a grapheme boundary: a detail on one line. */
export function squashWhitespace(text: string, max: number): string {
  return clipGraphemes(text.replace(/\s+/g, ' ').trim(), max);
}
