// The `/checkstack` slash command: its grammar, its help text and the parser that turns typed text into a Command.
import { AppError } from '../errors.js';
import { echoUserInput, parseRequestedVersion, isValidVersion } from './versions.js';
import { parseScheduleTime, type UpgradeSchedule } from './schedule-time.js';

export type Command =
  | { kind: 'help' }
  | { kind: 'status'; target?: string }
  | { kind: 'releases'; count: number }
  | { kind: 'upgrade'; version: string; target?: string; allowPrerelease: boolean; at?: UpgradeSchedule }
  | { kind: 'rollback'; target?: string }
  | { kind: 'cancel'; target?: string }
  | { kind: 'history'; target?: string }
  | { kind: 'resume'; target?: string }
  | { kind: 'backup'; target?: string }
  | { kind: 'drill'; target?: string }
  | { kind: 'subscribe' }
  | { kind: 'unsubscribe' }
  | { kind: 'doctor' };

export type CommandKind = Command['kind'];

export const DEFAULT_RELEASES_COUNT = 5;
export const MAX_RELEASES_COUNT = 20;
/** Slack caps slash command text far lower in practice; anything longer is not a command. */
export const MAX_COMMAND_LENGTH = 500;
export const TARGET_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
export const PRERELEASE_FLAG = '--prerelease';
export const AT_FLAG = '--at';

/** The help text, Slack mrkdwn. */
export const COMMAND_GRAMMAR = [
  '*`/checkstack` commands*',
  '• `/checkstack help`: this list',
  '• `/checkstack status [target]`: the version a target runs and any upgrade pending or running',
  `• \`/checkstack releases [n]\`: the newest n releases (default ${DEFAULT_RELEASES_COUNT}, at most ${MAX_RELEASES_COUNT}) with their breaking changes`,
  '• `/checkstack upgrade <version> [target] [--prerelease] [--at <time>|window]`: plan an upgrade to an exact version such as `0.141.0` or `v0.141.0` and post its checklist; `--prerelease` allows a prerelease; `--at` starts it later: at an ISO 8601 time with an offset (`YYYY-MM-DDTHH:MM+01:00`, or `Z` for UTC) or in the target\'s next maintenance window (`--at window`)',
  '• `/checkstack rollback [target]`: go back to the version that ran before the last upgrade',
  '• `/checkstack cancel [target]`: cancel the upgrade pending for a target',
  '• `/checkstack history [target]`: past upgrades and rollbacks of a target',
  '• `/checkstack resume [target]`: resume automatic patch upgrades of a target after a failed one paused them',
  '• `/checkstack backup [target]`: take a backup of the target\'s Checkstack database now',
  '• `/checkstack drill [target]`: restore the newest backup into a throwaway database and check that it starts',
  '• `/checkstack subscribe`: announce new releases in this channel',
  '• `/checkstack unsubscribe`: stop announcing releases in this channel',
  '• `/checkstack doctor`: approvers only: check Slack, GitHub, Docker or Kubernetes, Checkstack, Postgres and Redis without changing anything, and say how to fix each problem',
  'Without `[target]` the default target is used.',
].join('\n');

type Subcommand = CommandKind;
const SUBCOMMANDS: readonly Subcommand[] = [
  'help',
  'status',
  'releases',
  'upgrade',
  'rollback',
  'cancel',
  'history',
  'resume',
  'backup',
  'drill',
  'subscribe',
  'unsubscribe',
  'doctor',
];

const USAGE: Record<Subcommand, string> = {
  help: '/checkstack help',
  status: '/checkstack status [target]',
  releases: '/checkstack releases [n]',
  upgrade: '/checkstack upgrade <version> [target] [--prerelease] [--at <time>|window]',
  rollback: '/checkstack rollback [target]',
  cancel: '/checkstack cancel [target]',
  history: '/checkstack history [target]',
  resume: '/checkstack resume [target]',
  backup: '/checkstack backup [target]',
  drill: '/checkstack drill [target]',
  subscribe: '/checkstack subscribe',
  unsubscribe: '/checkstack unsubscribe',
  doctor: '/checkstack doctor',
};

function invalid(message: string): never {
  throw new AppError('invalid_input', message);
}

function tooMany(sub: Subcommand, extra: string): never {
  invalid(`Too many arguments for \`${sub}\` (starting at \`${echoUserInput(extra)}\`): type \`${USAGE[sub]}\`.`);
}

/** Slack sends non-breaking and other unicode spaces when text is pasted; all of them separate words. */
function tokenize(text: string): string[] {
  return text.split(/[\s\p{Zs}]+/u).filter((token) => token !== '');
}

export function parseTargetName(raw: string): string {
  if (!TARGET_NAME_PATTERN.test(raw)) {
    invalid(
      `\`${echoUserInput(raw)}\` is not a target name: names are letters, digits, \`-\` and \`_\` (up to 63, starting with a letter or digit), such as \`prod\`. \`/checkstack status\` lists the targets.`,
    );
  }
  return raw;
}

function optionalTarget(sub: Subcommand, args: string[]): string | undefined {
  const [target, extra] = args;
  if (extra !== undefined) tooMany(sub, extra);
  return target === undefined ? undefined : parseTargetName(target);
}

