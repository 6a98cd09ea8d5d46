// Turns a Checkstack GitHub release body into the contract's summary: breaking changes, their audience and the
// upgrade flags. The body format is the one `scripts/aggregate-changelog.ts` of enyineer/checkstack writes.
import { createHash } from 'node:crypto';
import semver from 'semver';
import type { Audience, BreakingChange, Bump, GithubRelease, ReleaseSummary } from './release-types.js';
import { clipGraphemes } from './graphemes.js';

export type ChangelogBump = 'major' | 'minor' | 'patch';

export interface SummarizeOptions {
  /** Package name (`@checkstack/backend`) to that package's CHANGELOG.md text at the release tag. */
  packageChangelogs?: ReadonlyMap<string, string>;
}

export interface SummarizeReleasesOptions {
  /** Release version (`0.30.0`) to the package changelogs fetched for it. */
  packageChangelogsByVersion?: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

type Section = 'breaking' | 'minor' | 'patch' | 'other';

/** One changeset entry as it appears under one package. */
interface Occurrence {
  packageName: string;
  /** The package's own version from its heading (`### @checkstack/catalog-common@1.0.0`). */
  packageVersion: string;
  section: Section;
  hash: string | null;
  /** The entry's text after the hash, continuation lines kept with their indentation. */
  text: string;
}

interface ParsedBody {
  occurrences: Occurrence[];
  /** Packages with their own heading, in order. */
  packageVersions: Map<string, string>;
  /** Packages named only in "Updated dependencies" lists: the ones a truncation may have cut off. */
  dependencyVersions: Map<string, string>;
  breakingSectionPackages: string[];
  truncated: boolean;
}

interface ChangelogEntry {
  hash: string | null;
  text: string;
  bump: ChangelogBump;
}

const TITLE_MAX = 150;
// The notice aggregate-changelog.ts appends: "> ⚠️ **Release notes truncated** due to GitHub's character limit."
const TRUNCATION_NOTICE = /release notes truncated/i;
const CHANGELOG_TITLE = /^# .*changelog\s*$/i;
const HASH_ENTRY = /^([0-9a-f]{7,40}):\s*(.*)$/;
const PACKAGE_AT_VERSION = /^(@?[\w.-]+(?:\/[\w.-]+)?)@(\d[^\s@]*)$/;
const DEPENDENCY_BULLET = /^\s*- (@[\w.-]+\/[\w.-]+)@(\d[^\s@]*)\s*$/;

export function versionFromTag(tag: string): string | null {
  const version = tag.trim().replace(/^v/i, '');
  return semver.valid(version) === version ? version : null;
}

export function summarizeReleases(
  releases: GithubRelease[],
  options: SummarizeReleasesOptions = {},
): ReleaseSummary[] {
  // Releases whose tag is not a version cannot be placed in the order, so they are left out.
  const versioned = releases
    .filter((release) => !release.draft)
    .map((release) => ({ release, version: versionFromTag(release.tag_name) }))
    .filter((item): item is { release: GithubRelease; version: string } => item.version !== null)
    .sort((a, b) => semver.rcompare(a.version, b.version));

  return versioned.map(({ release, version }, index) => {
    const older = versioned.slice(index + 1).map((item) => item.version);
    const packageChangelogs = options.packageChangelogsByVersion?.get(version);
    return summarize(release, older, packageChangelogs ? { packageChangelogs } : {});
  });
}

export function summarizeRelease(
  release: GithubRelease,
  previousVersion: string | null,
  options: SummarizeOptions = {},
): ReleaseSummary {
  return summarize(release, previousVersion ? [previousVersion] : [], options);
}

/** `olderVersions` are the older non-draft releases, newest first; the first is the previous release. */
function summarize(release: GithubRelease, olderVersions: readonly string[], options: SummarizeOptions): ReleaseSummary {
  const previousVersion = olderVersions[0] ?? null;
  const version = versionFromTag(release.tag_name) ?? release.tag_name.replace(/^v/i, '');
  const parsed = parseReleaseBody(release.body ?? '');
  const changelogs = new ChangelogIndex(options.packageChangelogs);
  const occurrences = [...parsed.occurrences, ...occurrencesCutOffByTruncation(parsed, changelogs)];
  const changes = groupDistinctChanges(occurrences);
  const allText = changes.map((change) => change.text).join('\n\n');

  return {
    version,
    previous: previousVersion,
    bump: bumpSincePrevious(version, previousVersion, olderVersions),
    breaking: changes
      .filter((change) => change.occurrences.some((occurrence) => isBreaking(occurrence, changelogs)))
      .map(toBreakingChange),
    migrations: mentionsDatabaseMigration(allText),
    encryption: mentionsEncryption(allText),
    destructive: mentionsDestructiveChange(allText),
    truncated: parsed.truncated,
    url: release.html_url,
  };
}

/** Package changelogs that settle doubt: packages under `## Breaking Changes`, and every package named in a truncated body. */
export function packagesNeedingChangelog(release: GithubRelease): string[] {
  const parsed = parseReleaseBody(release.body ?? '');
  const names = new Set(parsed.breakingSectionPackages);
  if (parsed.truncated) {
    for (const name of parsed.packageVersions.keys()) names.add(name);
    for (const name of parsed.dependencyVersions.keys()) names.add(name);
  }
  return [...names].sort();
}

/** The bump each changeset hash had in `version` of a package's CHANGELOG.md; a hash listed twice keeps its highest bump. */
export function parsePackageChangelog(text: string, version: string): Map<string, ChangelogBump> {
  const bumps = new Map<string, ChangelogBump>();
  for (const entry of parseChangelogEntries(text, version)) {
    if (!entry.hash) continue;
    const known = bumps.get(entry.hash);
    if (!known || BUMP_RANK[entry.bump] > BUMP_RANK[known]) bumps.set(entry.hash, entry.bump);
  }
  return bumps;
}

// ---------------------------------------------------------------------------------------------------------------
// Bump

function bumpSincePrevious(version: string, previous: string | null, olderVersions: readonly string[]): Bump {
  if (!previous || !semver.valid(version) || !semver.valid(previous)) return 'first';
  if (semver.prerelease(version)) return 'prerelease';
  // A stable release right after its own prerelease (0.31.0-rc.1 -> 0.31.0) is judged against the last stable one.
  const base = sameCoreVersion(version, previous)
    ? olderVersions.find((older) => semver.valid(older) && !semver.prerelease(older) && semver.lt(older, version))
    : previous;
  if (!base) return 'first';
  if (semver.major(version) !== semver.major(base)) return 'major';
  if (semver.minor(version) !== semver.minor(base)) return 'minor';
  return 'patch';
}

function sameCoreVersion(a: string, b: string): boolean {
  return semver.major(a) === semver.major(b) && semver.minor(a) === semver.minor(b) && semver.patch(a) === semver.patch(b);
}

// ---------------------------------------------------------------------------------------------------------------
// Release body

function parseReleaseBody(body: string): ParsedBody {
  const lines = body.split(/\r?\n/);
  const start = Math.max(0, lines.findIndex((line) => CHANGELOG_TITLE.test(line)));
  const parsed: ParsedBody = {
    occurrences: [],
    packageVersions: new Map(),
    dependencyVersions: new Map(),
    breakingSectionPackages: [],
    truncated: false,
  };
  let section: Section = 'other';
  let currentPackage: { name: string; version: string } | null = null;
  let entryLines: string[] | null = null;

  const closeEntry = (): void => {
    if (entryLines && currentPackage) {
      const occurrence = toOccurrence(entryLines, currentPackage, section);
      if (occurrence) parsed.occurrences.push(occurrence);
    }
    entryLines = null;
  };

  for (const line of lines.slice(start)) {
    if (TRUNCATION_NOTICE.test(line)) {
      parsed.truncated = true;
      break;
    }
    const dependency = DEPENDENCY_BULLET.exec(line);
    if (dependency?.[1] && dependency[2]) parsed.dependencyVersions.set(dependency[1], dependency[2]);

    if (/^#{1,2} /.test(line) || /^---\s*$/.test(line)) {
      closeEntry();
      currentPackage = null;
      if (line.startsWith('## ')) section = sectionOf(line.slice(3));
    } else if (line.startsWith('### ')) {
      closeEntry();
      currentPackage = packageHeading(line.slice(4));
      if (currentPackage) {
        parsed.packageVersions.set(currentPackage.name, currentPackage.version);
        if (section === 'breaking') parsed.breakingSectionPackages.push(currentPackage.name);
      }
    } else if (line.startsWith('- ')) {
      closeEntry();
      entryLines = [line.slice(2)];
    } else if (entryLines) {
      entryLines.push(line);
    }
  }
  closeEntry();
  return parsed;
}

function sectionOf(title: string): Section {
  if (/breaking|major/i.test(title)) return 'breaking';
  if (/minor/i.test(title)) return 'minor';
  if (/patch/i.test(title)) return 'patch';
  return 'other';
}

function packageHeading(text: string): { name: string; version: string } | null {
  const match = PACKAGE_AT_VERSION.exec(text.trim());
  return match?.[1] && match[2] ? { name: match[1], version: match[2] } : null;
}

function toOccurrence(
  lines: string[],
  pkg: { name: string; version: string },
  section: Section,
): Occurrence | null {
  const parsed = parseEntryLines(lines);
  if (!parsed) return null;
  return { packageName: pkg.name, packageVersion: pkg.version, section, ...parsed };
}

/** Splits `- <hash>: text` into hash and text; dependency bumps are not changes and give null. */
function parseEntryLines(lines: string[]): { hash: string | null; text: string } | null {
  const [first = '', ...rest] = lines;
  if (/^Updated dependencies\b/i.test(first) || PACKAGE_AT_VERSION.test(first.trim())) return null;
  const match = HASH_ENTRY.exec(first);
  const hash = match?.[1] ?? null;
  const text = [match ? (match[2] ?? '') : first, ...rest].join('\n').trimEnd();
  return text.trim() ? { hash, text } : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Package changelogs

const BUMP_RANK: Record<ChangelogBump, number> = { patch: 0, minor: 1, major: 2 };

function parseChangelogEntries(text: string, version: string): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  let inVersion = false;
  let bump: ChangelogBump | null = null;
  let entryLines: string[] | null = null;

  const closeEntry = (): void => {
    const parsed = entryLines && bump ? parseEntryLines(entryLines) : null;
    if (parsed && bump) entries.push({ ...parsed, bump });
    entryLines = null;
  };

  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('## ')) {
      closeEntry();
      if (inVersion) break;
      inVersion = line.slice(3).trim() === version;
    } else if (!inVersion) {
      continue;
    } else if (line.startsWith('### ')) {
      closeEntry();
      bump = changelogBumpOf(line.slice(4));
    } else if (line.startsWith('- ')) {
      closeEntry();
      entryLines = [line.slice(2)];
    } else if (entryLines) {
      entryLines.push(line);
    }
  }
  closeEntry();
  return entries;
}

