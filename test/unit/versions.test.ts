import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  classifyBump,
  compareVersions,
  echoUserInput,
  imageTag,
  isPrerelease,
  parseRequestedVersion,
  tagForVersion,
  versionsBehind,
} from '../../src/domain/versions.js';

function refusal(text: string): AppError {
  try {
    parseRequestedVersion(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe('parseRequestedVersion', () => {
  it.each([
    ['0.141.0', '0.141.0'],
    ['v0.141.0', '0.141.0'],
    ['V0.141.0', '0.141.0'],
    ['  0.141.0  ', '0.141.0'],
    ['1.0.0', '1.0.0'],
    ['0.141.0-rc.1', '0.141.0-rc.1'],
    ['v0.141.0-beta.2', '0.141.0-beta.2'],
  ])('accepts %j as %s', (input, expected) => {
    expect(parseRequestedVersion(input)).toBe(expected);
  });

  it('flags a prerelease so the plan can ask for --prerelease', () => {
    const version = parseRequestedVersion('0.141.0-rc.1');

    expect(isPrerelease(version)).toBe(true);
    expect(isPrerelease(parseRequestedVersion('0.141.0'))).toBe(false);
  });

  it('refuses `latest` and explains the footgun', () => {
    const err = refusal('latest');

    expect(err.code).toBe('version_not_allowed');
    expect(err.message).toContain('pin an exact tag');
    expect(err.message).toContain('`0.141.0`');
    expect(err.message).toMatch(/breaking changes in minor releases/);
  });

  it.each(['LATEST', 'Latest'])('refuses %j like latest', (input) => {
    expect(refusal(input).message).toContain('`latest` is not allowed');
  });

  it.each(['stable', 'main', 'nightly'])('refuses the moving tag %j', (input) => {
    expect(refusal(input).code).toBe('version_not_allowed');
  });

  it.each(['*', '^0.141', '^0.141.0', '~0.141.0', '~', '>=0.141.0', '>0.141.0', '<1.0.0', '=0.141.0', '0.141.x', '0.x', '0.141.*', '1.0.0 - 1.2.0', '1.0.0||2.0.0'])(
    'refuses the range %j',
    (input) => {
      const err = refusal(input);

      expect(err.code).toBe('version_not_allowed');
      expect(err.message).toMatch(/range/);
      expect(err.message).toContain('/checkstack releases');
    },
  );

  it.each(['0.141', 'v0.141', '0'])('refuses the partial version %j', (input) => {
    const err = refusal(input);

    expect(err.code).toBe('version_not_allowed');
    expect(err.message).toMatch(/partial version: type all three numbers/);
  });

  it('refuses build metadata and says what to type instead', () => {
    const err = refusal('0.141.0+build.5');

    expect(err.code).toBe('version_not_allowed');
    expect(err.message).toContain('build metadata');
    expect(err.message).toContain('`0.141.0`');
  });

  it.each(['', '   ', '\n'])('refuses empty input %j', (input) => {
    const err = refusal(input);

    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain('/checkstack upgrade 0.141.0');
  });

  it.each(['banana', '0.141.0.1', '01.2.3', '0.141.0-', '0.141.0-rc..1', 'v', '1.2.3.4.5', "0.141.0'; DROP TABLE upgrades;--"])(
    'refuses garbage %j as invalid input',
    (input) => {
      expect(refusal(input).code).toBe('invalid_input');
    },
  );

  it('refuses absurdly long input without echoing it whole', () => {
    const input = '9'.repeat(100_000);

    const err = refusal(input);

    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain('too long');
    expect(err.message.length).toBeLessThan(300);
  });

  it('never echoes a mention, a link or control characters', () => {
    const err = refusal('<!channel> hi\u0007\u202e<@U123>');

    expect(err.message).not.toMatch(/<[!@#]/);
    expect(err.message).not.toMatch(/[\p{Cc}\u202e]/u);
    expect(err.message).toContain('&lt;!channel&gt;');
  });

  it('caps the echoed input at about 40 characters', () => {
    const err = refusal(`x${'y'.repeat(60)}`);

    const echoed = /`([^`]*)`/.exec(err.message)?.[1] ?? '';
    expect(echoed.length).toBeLessThanOrEqual(41);
    expect(echoed.endsWith('…')).toBe(true);
  });
});

describe('echoUserInput', () => {
  it('replaces backticks so the code span it sits in stays closed', () => {
    expect(echoUserInput('a`b')).toBe("a'b");
  });

  it('shows blank input as such', () => {
    expect(echoUserInput('\u0000\u0001')).toBe('(blank)');
  });
});

describe('classifyBump', () => {
  it.each([
    ['0.140.0', '0.140.0', 'same'],
    ['0.140.0', 'v0.140.0', 'same'],
    ['0.140.0', '0.140.1', 'patch'],
    ['0.140.3', '0.141.0', 'minor'],
    ['0.140.0', '0.142.5', 'minor'],
    ['0.140.0', '1.0.0', 'major'],
    ['0.140.0', '0.141.0-rc.1', 'prerelease'],
    ['0.141.0-rc.1', '0.141.0-rc.2', 'prerelease'],
    ['0.141.0-rc.1', '0.141.0', 'patch'],
    ['0.141.0', '0.140.9', 'downgrade'],
    ['0.141.0', '0.141.0-rc.1', 'downgrade'],
    ['1.0.0', '0.141.0', 'downgrade'],
  ] as const)('%s → %s is %s', (from, to, expected) => {
    expect(classifyBump(from, to)).toBe(expected);
  });

  it('refuses something that is not a version', () => {
    expect(() => classifyBump('latest', '0.141.0')).toThrow(AppError);
  });
});

describe('compareVersions', () => {
  it('orders by semver precedence, not by text', () => {
    const sorted = ['0.30.0', '0.4.0', '0.141.0', '0.141.0-rc.1', 'v0.5.0'].sort(compareVersions);

    expect(sorted).toEqual(['0.4.0', 'v0.5.0', '0.30.0', '0.141.0-rc.1', '0.141.0']);
  });

  it('treats v-prefixed and bare versions as equal', () => {
    expect(compareVersions('v0.141.0', '0.141.0')).toBe(0);
  });
});

describe('tags', () => {
  it('names the Git tag with a v and the image tag without', () => {
    expect(tagForVersion('0.141.0')).toBe('v0.141.0');
    expect(tagForVersion('v0.141.0')).toBe('v0.141.0');
    expect(imageTag('v0.141.0')).toBe('0.141.0');
    expect(imageTag('0.141.0-rc.1')).toBe('0.141.0-rc.1');
  });

  it('refuses to build a tag from a floating name', () => {
    expect(() => imageTag('latest')).toThrow(AppError);
  });
});

describe('versionsBehind', () => {
  const releases = ['0.31.0', '0.30.2', '0.30.1', '0.30.0', '0.29.3', '0.29.2', '0.29.1', '1.0.0-rc.1', 'nightly'].map((version) => ({ version }));

  it.each([
    { running: null, behind: null },
    { running: 'latest', behind: null },
    { running: '0.29.1', behind: { minors: 3, patches: 2 } },
    { running: '0.30.2', behind: { minors: 2, patches: 0 } },
    { running: '0.31.0', behind: { minors: 1, patches: 0 } },
    { running: '1.0.0', behind: { minors: 0, patches: 0 } },
  ])('counts newer minor lines once each and newer patches of its own line ($running)', ({ running, behind }) => {
    expect(versionsBehind(running, releases)).toEqual(behind);
  });
});