function noArguments(sub: Subcommand, args: string[]): void {
  const [extra] = args;
  if (extra !== undefined) tooMany(sub, extra);
}

function parseCount(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_RELEASES_COUNT;
  const count = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_RELEASES_COUNT) {
    invalid(
      `\`${echoUserInput(raw)}\` is not a number of releases: type a whole number from 1 to ${MAX_RELEASES_COUNT}, such as \`/checkstack releases ${DEFAULT_RELEASES_COUNT}\`.`,
    );
  }
  return count;
}

/** Takes `--at <value>` (or `--at=<value>`) out of the tokens: its value is the next token, whatever it is. */
function takeAt(tokens: string[]): { rest: string[]; at?: string } {
  const AT = /^(?:--|\u2014|\u2013)at(?:=(.*))?$/i;
  const rest: string[] = [];
  let at: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const match = AT.exec(tokens[i]!);
    if (!match) {
      rest.push(tokens[i]!);
      continue;
    }
    if (at !== undefined) invalid(`\`${AT_FLAG}\` is given twice: say once when the upgrade should start.`);
    at = match[1] ?? tokens[++i] ?? '';
  }
  return at === undefined ? { rest } : { rest, at };
}

function parseUpgrade(args: string[], allowPrerelease: boolean): Extract<Command, { kind: 'upgrade' }> {
  const [version, target, extra] = args;
  if (version === undefined) {
    invalid('Say which version to install: `/checkstack upgrade 0.141.0 [target]` (see `/checkstack releases`).');
  }
  if (extra !== undefined) tooMany('upgrade', extra);
  // A swapped order (`upgrade prod 0.141.0`) is a common slip: say so rather than "not a version".
  if (target !== undefined && !isValidVersion(version) && isValidVersion(target)) {
    invalid(
      `The version comes first: type \`/checkstack upgrade ${echoUserInput(target)} ${echoUserInput(version)}\`.`,
    );
  }
  const parsed = parseRequestedVersion(version);
  return target === undefined
    ? { kind: 'upgrade', version: parsed, allowPrerelease }
    : { kind: 'upgrade', version: parsed, target: parseTargetName(target), allowPrerelease };
}

/**
 * Parses the text after `/checkstack`. Throws `unknown_subcommand` (with the grammar) or
 * `invalid_input`; never anything else, whatever the input. `now` bounds `--at` (not in the past, at most
 * `MAX_SCHEDULE_AHEAD_DAYS` ahead).
 */
export function parseCommand(text: string, now: Date = new Date()): Command {
  const raw = typeof text === 'string' ? text : '';
  if (raw.length > MAX_COMMAND_LENGTH) {
    invalid(
      `That command is too long (${raw.length} characters): \`/checkstack\` takes a few short words, such as \`/checkstack upgrade 0.141.0 prod\`. Type \`/checkstack help\` for the list.`,
    );
  }
  const tokens = tokenize(raw);
  const [first, ...afterFirst] = tokens;
  if (first === undefined) return { kind: 'help' };

  const sub = first.toLowerCase();
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new AppError(
      'unknown_subcommand',
      `Unknown subcommand \`${echoUserInput(first)}\`. Here is what \`/checkstack\` understands:\n${COMMAND_GRAMMAR}`,
    );
  }
  const kind = sub as Subcommand;

  if (kind === 'help') return { kind };

  const { rest, at: atText } = takeAt(afterFirst);
  if (atText !== undefined && kind !== 'upgrade') invalid(`\`${AT_FLAG}\` only goes with \`upgrade\`: type \`${USAGE.upgrade}\`.`);
  const at = atText === undefined ? undefined : parseScheduleTime(atText, now);

  // Desktop autocorrect turns `--` into an em or en dash; read those as the flag prefix too.
  const isFlag = (token: string): boolean => /^(?:--|\u2014|\u2013)/.test(token);
  const flags = rest.filter(isFlag);
  const args = rest.filter((token) => !isFlag(token));
  for (const flag of flags) {
    if (flag.toLowerCase().replace(/^(?:\u2014|\u2013)/, '--') !== PRERELEASE_FLAG) {
      invalid(`\`${echoUserInput(flag)}\` is not an option \`/checkstack\` knows. Type \`${USAGE[kind]}\`.`);
    }
    if (kind !== 'upgrade') {
      invalid(`\`${PRERELEASE_FLAG}\` only goes with \`upgrade\`: type \`${USAGE.upgrade}\`.`);
    }
  }

  switch (kind) {
    case 'subscribe':
    case 'unsubscribe':
    case 'doctor':
      noArguments(kind, args);
      return { kind };
    case 'releases': {
      const [count, extra] = args;
      if (extra !== undefined) tooMany(kind, extra);
      return { kind, count: parseCount(count) };
    }
    case 'upgrade': {
      const upgrade = parseUpgrade(args, flags.length > 0);
      return at === undefined ? upgrade : { ...upgrade, at };
    }
    case 'resume':
    case 'backup':
    case 'drill':
    case 'status':
    case 'rollback':
    case 'cancel':
    case 'history': {
      const target = optionalTarget(kind, args);
      return target === undefined ? { kind } : { kind, target };
    }
  }
}