function changelogBumpOf(heading: string): ChangelogBump | null {
  const match = /^(major|minor|patch) changes$/i.exec(heading.trim());
  return match?.[1] ? (match[1].toLowerCase() as ChangelogBump) : null;
}

/** Looks up how an entry was really bumped in its package's CHANGELOG.md; parses each changelog once. */
class ChangelogIndex {
  private readonly parsed = new Map<string, ChangelogEntry[]>();

  constructor(private readonly texts: ReadonlyMap<string, string> = new Map()) {}

  has(packageName: string): boolean {
    return this.texts.has(packageName);
  }

  entries(packageName: string, version: string): ChangelogEntry[] {
    const key = `${packageName}@${version}`;
    let entries = this.parsed.get(key);
    if (!entries) {
      const text = this.texts.get(packageName);
      entries = text === undefined ? [] : parseChangelogEntries(text, version);
      this.parsed.set(key, entries);
    }
    return entries;
  }

  /** The bump of this entry, or undefined when the changelog does not settle it. */
  bumpOf(occurrence: Occurrence): ChangelogBump | undefined {
    const entries = this.entries(occurrence.packageName, occurrence.packageVersion);
    const key = changeKey(occurrence.hash, occurrence.text);
    const exact = entries.find((entry) => changeKey(entry.hash, entry.text) === key);
    if (exact) return exact.bump;
    // Several changesets of one commit share a hash; only a hash with a single bump is conclusive.
    const sameHash = new Set(entries.filter((entry) => entry.hash && entry.hash === occurrence.hash).map((e) => e.bump));
    return sameHash.size === 1 ? [...sameHash][0] : undefined;
  }
}

