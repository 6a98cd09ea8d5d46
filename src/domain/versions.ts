// Checkstack version strings: what a user may type, how two versions relate, and how a version becomes a tag.
import semver from 'semver';
import { AppError } from '../errors.js';
import { escapeMrkdwn } from '../util/escape-mrkdwn.js';

/** A version as the bot stores it: `0.141.0` or `0.141.0-rc.1`, never a `v`, never build metadata. */
export type VersionString = string;

export type VersionBump = 'major' | 'minor' | 'patch' | 'prerelease' | 'downgrade' | 'same';

/** Longer input is refused before any parsing; no real version comes close. */
export const MAX_VERSION_INPUT_LENGTH = 64;
/** How much of a user's input an error message repeats back. */
export const MAX_ECHO_LENGTH = 40;

const NUM = '(?:0|[1-9]\\d*)';
const PRE_ID = '(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)';
const EXACT_VERSION = new RegExp(`^[vV]?(${NUM}\\.${NUM}\\.${NUM}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?)$`);
const BUILD_METADATA = new RegExp(`^[vV]?${NUM}\\.${NUM}\\.${NUM}(?:-[0-9A-Za-z.-]+)?\\+[0-9A-Za-z.-]+$`);
const PARTIAL_VERSION = /^[vV]?\d+(?:\.\d+)?$/;
const WILDCARD_VERSION = /^[vV]?\d+(?:\.(?:\d+|[xX*]))*\.[xX*](?:\.(?:\d+|[xX*]))*$/;
const RANGE_OPERATOR = /^(?:[\^~<>=]|\*$|.*\s-\s|.*\|\|)/;
const LEADING_ZERO = /^[vV]?\d+\.\d+\.\d+/;
const FLOATING_TAGS = new Set(['latest', 'stable', 'main', 'master', 'edge', 'nightly', 'next', 'head', 'dev', 'beta', 'canary']);

const EXAMPLE = '`0.141.0`';

/**
 * Repeats user input inside a message safely: at most ~40 characters, no control or invisible format
 * characters, no backticks that would break the code span, and `&<>` escaped so `<!channel>` or
 * `<@U123>` can never become a mention. Meant to be wrapped in backticks by the caller.
 */
export function echoUserInput(text: string, max = MAX_ECHO_LENGTH): string {
  // Cut first (on code points) so a long string costs nothing, then clean, then escape.
  const chars = Array.from(text.slice(0, max * 4)).slice(0, max + 1);
  const cut = chars.length > max;
  const cleaned = chars
    .slice(0, max)
    .join('')
    .replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/`/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
  const escaped = escapeMrkdwn(cleaned);
  return (escaped === '' ? '(blank)' : escaped) + (cut ? '…' : '');
}

function refuse(code: 'invalid_input' | 'version_not_allowed', reason: string): never {
  throw new AppError(code, reason);
}

/**
 * Parses the `<version>` of `/checkstack upgrade <version>`: `0.141.0` or `v0.141.0` (a prerelease such as
 * `0.141.0-rc.1` parses too; see `isPrerelease`). Returns the version without `v`.
 * Throws `version_not_allowed` for floating tags, ranges, partial versions and build metadata,
 * `invalid_input` for anything else that is not a version.
 */
export function parseRequestedVersion(text: string): VersionString {
  if (typeof text !== 'string') refuse('invalid_input', `Say which version to install, for example ${EXAMPLE}.`);
  const input = text.trim();
  if (input === '') {
    refuse('invalid_input', `Say which version to install, for example \`/checkstack upgrade 0.141.0\`.`);
  }
  if (input.length > MAX_VERSION_INPUT_LENGTH) {
    refuse(
      'invalid_input',
      `\`${echoUserInput(input)}\` is too long to be a version (${input.length} characters): type an exact version such as ${EXAMPLE}.`,
    );
  }
  const shown = echoUserInput(input);

  const exact = EXACT_VERSION.exec(input);
  if (exact?.[1] !== undefined) return exact[1];

  const lower = input.toLowerCase();
  if (lower === 'latest') {
    refuse(
      'version_not_allowed',
      `Version \`latest\` is not allowed: pin an exact tag such as ${EXAMPLE}. \`latest\` moves under you and Checkstack ships breaking changes in minor releases.`,
    );
  }
  if (FLOATING_TAGS.has(lower)) {
    refuse(
      'version_not_allowed',
      `\`${shown}\` is a moving tag, not a version: pin an exact release such as ${EXAMPLE} (see \`/checkstack releases\`).`,
    );
  }
  if (BUILD_METADATA.test(input)) {
    const withoutBuild = input.replace(/^[vV]/, '').split('+')[0] ?? '';
    refuse(
      'version_not_allowed',
      `\`${shown}\` carries build metadata (\`+…\`), which Checkstack's tags never have: type \`${echoUserInput(withoutBuild)}\` instead.`,
    );
  }
  if (RANGE_OPERATOR.test(input) || WILDCARD_VERSION.test(input)) {
    refuse(
      'version_not_allowed',
      `\`${shown}\` is a range, not a version: the bot installs one exact release. Pick one from \`/checkstack releases\` and type it in full, such as ${EXAMPLE}.`,
    );
  }
  if (PARTIAL_VERSION.test(input)) {
    refuse(
      'version_not_allowed',
      `\`${shown}\` is a partial version: type all three numbers, such as ${EXAMPLE}. Checkstack ships breaking changes in minor releases, so the bot never picks a patch for you.`,
    );
  }
  if (LEADING_ZERO.test(input)) {
    refuse(
      'invalid_input',
      `\`${shown}\` is not a valid version: three numbers without leading zeros, optionally followed by a prerelease such as \`-rc.1\`. Type it as ${EXAMPLE}.`,
    );
  }
  return refuse(
    'invalid_input',
    `\`${shown}\` is not a version: type an exact release such as ${EXAMPLE} or \`v0.141.0\` (see \`/checkstack releases\`).`,
  );
}

