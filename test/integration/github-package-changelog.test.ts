import { Octokit } from '@octokit/rest';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createPackageChangelogReader, type PackageChangelogReader } from '../../src/github/package-changelog.js';
import { startFakeGithub, type FakeGithub } from '../fakes/fake-github.js';

const octokitLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function manifest(name: string, version: string): string {
  return `${JSON.stringify({ name, version, type: 'module' }, null, 2)}\n`;
}

function changelog(name: string, version: string, entry: string): string {
  return `# ${name}\n\n## ${version}\n\n### Minor Changes\n\n- 3dd1914: ${entry}\n`;
}

describe('package changelog reader against a fake GitHub', () => {
  let fake: FakeGithub;
  let reader: PackageChangelogReader;

  beforeEach(async () => {
    // The early layout: health checks under plugins/.
    fake = await startFakeGithub({
      repo: 'enyineer/checkstack',
      files: {
        'package.json': manifest('checkstack-monorepo', '0.0.0'),
        'core/release/package.json': manifest('@checkstack/release', '0.4.0'),
        'core/release/CHANGELOG.md': changelog('@checkstack/release', '0.4.0', 'Release 0.4.0'),
        'core/tsconfig/package.json': manifest('@checkstack/tsconfig', '0.0.1'),
        'plugins/healthcheck-backend/package.json': manifest('@checkstack/healthcheck-backend', '0.1.0'),
        'plugins/healthcheck-backend/CHANGELOG.md': changelog('@checkstack/healthcheck-backend', '0.1.0', 'Early layout'),
      },
    });
    fake.files.tag('v0.4.0');
    // Later: the package moved to core/, and a plugin whose directory is not its unscoped name appeared.
    fake.files.put('main', 'core/healthcheck-backend/package.json', manifest('@checkstack/healthcheck-backend', '0.5.0'));
    fake.files.put('main', 'core/healthcheck-backend/CHANGELOG.md', changelog('@checkstack/healthcheck-backend', '0.5.0', 'Migrate health check strategies to VersionedAggregated'));
    fake.files.put('main', 'plugins/notify-slack/package.json', manifest('@checkstack/notification-slack-backend', '0.2.0'));
    fake.files.put('main', 'plugins/notify-slack/CHANGELOG.md', changelog('@checkstack/notification-slack-backend', '0.2.0', 'Slack notifications'));
    fake.files.put('main', 'plugins/notify-slack/node_modules/x/package.json', manifest('x', '1.0.0'));
    fake.files.tag('v0.30.0');
    reader = createPackageChangelogReader({
      octokit: new Octokit({ baseUrl: fake.url, log: octokitLog }),
      repo: 'enyineer/checkstack',
      logger: pino({ level: 'silent' }),
    });
  });

  afterEach(async () => {
    await fake.close();
  });

  const treeRequests = () => fake.requests.filter((r) => r.path.includes('/git/trees/'));

  it('reads the CHANGELOG of the directory named after the package, at the tag', async () => {
    const text = await reader.read('@checkstack/healthcheck-backend', 'v0.30.0');

    expect(text).toBe(changelog('@checkstack/healthcheck-backend', '0.5.0', 'Migrate health check strategies to VersionedAggregated'));
    expect(fake.requests.map((r) => `${r.path} ${r.query.ref ?? ''}`)).toEqual([
      '/repos/enyineer/checkstack/git/trees/v0.30.0 ',
      '/repos/enyineer/checkstack/contents/core/healthcheck-backend/CHANGELOG.md v0.30.0',
    ]);
    expect(treeRequests()[0]?.query.recursive).toBe('1');
  });

  it('follows a package that moved between tags', async () => {
    expect(await reader.read('@checkstack/healthcheck-backend', 'v0.4.0')).toContain('Early layout');
    expect(await reader.read('@checkstack/healthcheck-backend', 'v0.30.0')).toContain('VersionedAggregated');
  });

  it('lists the tree once per tag', async () => {
    await reader.read('@checkstack/healthcheck-backend', 'v0.30.0');
    await reader.read('@checkstack/release', 'v0.30.0');
    await reader.read('@checkstack/release', 'v0.4.0');

    expect(treeRequests().map((r) => r.path)).toEqual([
      '/repos/enyineer/checkstack/git/trees/v0.30.0',
      '/repos/enyineer/checkstack/git/trees/v0.4.0',
    ]);
  });

  it('finds a package whose directory has another name through its package.json', async () => {
    const text = await reader.read('@checkstack/notification-slack-backend', 'v0.30.0');

    expect(text).toContain('Slack notifications');
    expect(fake.requests.some((r) => r.path.includes('node_modules'))).toBe(false);
  });

  it('answers null for an unknown package, a package without changelog and an unknown tag', async () => {
    expect(await reader.read('@checkstack/does-not-exist', 'v0.30.0')).toBeNull();
    expect(await reader.read('@checkstack/tsconfig', 'v0.30.0')).toBeNull();
    expect(await reader.read('@checkstack/healthcheck-backend', 'v9.9.9')).toBeNull();
  });

  it('refuses a name that is not an npm package name', async () => {
    await expect(reader.read('../../etc/passwd', 'v0.30.0')).rejects.toBeInstanceOf(AppError);
  });

  it('maps a GitHub outage to github_unavailable and lists the tree again next time', async () => {
    fake.failNext(1, 503);

    const err = await reader.read('@checkstack/release', 'v0.30.0').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('github_unavailable');
    expect(await reader.read('@checkstack/release', 'v0.30.0')).toContain('Release 0.4.0');
    expect(treeRequests()).toHaveLength(2);
  });
});
