import { describe, expect, it } from 'vitest';
import { AppError, isAppError } from '../../src/errors.js';
import { COMMAND_GRAMMAR, parseCommand, type Command } from '../../src/domain/command-grammar.js';

function refusal(text: string): AppError {
  try {
    parseCommand(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be refused`);
}

describe('parseCommand', () => {
  it.each<[string, Command]>([
    ['', { kind: 'help' }],
    ['   ', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['HELP upgrade', { kind: 'help' }],
    ['status', { kind: 'status' }],
    ['status prod', { kind: 'status', target: 'prod' }],
    ['releases', { kind: 'releases', count: 5 }],
    ['releases 1', { kind: 'releases', count: 1 }],
    ['releases 20', { kind: 'releases', count: 20 }],
    ['upgrade 0.141.0', { kind: 'upgrade', version: '0.141.0', allowPrerelease: false }],
    ['upgrade v0.141.0 prod', { kind: 'upgrade', version: '0.141.0', target: 'prod', allowPrerelease: false }],
    ['Upgrade  v0.141.0\u00a0staging-2', { kind: 'upgrade', version: '0.141.0', target: 'staging-2', allowPrerelease: false }],
    ['upgrade 0.141.0-rc.1 --prerelease', { kind: 'upgrade', version: '0.141.0-rc.1', allowPrerelease: true }],
    ['upgrade --prerelease 0.141.0-rc.1 prod', { kind: 'upgrade', version: '0.141.0-rc.1', target: 'prod', allowPrerelease: true }],
    ['upgrade 0.141.0-rc.1 prod \u2014prerelease', { kind: 'upgrade', version: '0.141.0-rc.1', target: 'prod', allowPrerelease: true }],
    ['rollback', { kind: 'rollback' }],
    ['rollback prod', { kind: 'rollback', target: 'prod' }],
    ['cancel prod_eu', { kind: 'cancel', target: 'prod_eu' }],
    ['history', { kind: 'history' }],
    ['history prod', { kind: 'history', target: 'prod' }],
    ['subscribe', { kind: 'subscribe' }],
    ['unsubscribe', { kind: 'unsubscribe' }],
  ])('parses %j', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it('answers an unknown subcommand with the grammar', () => {
    const err = refusal('deploy 0.141.0');

    expect(err.code).toBe('unknown_subcommand');
    expect(err.message).toContain('`deploy`');
    expect(err.message).toContain(COMMAND_GRAMMAR);
  });

  it.each(['releases 0', 'releases 21', 'releases -1', 'releases 2.5', 'releases five', 'releases 0005'])(
    'refuses %j: the count is 1 to 20',
    (text) => {
      const err = refusal(text);

      expect(err.code).toBe('invalid_input');
      expect(err.message).toContain('1 to 20');
    },
  );

  it.each(['status prod extra', 'releases 5 6', 'upgrade 0.141.0 prod extra', 'subscribe now', 'rollback a b'])(
    'refuses too many arguments in %j',
    (text) => {
      const err = refusal(text);

      expect(err.code).toBe('invalid_input');
      expect(err.message).toMatch(/Too many arguments/);
      expect(err.message).toContain('/checkstack');
    },
  );

  it.each(['status -prod', 'status prod;rm', 'cancel ../etc', 'history prod\u0000', `status ${'a'.repeat(64)}`, 'rollback π'])(
    'refuses the bad target name in %j',
    (text) => {
      const err = refusal(text);

      expect(err.code).toBe('invalid_input');
      expect(err.message).toContain('not a target name');
    },
  );

  it('refuses an upgrade without a version and shows the usage', () => {
    const err = refusal('upgrade');

    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain('/checkstack upgrade 0.141.0');
  });

  it('passes the version refusals through (latest, ranges)', () => {
    expect(refusal('upgrade latest').code).toBe('version_not_allowed');
    expect(refusal('upgrade ^0.141 prod').code).toBe('version_not_allowed');
  });

  it('points out a swapped version and target', () => {
    const err = refusal('upgrade prod 0.141.0');

    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain('`/checkstack upgrade 0.141.0 prod`');
  });

  it('refuses unknown options, and --prerelease outside upgrade', () => {
    expect(refusal('upgrade 0.141.0 --force').message).toContain('`--force`');
    expect(refusal('status --prerelease').message).toContain('only goes with `upgrade`');
  });

  it('refuses a 100 KB string quickly and cleanly', () => {
    const started = performance.now();

    const err = refusal(`upgrade ${'9'.repeat(100_000)}`);

    expect(err.code).toBe('invalid_input');
    expect(err.message).toMatch(/too long/);
    expect(err.message.length).toBeLessThan(400);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('never echoes mention syntax back', () => {
    const err = refusal('<!channel> please');

    expect(err.message.split(COMMAND_GRAMMAR)[0]).not.toMatch(/<[!@#]/);
    expect(err.message).toContain('&lt;!channel&gt;');
  });
});

describe('parseCommand on hostile input', () => {
  // A small deterministic generator (no dependency): words, versions and nasty fragments mixed at random.
  const FRAGMENTS = [
    'upgrade', 'status', 'releases', 'rollback', 'cancel', 'history', 'help', 'subscribe', 'unsubscribe', 'resume', 'backup', 'drill',
    '--at', '—at', '--at=', 'window', '2026-02-01T02:00Z', '2026-02-01T02:00', '9999-99-99T99:99+99:99', '0.141.0', 'v0.141.0', '0.141.0-rc.1', 'latest', '^0.141', '0.141.x', '--prerelease', '--', '—prerelease',
    'prod', 'staging', '<!channel>', '<@U123>', '<!here|here>', '`', '*', '_', '~', '&amp;', '; rm -rf /',
    "' OR 1=1 --", '$(reboot)', '|| true', '\u0000', '\u0007', '\u001b[31m', '\u202e', '\u200b', '\ufeff',
    '\ud800', '😀', '𝟘.𝟙𝟜𝟙.𝟘', 'ｕｐｇｒａｄｅ', '\u00a0', '\t', '\n', '\r\n', '%s%n', '{{7*7}}', 'null', 'undefined',
    '__proto__', 'constructor', 'toString', '9'.repeat(30), '0.141.0+build', '１.２.３',
  ];
  function* hostileStrings(count: number): Generator<string> {
    let seed = 0x2545f491;
    const next = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return Math.abs(seed) % n;
    };
    for (let i = 0; i < count; i += 1) {
      const words = 1 + next(5);
      const parts: string[] = [];
      for (let w = 0; w < words; w += 1) {
        const fragment = FRAGMENTS[next(FRAGMENTS.length)] ?? '';
        parts.push(next(4) === 0 ? String.fromCharCode(next(0x3000)) + fragment : fragment);
      }
      yield parts.join(next(3) === 0 ? '' : ' ');
    }
    yield 'x'.repeat(100_000);
    yield `upgrade ${'<!channel>'.repeat(10_000)}`;
    yield '\u0000'.repeat(1000);
  }

  it('throws nothing but AppError, with a short message free of mentions', () => {
    for (const text of hostileStrings(2000)) {
      try {
        const command = parseCommand(text);
        expect(typeof command.kind).toBe('string');
      } catch (err) {
        if (!isAppError(err)) throw new Error(`non-AppError for ${JSON.stringify(text.slice(0, 80))}: ${String(err)}`);
        expect(['invalid_input', 'unknown_subcommand', 'version_not_allowed']).toContain(err.code);
        const ownText = err.message.split(COMMAND_GRAMMAR)[0] ?? '';
        expect(ownText).not.toMatch(/<[!@#]/);
        expect(ownText).not.toMatch(/(?!\n)[\p{Cc}\u202e]/u);
        expect(ownText.length).toBeLessThan(500);
      }
    }
  });
});

describe('COMMAND_GRAMMAR', () => {
  it('lists every subcommand with a line of explanation', () => {
    for (const sub of ['help', 'status [target]', 'releases [n]', 'upgrade <version> [target]', 'rollback [target]', 'cancel [target]', 'history [target]', 'resume [target]', 'backup [target]', 'drill [target]', 'subscribe', 'unsubscribe']) {
      expect(COMMAND_GRAMMAR).toMatch(new RegExp(`/checkstack ${sub.replace(/[[\]<>]/g, '\\$&')}[^\\n]*: \\w`));
    }
  });
});

describe('parseCommand: --at and resume', () => {
  const NOW = new Date('2026-01-30T12:00:00Z');
  const refusedAt = (text: string): AppError => {
    try {
      parseCommand(text, NOW);
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return err as AppError;
    }
    throw new Error(`expected ${JSON.stringify(text)} to be refused`);
  };

  it.each<[string, Command]>([
    ['upgrade 0.141.0 --at window', { kind: 'upgrade', version: '0.141.0', allowPrerelease: false, at: { kind: 'window' } }],
    ['upgrade 0.141.0 prod --at 2026-01-31T02:00+01:00', { kind: 'upgrade', version: '0.141.0', target: 'prod', allowPrerelease: false, at: { kind: 'time', at: new Date('2026-01-31T01:00:00Z') } }],
    ['upgrade --at=2026-01-31T01:00Z 0.141.0 prod', { kind: 'upgrade', version: '0.141.0', target: 'prod', allowPrerelease: false, at: { kind: 'time', at: new Date('2026-01-31T01:00:00Z') } }],
    ['upgrade 0.141.0-rc.1 \u2014at WINDOW --prerelease', { kind: 'upgrade', version: '0.141.0-rc.1', allowPrerelease: true, at: { kind: 'window' } }],
    ['resume', { kind: 'resume' }],
    ['resume staging', { kind: 'resume', target: 'staging' }],
    ['backup', { kind: 'backup' }],
    ['BACKUP prod', { kind: 'backup', target: 'prod' }],
    ['drill staging', { kind: 'drill', target: 'staging' }],
  ])('parses %j', (text, expected) => {
    expect(parseCommand(text, NOW)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ['upgrade 0.141.0 --at 2026-01-31T02:00', /has no offset, so the bot cannot tell which time zone it is in: add `Z` for UTC or your offset, such as `2026-01-31T02:00Z`/],
    ['upgrade 0.141.0 --at', /Say when after `--at`/],
    ['upgrade 0.141.0 --at=', /Say when after `--at`/],
    ['upgrade 0.141.0 --at 2026-01-29T02:00Z', /in the past/],
    ['upgrade 0.141.0 --at 2026-03-30T02:00Z', /more than 30 days ahead/],
    ['upgrade 0.141.0 --at window --at window', /given twice/],
    ['status --at window', /only goes with `upgrade`/],
    ['resume --at 2026-01-29T02:00Z', /only goes with `upgrade`/],
    ['resume prod staging', /Too many arguments for `resume`/],
    ['resume <!channel>', /not a target name/],
    ['backup prod staging', /Too many arguments for `backup`/],
    ['drill --at window', /only goes with `upgrade`/],
    ['drill --prerelease', /only goes with `upgrade`|not an option/],
  ])('refuses %j', (text, message) => {
    const err = refusedAt(text);
    expect(err.code).toBe('invalid_input');
    expect(err.message).toMatch(message);
  });
});