function parseStrict(version: string): semver.SemVer {
  const exact = typeof version === 'string' ? EXACT_VERSION.exec(version.trim()) : null;
  const parsed = exact?.[1] === undefined ? null : semver.parse(exact[1]);
  if (!parsed) {
    throw new AppError('invalid_input', `\`${echoUserInput(String(version))}\` is not a version such as ${EXAMPLE}.`);
  }
  return parsed;
}

/** True for a strictly valid version (`0.141.0`, `v0.141.0-rc.1`). Never throws. */
export function isValidVersion(version: string): boolean {
  return typeof version === 'string' && EXACT_VERSION.test(version.trim());
}

/** `0.141.0` for `v0.141.0` or `0.141.0`; throws `invalid_input` for anything else. */
export function normalizeVersion(version: string): VersionString {
  return parseStrict(version).version;
}

export function isPrerelease(version: string): boolean {
  return parseStrict(version).prerelease.length > 0;
}

/** -1, 0 or 1, by semver precedence (`0.141.0-rc.1` < `0.141.0`). */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  return semver.compare(parseStrict(a), parseStrict(b));
}

/**
 * How `to` relates to `from`. A prerelease target is always `prerelease`; releasing the prerelease
 * one is on (`0.141.0-rc.1` → `0.141.0`) counts as `patch`, since no new line is entered.
 */
export function classifyBump(from: string, to: string): VersionBump {
  const a = parseStrict(from);
  const b = parseStrict(to);
  const order = semver.compare(a, b);
  if (order === 0) return 'same';
  if (order > 0) return 'downgrade';
  if (b.prerelease.length > 0) return 'prerelease';
  if (b.major !== a.major) return 'major';
  if (b.minor !== a.minor) return 'minor';
  return 'patch';
}

/** The Git tag and GitHub release name of a version: `v0.141.0`. */
export function tagForVersion(version: string): string {
  return `v${normalizeVersion(version)}`;
}

/** The Docker image tag of a version: `0.141.0` (no `v`). */
export function imageTag(version: string): string {
  return normalizeVersion(version);
}

/**
 * How far `running` is behind the releases: newer minor lines (each `major.minor` counted once) and newer patches of
 * its own line. Null when the running version is unknown or not a version.
 */
export function versionsBehind(running: string | null, releases: readonly { version: string }[]): { minors: number; patches: number } | null {
  const parsed = running ? semver.parse(running) : null;
  if (!parsed) return null;
  const newer = releases.filter((r) => semver.valid(r.version) && semver.gt(r.version, parsed));
  const sameLine = (v: string) => semver.major(v) === parsed.major && semver.minor(v) === parsed.minor;
  const minorLines = new Set(newer.filter((r) => !sameLine(r.version)).map((r) => `${semver.major(r.version)}.${semver.minor(r.version)}`));
  return { minors: minorLines.size, patches: newer.filter((r) => sameLine(r.version)).length };
}
