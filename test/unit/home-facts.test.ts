// The Home tab's facts: one target whose status cannot be read does not blank the others, the exact version of a
// floating tag comes from /api/about only, and approvers are told apart.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { createHomeFacts, type TargetStatusFacts } from '../../src/upgrades/home-facts.js';

const NOW = new Date('2026-12-04T21:00:00Z');

function status(target: string, current: Partial<TargetStatusFacts['current']> = {}): TargetStatusFacts {
  return {
    target,
    current: { apiVersion: null, imageTag: '0.25.0', reachable: true, ...current },
    latest: { version: '0.30.0', htmlUrl: 'https://github.com/enyineer/checkstack/releases/tag/v0.30.0' },
    behind: { minors: 3, patches: 0 },
    active: null,
    last: { kind: 'upgrade', fromVersion: '0.22.0', toVersion: '0.25.0', status: 'succeeded', outcome: null, channelId: 'C0OPS', messageTs: '1700000000.000100', teamDomain: 'acme' },
  };
}

function facts(statuses: Record<string, () => Promise<TargetStatusFacts>>) {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(chunk.toString()), done()) });
  const home = createHomeFacts({
    targets: () => Object.keys(statuses),
    statusOf: (target) => statuses[target]!(),
    linkOf: (u) => (u.messageTs ? `https://${u.teamDomain}.slack.com/archives/${u.channelId}/p${u.messageTs.replace('.', '')}` : undefined),
    approvers: async () => new Set(['U0APPROVER1']),
    logger: createLogger({ level: 'info', secrets: new SecretRegistry(), destination }),
    now: () => NOW,
  });
  return { home, lines };
}

describe('the Home tab facts', () => {
  it('keeps the other targets when one cannot be read, and logs which', async () => {
    const { home, lines } = facts({
      prod: async () => status('prod'),
      broken: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    });

    const result = await home.forViewer('U0MEMBER1');

    expect(result.targets.map((t) => [t.target, t.status === null])).toEqual([['prod', false], ['broken', true]]);
    expect(lines.join('')).toContain('home tab: could not read the status of a target');
    expect(result.viewerIsApprover).toBe(false);
  });

  it('takes the exact version from the status service, /api/about, or a tag that is a version, never from a floating tag', async () => {
    const { home } = facts({
      pinned: async () => status('pinned'),
      about: async () => status('about', { imageTag: 'latest', apiVersion: '0.25.0' }),
      floating: async () => status('floating', { imageTag: 'latest' }),
      digest: async () => ({ ...status('digest', { imageTag: 'latest' }), floating: { kind: 'identified', version: '0.28.0' } }),
    });

    const result = await home.forViewer('U0APPROVER1');

    expect(result.targets.map((t) => [t.status?.tag, t.status?.version])).toEqual([['0.25.0', '0.25.0'], ['latest', '0.25.0'], ['latest', null], ['latest', '0.28.0']]);
    expect(result.targets[0]!.status?.last?.link).toBe('https://acme.slack.com/archives/C0OPS/p1700000000000100');
    expect(result.viewerIsApprover).toBe(true);
    expect(result.now).toEqual(NOW);
  });
});
