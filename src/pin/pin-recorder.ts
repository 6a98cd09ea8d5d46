// The pin record of what runs: the pinned tag committed (or proposed in a pull request, or written to a
// mounted compose file) before the container changes, and reverted when the upgrade is undone.
import type { TargetConfig } from '../config.js';
import type { PinRecord } from '../db/upgrade-store.js';
import { AppError } from '../errors.js';
import { pullRequestEndedText } from '../slack/step-words.js';
import type { GithubPinRecord } from './pin-record-github.js';
import { filePinsTag, pinTagInFile } from './pin-record-file.js';

export interface PinChange {
  target: TargetConfig;
  fromVersion: string;
  toVersion: string;
  upgradeId: string;
  requester: string;
  approvers: string[];
}

export interface PinRecorderDeps {
  github: GithubPinRecord;
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** How often a pull request's state is read while waiting for its merge. */
  mergePollMs?: number;
}

function commitMessage(change: PinChange): string {
  return [
    `Upgrade Checkstack ${change.target.name} to ${change.toVersion}`,
    '',
    `From ${change.fromVersion} to ${change.toVersion}, by checkstack-chatops (upgrade ${change.upgradeId}).`,
    `Requested by Slack user ${change.requester}; approved by ${change.approvers.join(', ') || 'nobody'}.`,
  ].join('\n');
}

