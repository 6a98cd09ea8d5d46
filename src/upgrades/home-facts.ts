// What the Home tab shows, gathered per target through functions passed in: the status of each target (version,
// newest release, how far behind, the upgrade in flight and the last one) and whether the viewer is an approver.
import { isFloatingTag } from '../domain/adoption.js';
import type { Logger } from '../logger.js';
import type { HomeTargetFacts, HomeUpgradeFacts, HomeViewFacts } from '../slack/app-home.js';

/** What `statusOf(target)` answers: the shape of `/checkstack status`'s facts that the Home tab reads. */
export interface TargetStatusFacts {
  target: string;
  current: { apiVersion: string | null; imageTag: string | null; reachable: boolean };
  /** A floating tag's exact version, when the status service identified it (by /api/about or the image digest). */
  floating?: { kind: string; version?: string } | null;
  latest: { version: string; htmlUrl: string } | null;
  behind: { minors: number; patches: number } | null;
  active: UpgradeFacts | null;
  last: UpgradeFacts | null;
}

type UpgradeFacts = Omit<HomeUpgradeFacts, 'link'> & { channelId: string; messageTs: string | null; teamDomain: string | null };

export interface HomeFactsDeps {
  targets(): readonly string[];
  statusOf(target: string): Promise<TargetStatusFacts>;
  /** Permalink of an upgrade's thread. */
  linkOf(upgrade: UpgradeFacts): string | undefined;
  approvers(): Promise<ReadonlySet<string>>;
  logger: Logger;
  now(): Date;
}

export function createHomeFacts(deps: HomeFactsDeps) {
  const upgrade = (u: UpgradeFacts | null): HomeUpgradeFacts | null =>
    u ? { kind: u.kind, fromVersion: u.fromVersion, toVersion: u.toVersion, status: u.status, outcome: u.outcome ?? null, link: deps.linkOf(u) } : null;

  async function ofTarget(target: string): Promise<HomeTargetFacts> {
    try {
      const s = await deps.statusOf(target);
      return {
        target,
        status: {
          tag: s.current.imageTag,
          version: (s.floating?.kind === 'identified' ? s.floating.version : undefined) ?? s.current.apiVersion ?? (s.current.imageTag && !isFloatingTag(s.current.imageTag) ? s.current.imageTag : null),
          reachable: s.current.reachable,
          latest: s.latest ? { version: s.latest.version, htmlUrl: s.latest.htmlUrl } : null,
          behind: s.behind,
          active: upgrade(s.active),
          last: upgrade(s.last),
        },
      };
    } catch (err) {
      // One target that cannot be read must not blank the others.
      deps.logger.warn({ err, target }, 'home tab: could not read the status of a target');
      return { target, status: null };
    }
  }

  return {
    async forViewer(userId: string): Promise<HomeViewFacts> {
      const [targets, approvers] = await Promise.all([Promise.all(deps.targets().map(ofTarget)), deps.approvers()]);
      return { targets, viewerIsApprover: approvers.has(userId), now: deps.now() };
    },
  };
}

export type HomeFacts = ReturnType<typeof createHomeFacts>;