/** Entries of packages the truncation cut off, read from their changelogs (their version comes from dependency lists). */
function occurrencesCutOffByTruncation(parsed: ParsedBody, changelogs: ChangelogIndex): Occurrence[] {
  if (!parsed.truncated) return [];
  const cutOff = [...parsed.dependencyVersions].filter(
    ([name]) => !parsed.packageVersions.has(name) && changelogs.has(name),
  );
  return cutOff.flatMap(([packageName, packageVersion]) =>
    changelogs.entries(packageName, packageVersion).map((entry) => ({
      packageName,
      packageVersion,
      section: entry.bump === 'major' ? ('breaking' as const) : entry.bump,
      hash: entry.hash,
      text: entry.text,
    })),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Distinct changes and breaking markers

interface DistinctChange {
  hash: string | null;
  text: string;
  occurrences: Occurrence[];
}

/** One change per changeset, however many packages repeat it. Hash plus first line: one commit can carry several changesets. */
function groupDistinctChanges(occurrences: Occurrence[]): DistinctChange[] {
  const byKey = new Map<string, DistinctChange>();
  for (const occurrence of occurrences) {
    const key = changeKey(occurrence.hash, occurrence.text);
    const change = byKey.get(key);
    if (change) change.occurrences.push(occurrence);
    else byKey.set(key, { hash: occurrence.hash, text: occurrence.text, occurrences: [occurrence] });
  }
  return [...byKey.values()];
}

function changeKey(hash: string | null, text: string): string {
  const firstLine = text.split('\n').find((line) => line.trim()) ?? '';
  return hash ? `${hash}\u0000${normalise(firstLine)}` : `\u0000${normalise(text)}`;
}

function normalise(text: string): string {
  return text.replace(/\s+/g, ' ').trim().toLowerCase();
}

/**
 * Under `## Breaking Changes` a whole package is listed, bug fixes included, because the body lost the per-package
 * Major/Minor/Patch headings; its CHANGELOG.md, when given, tells which entries really were major.
 */
function isBreaking(occurrence: Occurrence, changelogs: ChangelogIndex): boolean {
  if (hasInlineBreakingMarker(occurrence.text)) return true;
  if (occurrence.section !== 'breaking') return false;
  if (!changelogs.has(occurrence.packageName)) return true;
  const bump = changelogs.bumpOf(occurrence);
  return bump === undefined || bump === 'major';
}

const NOT_NEGATED = String.raw`(?<!\b(?:non|no|not)[\s-]?)`;
const INLINE_BREAKING_MARKERS: readonly RegExp[] = [
  // A heading inside the entry: `###### Breaking Changes`, `###### Breaking Changes (plugin authors)`.
  /^\s*#{1,6}\s*breaking changes?\b/im,
  // `**Breaking Change**:`, `**Breaking Changes:**`, `**BREAKING**`
  new RegExp(String.raw`${NOT_NEGATED}\*\*\s*breaking(?:[\s-]changes?)?\s*:?\s*\*\*`, 'i'),
  // `BREAKING:`, `Breaking change:`, `BREAKING CHANGE:`
  new RegExp(String.raw`${NOT_NEGATED}\bbreaking(?:[\s-]changes?)?\s*:`, 'i'),
];

function hasInlineBreakingMarker(text: string): boolean {
  const prose = withoutCodeBlocks(text);
  return INLINE_BREAKING_MARKERS.some((marker) => marker.test(prose));
}

function withoutCodeBlocks(text: string): string {
  return text.replace(/```[\s\S]*?(```|$)/g, '');
}

function toBreakingChange(change: DistinctChange): BreakingChange {
  return {
    id: change.hash ?? shortTextHash(change.text),
    title: titleOf(change.text),
    packages: [...new Set(change.occurrences.map((occurrence) => occurrence.packageName))].sort(),
    audience: audienceOf(change.text),
  };
}

function shortTextHash(text: string): string {
  return createHash('sha1').update(normalise(text)).digest('hex').slice(0, 7);
}

// ---------------------------------------------------------------------------------------------------------------
// Title

function titleOf(text: string): string {
  const lines = text
    .split('\n')
    .map(plainLine)
    .filter((line) => line && !isPackageNameOnly(line) && !isMarkerOnly(line));
  const sentence = firstSentence(lines[0] ?? '');
  return clipGraphemes(sentence, TITLE_MAX);
}

function plainLine(line: string): string {
  return line
    .replace(/\\([\\`*_{}[\]()#+\-.!])/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*\*|__|`/g, '')
    .replace(/^\s*(?:[-*+]\s+|#{1,6}\s+)+/, '')
    .replace(/^breaking(?:[\s-]changes?)?\s*:\s*/i, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function isPackageNameOnly(line: string): boolean {
  return /^@[\w.-]+\/[\w.-]+$/.test(line);
}

function isMarkerOnly(line: string): boolean {
  return /^breaking(?:[\s-]changes?)?\s*:?$/i.test(line);
}

function firstSentence(line: string): string {
  // At least 20 characters, so "e.g. " early in a line does not end the title.
  const match = /^(.{20,}?[.!?])\s+(?=[A-Z])/.exec(line);
  return match?.[1] ?? line;
}

// ---------------------------------------------------------------------------------------------------------------
// Audience and flags

const OPERATOR_CUES: readonly RegExp[] = [
  /\b(deploy(ment|ing|s|ed)?|docker|container|image tag|volumes?|compose|kubernetes|helm)\b/i,
  /\b(environment variables?|env vars?|\.env\b)/i,
  /\b[A-Z][A-Z0-9]*_(?:[A-Z0-9]+_)*(?:KEY|URL|SECRET|TOKEN|HOST|PORT|PASSWORD|PATH|DIR|PREVIOUS)\b/,
  /\b(config(uration)? files?|configurations?\b[^.\n]{0,60}\b(recreated?|re-created?|migrated|reconfigured?|invalid))/i,
  /\b(database|postgres(ql)?|sql|tables?|columns?|data loss|stored data|existing data)\b/i,
  /\b(endpoints?|http api|rest api|api response|webhooks?|api keys?)\b/i,
  /(^|[\s`'"(])\/(api|rest|\.checkstack)\//i,
  /\b(encrypt\w*|decrypt\w*|master key|key rotation)\b/i,
];

function audienceOf(text: string): Audience {
  const touchesWhatOperatorsRun = OPERATOR_CUES.some((cue) => cue.test(text)) || mentionsDatabaseMigration(text);
  return touchesWhatOperatorsRun ? 'operator' : 'plugin-author';
}

// "Migrate X to Y" and "**Migration:**" guides are code changes; these cues need database context.
const DATABASE_MIGRATION_CUES: readonly RegExp[] = [
  /\b(database|db|schema|sql|drizzle|data)\s+migrations?\b/i,
  /\b(plugin|core|pending|automatic)\s+migrations?\b/i,
  /\bmigrations?\s+(run|runs|ran|will run|system|scripts?|files?)\b/i,
  /\b(add(s|ed)?|new|creates?|created|drop(s|ped)?|renam(e|es|ed)|alter(s|ed)?|remov(e|es|ed))\b[^.\n]{0,40}\b(columns?|tables?)\b/i,
  /`\w+`\s+(table|column)\b/i,
  /\b(add(s|ed)?|new|remov(e|es|ed)|drop(s|ped)?|renam(e|es|ed))\b[^.\n]{0,60}\bfields?\b[^.\n]{0,30}\b(schema|table)\b/i,
  /\b(ALTER|CREATE|DROP)\s+TABLE\b/,
];

const ENCRYPTION_CUES: readonly RegExp[] = [
  /\b(re-?)?encrypt(ion|ed|s|ing)?\b/i,
  /\bdecrypt\w*/i,
  /ENCRYPTION_MASTER_KEY/,
  /\bkey rotation\b|\brotat(e|es|ed|ing|ion)\b[^.\n]{0,30}\bkeys?\b/i,
];

const DESTRUCTIVE_CUES: readonly RegExp[] = [
  /\bdrop(s|ped|ping)?\b[^.\n]{0,40}\b(columns?|tables?|schemas?|data)\b/i,
  /\b(columns?|tables?)\b[^.\n]{0,30}\b(dropped|deleted|removed)\b/i,
  /\bDROP\s+(COLUMN|TABLE|SCHEMA)\b/,
  /(?<!\bnon[\s-]?)\b(irreversible|destructive)\b/i,
  /\bdata loss\b|\blos(e|es|ing|t)\s+(all\s+|any\s+|existing\s+)?(data|secrets?|history)\b/i,
  /\bcannot be (undone|reverted|rolled back)\b/i,
];

function mentionsDatabaseMigration(text: string): boolean {
  return DATABASE_MIGRATION_CUES.some((cue) => cue.test(text));
}

function mentionsEncryption(text: string): boolean {
  return ENCRYPTION_CUES.some((cue) => cue.test(text));
}

function mentionsDestructiveChange(text: string): boolean {
  return DESTRUCTIVE_CUES.some((cue) => cue.test(text));
}