export function createPinRecorder(deps: PinRecorderDeps) {
  const mergePollMs = deps.mergePollMs ?? 10_000;

  /**
   * Records the new tag; resolves once it is the canonical record (committed, merged, or written).
   * `onPullRequest` is told about a pull request as soon as it is open, so the thread can link it.
   */
  async function record(
    change: PinChange,
    options: {
      existing: PinRecord | null;
      signal?: AbortSignal;
      /** Told as soon as the pull request is open: the caller records it (a restarted job reuses it) and links it. */
      onPullRequest?(pullRequest: PinRecord & { kind: 'pull_request' }): Promise<void>;
      /** Asked between two reads of the pull request: someone cancelled the upgrade while it waited. */
      isCancelled?(): Promise<boolean>;
    },
  ): Promise<PinRecord | null> {
    const pin = change.target.pin;
    if (!pin) return null;
    const image = change.target.image;
    if (pin.file) {
      await pinTagInFile(pin.file, image, change.fromVersion, change.toVersion);
      return { kind: 'file', path: pin.file };
    }
    const gh = pin.github!;
    if (gh.mode === 'commit') {
      const { commitSha } = await deps.github.commitTag({ repo: gh.repo, path: gh.path, branch: gh.branch, image, fromVersion: change.fromVersion, toVersion: change.toVersion, message: commitMessage(change) });
      return { kind: 'commit', repo: gh.repo, path: gh.path, branch: gh.branch, commitSha };
    }
    let pr = options.existing?.kind === 'pull_request' ? options.existing : null;
    if (!pr) {
      const opened = await deps.github.openPullRequest({
        repo: gh.repo,
        path: gh.path,
        baseBranch: gh.branch,
        headBranch: `checkstack-chatops/${change.target.name}-${change.toVersion}`,
        image,
        fromVersion: change.fromVersion,
        toVersion: change.toVersion,
        title: `Upgrade Checkstack ${change.target.name} to ${change.toVersion}`,
        body: `${commitMessage(change)}\n\nThe bot waits for this pull request to be merged before it touches the container.`,
      });
      pr = { kind: 'pull_request', repo: gh.repo, path: gh.path, branch: gh.branch, number: opened.number, url: opened.url };
      await options.onPullRequest?.(pr);
    }
    const deadline = deps.now().getTime() + gh.mergeTimeout * 1000;
    for (;;) {
      const state = await deps.github.pullRequestState(gh.repo, pr.number);
      if (state === 'merged') return { ...pr, merged: true };
      if (state === 'closed') throw new AppError('git_record_failed', pullRequestEndedText(pr, { kind: 'closed' }), { pinRecord: pr });
      if (await options.isCancelled?.()) {
        await deps.github.closePullRequest(gh.repo, pr.number, 'Closed by checkstack-chatops: the upgrade was cancelled in Slack before this was merged.');
        throw new AppError('request_not_active', pullRequestEndedText(pr, { kind: 'cancelled' }), {
          pinRecord: { ...pr, reverted: true },
          cancelled: true,
        });
      }
      if (deps.now().getTime() >= deadline) {
        await deps.github.closePullRequest(gh.repo, pr.number, 'Closed by checkstack-chatops: it was not merged within the allowed time, so the upgrade was abandoned.');
        throw new AppError('git_record_failed', pullRequestEndedText(pr, { kind: 'timed_out', mergeTimeoutSeconds: gh.mergeTimeout }), { pinRecord: { ...pr, reverted: true } });
      }
      await deps.sleep(mergePollMs, options.signal);
    }
  }

  /** Puts the previous tag back in the record: a revert commit, a closed pull request, or the file rewritten. */
  async function revert(record: PinRecord, change: PinChange, reason: string): Promise<PinRecord> {
    if (record.reverted) return record;
    const image = change.target.image;
    if (record.kind === 'file') {
      await pinTagInFile(record.path, image, change.toVersion, change.fromVersion);
    } else if (record.kind === 'pull_request' && !record.merged) {
      await deps.github.closePullRequest(record.repo, record.number, `Closed by checkstack-chatops: ${reason}`);
    } else {
      await deps.github.revertTag({ repo: record.repo, path: record.path, branch: record.branch, image, currentVersion: change.toVersion, previousVersion: change.fromVersion, reason });
    }
    return { ...record, reverted: true };
  }

  /**
   * Adoption of a floating tag: writes the exact version that already runs in place of `floatingTag`. A pull request
   * is opened and not waited for (nothing else waits on it: the container keeps running as it is).
   */
  async function pinRunning(change: { target: TargetConfig; floatingTag: string; version: string; userId: string }): Promise<PinRecord | null> {
    const pin = change.target.pin;
    if (!pin) return null;
    const image = change.target.image;
    if (pin.file) {
      await pinTagInFile(pin.file, image, change.floatingTag, change.version);
      return { kind: 'file', path: pin.file };
    }
    const gh = pin.github!;
    const title = `Pin Checkstack ${change.target.name} to ${change.version}`;
    const message = [
      title,
      '',
      `${change.target.name} runs ${image}:${change.floatingTag}, which is ${change.version}; pinned by checkstack-chatops so a rollback has a tag to go back to.`,
      `Requested by Slack user ${change.userId}.`,
    ].join('\n');
    const input = { repo: gh.repo, path: gh.path, image, fromVersion: change.floatingTag, toVersion: change.version };
    if (gh.mode === 'commit') {
      const { commitSha } = await deps.github.commitTag({ ...input, branch: gh.branch, message });
      return { kind: 'commit', repo: gh.repo, path: gh.path, branch: gh.branch, commitSha };
    }
    const opened = await deps.github.openPullRequest({ ...input, baseBranch: gh.branch, headBranch: `checkstack-chatops/${change.target.name}-pin-${change.version}`, title, body: message });
    return { kind: 'pull_request', repo: gh.repo, path: gh.path, branch: gh.branch, number: opened.number, url: opened.url };
  }

  /** Whether the target's record pins `version` now (a merged pull request counts once it is on the branch); null without a record. */
  async function pinsVersion(target: TargetConfig, version: string): Promise<boolean | null> {
    const pin = target.pin;
    if (!pin) return null;
    if (pin.file) return filePinsTag(pin.file, target.image, version);
    const gh = pin.github!;
    return deps.github.pinsTag({ repo: gh.repo, path: gh.path, branch: gh.branch, image: target.image, version });
  }

  return { record, revert, pinRunning, pinsVersion };
}

export type PinRecorder = ReturnType<typeof createPinRecorder>;
