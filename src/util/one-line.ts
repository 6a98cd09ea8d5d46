/** Control and invisible format characters (and, when asked, lone surrogates) become spaces, runs of white space one space. */
export function oneLine(text: string, { loneSurrogates = 'keep' }: { loneSurrogates?: 'keep' | 'replace' } = {}): string {
  const invisible = loneSurrogates === 'replace' ? /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu : /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
  return text.replace(invisible, ' ').replace(/\s+/g, ' ').trim();
}
