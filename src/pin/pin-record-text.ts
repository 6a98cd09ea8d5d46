// The pin record's text: rewrites the pinned image tag in a compose file or Kubernetes manifest, so nothing else
// changes. Pure (no I/O), like src/domain: eslint's purity rule covers this file too; the file and GitHub writers
// beside it do the I/O.
import { AppError } from '../errors.js';
import { escapeRegExp } from '../domain/regexp.js';

/** Docker's tag grammar. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** `registry/path` without tag or digest. */
const IMAGE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$|^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/**
 * Replaces every `image: <image>:<fromVersion>` value (a block mapping key, optionally as the first key of
 * a list item, quoted or not, with an optional trailing comment) by `<image>:<toVersion>`. Other lines,
 * other images (`<image>-sidecar`, another tag), indentation, comments and `\r\n` line endings are kept
 * byte for byte. Image references with a digest (`@sha256:…`) are not matched. 0 replacements is for the
 * caller to judge (the file pins something else).
 */
export function replaceImageTag(
  text: string,
  image: string,
  fromVersion: string,
  toVersion: string,
): { text: string; replaced: number } {
  if (!IMAGE.test(image)) {
    throw new AppError('invalid_input', `Image \`${image}\` is not an image repository such as \`ghcr.io/enyineer/checkstack\` (no tag, no digest).`, { image });
  }
  for (const version of [fromVersion, toVersion]) {
    if (!TAG.test(version)) {
      throw new AppError('invalid_input', `\`${version}\` is not a Docker tag; use a version such as \`0.141.0\`.`, { version });
    }
  }

  // Group 1: indentation, optional `- `, the key and the space after the colon; group 2: the opening quote.
  // The lookahead requires the value to end there (closing quote, then only blanks or a comment).
  const pattern = new RegExp(
    String.raw`^([ \t]*(?:-[ \t]+)?(?:image|"image"|'image')[ \t]*:[ \t]*)(["']?)` +
      `${escapeRegExp(image)}:${escapeRegExp(fromVersion)}` +
      String.raw`\2(?=(?:[ \t]+#[^\r\n]*)?[ \t]*\r?$)`,
    'gm',
  );
  let replaced = 0;
  const result = text.replace(pattern, (_match, prefix: string, quote: string) => {
    replaced += 1;
    return `${prefix}${quote}${image}:${toVersion}${quote}`;
  });
  return { text: result, replaced };
}

/** How many `image: <image>:<version>` values the text pins (used to detect an already applied change). */
export function countImageTag(text: string, image: string, version: string): number {
  return replaceImageTag(text, image, version, version).replaced;
}
