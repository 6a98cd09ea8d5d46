// What the upgrade, rollback and log-watch jobs need from a container platform; Docker and Kubernetes implement it.
import type { DrillInstanceOutcome, DrillInstanceRequest } from './docker-drill.js';

/** Pull progress, summed over layers; reported often, so the caller coalesces before showing it. */
export interface PullProgress {
  layersTotal: number;
  layersDone: number;
  /** Bytes downloaded so far over the layers whose size is known. */
  bytesCurrent: number;
  /** Sum of the sizes known so far (grows as layers start downloading). */
  bytesTotal: number;
  /**
   * The platform's latest status line, e.g. `Downloading` or `Pull complete`; or the deployer's own while it waits
   * for an engine that stopped answering: `Docker engine unreachable: connect ECONNREFUSED /var/run/docker.sock; retrying in 4 s`.
   */
  status: string;
}

/** The running Checkstack as the platform sees it. */
export interface DeployedInstance {
  /**
   * The platform's id for what runs: the Docker container id; on Kubernetes the Deployment's uid and its pod template
   * (`<uid>/<pod-template-hash>`), never a pod, so a rescheduled pod or another replica is the same instance.
   */
  id: string;
  /** Its name (container name, deployment name): what operators type. */
  name: string;
  /** The image reference it was created with, e.g. `ghcr.io/enyineer/checkstack:0.140.0`. */
  image: string;
  /** The tag of `image` (the Checkstack version), or null for a digest or an untagged reference. */
  tag: string | null;
  /** The image's content id, which tells two builds of the same tag apart. */
  imageId: string;
  running: boolean;
  restartCount: number;
  startedAt: string | null;
  /** SHA-256 of `ENCRYPTION_MASTER_KEY` in its environment, or null when it has none. Never the value. */
  encryptionKeyFingerprint: string | null;
}

/** What the post-flight watches: did it restart, did it exit, why. */
export interface RuntimeState {
  running: boolean;
  restarting: boolean;
  restartCount: number;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  /** The platform's own error text (e.g. a failed start), or null. */
  error: string | null;
  /** The platform's health status when the image declares a health check (`healthy`, `unhealthy`, `starting`). */
  health: string | null;
}

export interface ReplaceRequest {
  /** The full reference of the new image, already pulled: `ghcr.io/enyineer/checkstack:0.141.0`. */
  image: string;
  /** The new version; names the kept previous instance (`<name>-pre-<version>` on Docker). */
  version: string;
  /** The fingerprint recorded at pre-flight; the replace aborts before stopping anything when it differs. */
  expectedEncryptionKeyFingerprint?: string | null;
  /** Who asked for it and who approved, with the version; Kubernetes records it as `kubernetes.io/change-cause`. */
  changeCause?: string;
  /** Rollout progress (`0 of 1 updated replicas are available`); Kubernetes only, reported often: the caller coalesces. */
  onProgress?: (text: string) => void;
  /**
   * The bot shutting down: stops the wait for a Kubernetes rollout (the rollout itself goes on; a later run finds the
   * image patched and only waits). Docker's replace is short and always finishes.
   */
  signal?: AbortSignal;
}

export type ReplaceStep = 'stopped' | 'renamed' | 'created' | 'started' | 'restored';

export interface ReplaceResult {
  instance: DeployedInstance;
  /** The image the previous instance ran (for a later rollback). */
  previousImage: string;
  /** Where the previous instance is kept, or null when the platform keeps none. */
  keptAs: string | null;
  /** True when a previous run had already finished the replace and nothing was changed now. */
  alreadyDone: boolean;
}

export interface RollbackRequest {
  /** The version being rolled back (the one `replace` installed). */
  fromVersion: string;
  /** The image to recreate from when the kept previous instance is gone. */
  previousImage: string;
  /** As in `ReplaceRequest`: recorded as `kubernetes.io/change-cause`. */
  changeCause?: string;
  /** As in `ReplaceRequest`: rollout progress, Kubernetes only. */
  onProgress?: (text: string) => void;
  /** As in `ReplaceRequest`: stops the wait for a Kubernetes rollout. */
  signal?: AbortSignal;
  /**
   * Restore and roll back: runs once the rolled-back version is stopped and before the previous one starts (the
   * live database restore). When it throws, the rolled-back version runs again and the rollback fails with its
   * reason. Only where `rollbackRunsBeforeStart` (Docker): Kubernetes refuses a rollback that has it.
   */
  beforeStart?: () => Promise<void>;
}

export interface RollbackResult {
  instance: DeployedInstance;
  /** `kept`: the kept previous instance runs again; `recreated`: made anew from `previousImage`. */
  method: 'kept' | 'recreated';
  alreadyDone: boolean;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, as the platform stamped it. */
  timestamp: string;
  text: string;
}

/** What a platform calls the things it runs and keeps: `src/slack/` builds sentences around them, nobody branches on them. */
export interface DeployerNouns {
  /** The platform as operators name it. */
  platform: 'docker' | 'kubernetes';
  /** What runs Checkstack. */
  instance: 'container' | 'deployment';
  /** What `replace` keeps for a fast rollback (`ReplaceResult.keptAs`). */
  kept: 'container' | 'ReplicaSet';
}

/** Where the platforms differ, as facts: callers read these instead of asking which platform a target is on. */
export interface PlatformFacts {
  readonly nouns: DeployerNouns;
  /** False when the platform pulls the image itself as the new instance starts (Kubernetes): `pull` does nothing. */
  readonly pullsImage: boolean;
  /** True when `rollback` runs `RollbackRequest.beforeStart` (Docker: the bot stops and starts the container itself). */
  readonly rollbackRunsBeforeStart: boolean;
}

export const DOCKER_FACTS: PlatformFacts = {
  nouns: { platform: 'docker', instance: 'container', kept: 'container' },
  pullsImage: true,
  rollbackRunsBeforeStart: true,
};

/** Here, not in kubernetes.ts: the deployer that stands in until `@kubernetes/client-node` is loaded needs them. */
export const KUBERNETES_FACTS: PlatformFacts = {
  nouns: { platform: 'kubernetes', instance: 'deployment', kept: 'ReplicaSet' },
  pullsImage: false,
  rollbackRunsBeforeStart: false,
};

export interface Deployer extends PlatformFacts {
  /** Finds the target; `not_found` when it does not exist. */
  describe(): Promise<DeployedInstance>;
  /**
   * Pulls an image; `image_pull_failed` with the registry's reason when it cannot. A pull the engine breaks off
   * (a restarting dockerd) is started again while the engine comes back; `signal` stops it at once.
   */
  pull(image: string, onProgress?: (progress: PullProgress) => void, signal?: AbortSignal): Promise<void>;
  /**
   * Replaces the running instance with one on the new image, keeping the previous one for a fast rollback.
   * Safe to call again after a crash. On failure the previous instance runs again and `recreate_failed` says why.
   */
  replace(request: ReplaceRequest, onStep?: (step: ReplaceStep) => void): Promise<ReplaceResult>;
  /** Brings back the previous version: the kept instance when it exists, otherwise a new one on `previousImage`. */
  rollback(request: RollbackRequest): Promise<RollbackResult>;
  /** Retention: removes what `replace` and `rollback` kept for `version`. True when something was removed. */
  removeKept(version: string): Promise<boolean>;
  /**
   * Calls `onLine` for each log line since `since`, following until `signal` aborts or the instance stops.
   * Lines are split per stream (stdout/stderr) and carry the platform's timestamp.
   */
  followLogs(since: Date, onLine: (line: LogLine) => void, signal: AbortSignal): Promise<void>;
  state(): Promise<RuntimeState>;
  /**
   * What only the platform can tell the pre-flight checklist, as sentences to show (empty when all is well):
   * Kubernetes warns about a rolling update over migrations and a literal encryption key. Throws `not_found` like `describe`.
   */
  preflightWarnings?(context: { migrations: boolean }): Promise<string[]>;
  /**
   * Restore drills (Docker only): a throwaway instance of `request.version` on the drill database, with the live
   * instance's settings, proved (init line, 10 s up, ready where answered) and removed in every case.
   */
  startDrillInstance?(request: DrillInstanceRequest): Promise<DrillInstanceOutcome>;
  /** Removes the throwaway instances of drills of `target` that a crashed bot left; returns their names. */
  sweepDrillInstances?(target: string): Promise<string[]>;
  /**
   * The registry digests (`sha256:…`) of the image the instance runs, for matching a floating tag such as `latest`
   * to its version: Docker's image RepoDigests, Kubernetes' pod status imageID. Empty when the platform does not know.
   */
  runningImageDigests?(): Promise<string[]>;
}

/** The `sha256:…` digests in image references such as `repo@sha256:…` or `docker-pullable://repo@sha256:…`. */
export function digestsOf(references: readonly string[]): string[] {
  const out = new Set<string>();
  for (const ref of references) {
    const m = ref.match(/@(sha256:[0-9a-f]{64})$/);
    if (m) out.add(m[1]!);
  }
  return [...out];
}
