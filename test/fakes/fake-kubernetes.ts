// A loopback Kubernetes API server for one namespace, with a fake Deployment controller that the test drives step by step.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  KubeConfig,
  type V1Container,
  type V1ContainerStatus,
  type V1Deployment,
  type V1EnvFromSource,
  type V1EnvVar,
  type V1Pod,
  type V1ReplicaSet,
  type V1Secret,
} from '@kubernetes/client-node';

export const REVISION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';

/** One request as RBAC sees it: `verb` on `resource` (`pods/log` for a subresource). */
export interface FakeKubernetesRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | null;
  body: unknown;
  verb: 'get' | 'list' | 'watch' | 'patch' | 'create' | 'update' | 'delete' | 'other';
  /** `deployments`, `replicasets`, `pods`, `pods/log`, `secrets`, … */
  resource: string;
  apiGroup: string;
  namespace: string | null;
  name: string | null;
  status: number;
}

export interface FakeKubernetesOptions {
  namespace?: string;
  deployment?: string;
  container?: string;
  /** The image the Deployment runs now. */
  image: string;
  /** Images of earlier revisions, oldest first: each becomes a ReplicaSet scaled to 0. */
  history?: string[];
  replicas?: number;
  strategy?: 'Recreate' | 'RollingUpdate';
  /** `maxSurge` of a RollingUpdate strategy (Kubernetes' default is 25%). */
  maxSurge?: number | string;
  env?: V1EnvVar[];
  envFrom?: V1EnvFromSource[];
  /** Secrets by name, with their values in clear text (the fake encodes them). */
  secrets?: Record<string, Record<string, string>>;
  /** Advance the rollout by one step before answering every GET of the Deployment. */
  autoRollout?: boolean;
  /**
   * What each Checkstack container logs once it runs, as the kubelet serves it on `pods/log`; default: the start and
   * `Checkstack Core initialized`. `[]` leaves the log to the test (`appendLog`), to say when init finishes.
   */
  startupLog?: string[];
  /**
   * The rules of the Role bound to the token, in this namespace, as in a Role manifest. When set, the fake enforces
   * them as the API server's RBAC authorizer does (403 Forbidden naming the verb and resource) and answers
   * SelfSubjectAccessReviews from them. Unset: everything is allowed, as for a cluster admin.
   */
  role?: RbacRule[];
}

/** One rule of a Role (`rules[]` in role.yaml). */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function ruleAllows(rules: RbacRule[], request: { verb: string; apiGroup: string; resource: string; name: string | null }): boolean {
  return rules.some(
    (rule) =>
      (rule.apiGroups.includes(request.apiGroup) || rule.apiGroups.includes('*')) &&
      (rule.resources.includes(request.resource) || rule.resources.includes('*')) &&
      (rule.verbs.includes(request.verb) || rule.verbs.includes('*')) &&
      // resourceNames limit a rule to named objects: a list, or a request without a name, never matches it.
      (!rule.resourceNames?.length || (request.name !== null && rule.resourceNames.includes(request.name))),
  );
}

/** What Checkstack logs as it boots; the bot waits for the last line before it asks the new pod anything. */
export const CHECKSTACK_STARTUP_LOG = ['info: 🚀 Starting Checkstack Core...', 'info: ✅ Checkstack Core initialized.'];

/** What the fake controller tells `onRollout`: a rollout of `image` began, or all its new pods became ready. */
export interface FakeRolloutEvent {
  phase: 'started' | 'ready';
  image: string;
  /** The rollout's pods: those that start (`started`, none yet) or run now (`ready`). */
  pods: string[];
}

/** How the pods of the next rollout behave. */
type RolloutOutcome = { kind: 'ready' } | { kind: 'stall'; reason: string } | { kind: 'crashloop' } | { kind: 'imagepull' };

interface Rollout {
  rs: V1ReplicaSet;
  phase: 'observed' | 'created' | 'available';
  outcome: RolloutOutcome;
}

interface PodLog {
  lines: Array<{ timestamp: string; text: string }>;
  followers: Set<{ res: ServerResponse; timestamps: boolean; sinceMs: number }>;
}

const LABEL_APP = 'app.kubernetes.io/name';

export class FakeKubernetes {
  readonly token = `fake-token-${randomUUID()}`;
  readonly namespace: string;
  readonly deploymentName: string;
  readonly containerName: string;
  readonly requests: FakeKubernetesRequest[] = [];
  autoRollout: boolean;
  /** Called as rollouts start and finish, so a test can make the fake Checkstack follow the image that runs. */
  onRollout: ((event: FakeRolloutEvent) => void) | null = null;
  deployment: V1Deployment;
  replicaSets: V1ReplicaSet[] = [];
  pods: V1Pod[] = [];
  readonly secrets = new Map<string, V1Secret>();
  /** Pods whose container crashes again on every controller step. */
  private readonly crashing = new Set<string>();
  private readonly logs = new Map<string, PodLog>();
  private rollout: Rollout | null = null;
  private armed: RolloutOutcome | null = null;
  private clock = Date.now() - 3_600_000;
  private readonly sockets = new Set<Socket>();
  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) this.status(res, 500, 'InternalError', err instanceof Error ? err.message : String(err));
    });
  });
  url = '';

  private constructor(private readonly options: FakeKubernetesOptions) {
    this.namespace = options.namespace ?? 'checkstack';
    this.deploymentName = options.deployment ?? 'checkstack';
    this.containerName = options.container ?? 'checkstack';
    this.autoRollout = options.autoRollout ?? false;
    for (const [name, values] of Object.entries(options.secrets ?? {})) this.putSecret(name, values);
    const replicas = options.replicas ?? 1;
    this.deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: this.deploymentName,
        namespace: this.namespace,
        uid: randomUUID(),
        generation: 1,
        labels: { [LABEL_APP]: this.deploymentName },
        annotations: {},
        creationTimestamp: this.nextTime(),
      },
      spec: {
        replicas,
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
        selector: { matchLabels: { [LABEL_APP]: this.deploymentName } },
        strategy:
          options.strategy === 'Recreate'
            ? { type: 'Recreate' }
            : { type: 'RollingUpdate', rollingUpdate: { maxSurge: options.maxSurge ?? '25%', maxUnavailable: '25%' } },
        template: {
          metadata: { labels: { [LABEL_APP]: this.deploymentName } },
          spec: {
            containers: [
              {
                name: this.containerName,
                image: options.image,
                ports: [{ containerPort: 3000 }],
                env: options.env ?? [],
                envFrom: options.envFrom ?? [],
              },
            ],
          },
        },
      },
      status: { observedGeneration: 1 },
    };
    const images = [...(options.history ?? []), options.image];
    images.forEach((image, index) => {
      const rs = this.createReplicaSet(image, index + 1);
      if (index === images.length - 1) {
        rs.spec!.replicas = replicas;
        for (let i = 0; i < replicas; i += 1) this.pods.push(this.createPod(rs, 'running'));
      }
    });
    this.deployment.metadata!.annotations![REVISION] = String(images.length);
    this.recomputeStatus();
    this.setCondition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${this.replicaSets.at(-1)!.metadata!.name}" has successfully progressed.`);
  }

  static async start(options: FakeKubernetesOptions): Promise<FakeKubernetes> {
    const fake = new FakeKubernetes(options);
    fake.server.on('connection', (socket: Socket) => {
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    for (const log of this.logs.values()) for (const follower of log.followers) follower.res.end();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A kubeconfig file's text pointing at this server, with a bearer token. */
  kubeconfigYaml(token = this.token): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake`,
      `  cluster: { server: "${this.url}", insecure-skip-tls-verify: true }`,
      'users:',
      `- name: bot`,
      `  user: { token: "${token}" }`,
      'contexts:',
      `- name: fake`,
      `  context: { cluster: fake, user: bot, namespace: ${this.namespace} }`,
      'current-context: fake',
      '',
    ].join('\n');
  }

  // ---- what tests arrange and inspect -------------------------------------------------------------------------------

  putSecret(name: string, values: Record<string, string>): void {
    const data = Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')]));
    this.secrets.set(name, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: this.namespace, uid: randomUUID() }, type: 'Opaque', data });
  }

  container(): V1Container {
    return this.deployment.spec!.template.spec!.containers.find((c) => c.name === this.containerName)!;
  }

  /** Pods of the Deployment, newest first. */
  livePods(): V1Pod[] {
    return [...this.pods].sort((a, b) => b.metadata!.creationTimestamp!.getTime() - a.metadata!.creationTimestamp!.getTime());
  }

  requestsFor(verb: FakeKubernetesRequest['verb'], resource: string): FakeKubernetesRequest[] {
    return this.requests.filter((request) => request.verb === verb && request.resource === resource);
  }

  /** The next rollout's pods never become ready, and the controller reports `reason` (e.g. `ProgressDeadlineExceeded`). */
  stallWith(reason: string): void {
    this.arm({ kind: 'stall', reason });
  }

  /** The next rollout's new container exits right after starting, again and again (CrashLoopBackOff). */
  crashLoopNewPod(): void {
    this.arm({ kind: 'crashloop' });
  }

  /** The next rollout's image cannot be pulled (ErrImagePull, then ImagePullBackOff). */
  imagePullBackOff(): void {
    this.arm({ kind: 'imagepull' });
  }

  /** The running pod's container starts crashing now; every later controller step adds a restart. */
  crashLoopCurrentPod(): void {
    const pod = this.livePods()[0]!;
    this.crashing.add(pod.metadata!.name!);
    this.crash(pod);
    this.recomputeStatus();
  }

  /**
   * A pod goes away and its ReplicaSet makes another, as after a node drain or an eviction: a new name, the same
   * template, running and ready at once. Default: the newest pod.
   */
  replacePod(name: string = this.livePods()[0]!.metadata!.name!): V1Pod {
    const old = this.pods.find((pod) => pod.metadata!.name === name);
    if (!old) throw new Error(`fake-kubernetes: no pod "${name}" to replace`);
    const rs = this.replicaSets.find((candidate) => candidate.metadata!.uid === ownerUid(old))!;
    this.endLogs(name);
    this.pods = this.pods.filter((pod) => pod !== old);
    const pod = this.createPod(rs, 'running');
    this.pods.push(pod);
    this.recomputeStatus();
    return pod;
  }

  /** A pod's readiness probe starts failing (`false`) or passes again (`true`); its container keeps running. */
  setPodReady(name: string, ready: boolean): void {
    const pod = this.pods.find((candidate) => candidate.metadata!.name === name);
    if (!pod) throw new Error(`fake-kubernetes: no pod "${name}"`);
    this.containerStatusOf(pod).ready = ready;
    pod.status!.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
    this.recomputeStatus();
  }

  /** One step of the Deployment controller and the kubelet. */
  advanceRollout(): void {
    const generation = this.deployment.metadata!.generation!;
    if ((this.deployment.status!.observedGeneration ?? 0) < generation) {
      this.observe();
      return;
    }
    for (const pod of this.pods) if (this.crashing.has(pod.metadata!.name!)) this.crash(pod);
    const rollout = this.rollout;
    if (!rollout) {
      this.recomputeStatus();
      return;
    }
    const replicas = this.deployment.spec!.replicas ?? 1;
    if (rollout.phase === 'observed') {
      if (this.deployment.spec!.strategy!.type === 'Recreate') this.scaleDownOld(rollout.rs);
      rollout.rs.spec!.replicas = replicas;
      const initial = rollout.outcome.kind === 'imagepull' ? 'errimagepull' : 'creating';
      // A reused ReplicaSet (a rollback during a rolling update) may still have its pods.
      for (let i = this.podsOf(rollout.rs).length; i < replicas; i += 1) this.pods.push(this.createPod(rollout.rs, initial));
      rollout.phase = 'created';
      this.setCondition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rollout.rs.metadata!.name}" is progressing.`);
    } else if (rollout.phase === 'created') {
      const newPods = this.podsOf(rollout.rs);
      switch (rollout.outcome.kind) {
        case 'ready':
          for (const pod of newPods) this.makeRunning(pod);
          rollout.phase = 'available';
          this.onRollout?.({ phase: 'ready', image: this.templateImage(rollout.rs), pods: newPods.map((pod) => pod.metadata!.name!) });
          break;
        case 'imagepull':
          for (const pod of newPods) this.setWaiting(pod, 'ImagePullBackOff', `Back-off pulling image "${this.imageOf(pod)}"`);
          break;
        case 'crashloop':
          for (const pod of newPods) {
            this.crashing.add(pod.metadata!.name!);
            this.crash(pod);
          }
          break;
        case 'stall':
          this.setCondition('Progressing', 'False', rollout.outcome.reason, `ReplicaSet "${rollout.rs.metadata!.name}" has timed out progressing.`);
          break;
      }
    } else {
      this.scaleDownOld(rollout.rs);
      this.setCondition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rollout.rs.metadata!.name}" has successfully progressed.`);
      this.rollout = null;
    }
    this.recomputeStatus();
  }

  /** Runs the controller until the current rollout is complete (or stuck). */
  finishRollout(maxSteps = 10): void {
    for (let i = 0; i < maxSteps && (this.rollout || this.deployment.status!.observedGeneration! < this.deployment.metadata!.generation!); i += 1) {
      this.advanceRollout();
    }
  }

  appendLog(podName: string, text: string, at: Date = new Date()): void {
    const log = this.podLog(podName);
    const line = { timestamp: nanoTimestamp(at), text };
    log.lines.push(line);
    for (const follower of log.followers) {
      if (at.getTime() >= follower.sinceMs) follower.res.write(formatLine(line, follower.timestamps));
    }
  }

  /** The container stops: every follow stream of the pod ends. */
  endLogs(podName: string): void {
    const log = this.podLog(podName);
    for (const follower of log.followers) follower.res.end();
    log.followers.clear();
  }

  followerCount(podName: string): number {
    return this.podLog(podName).followers.size;
  }

  // ---- the fake controller ------------------------------------------------------------------------------------------

  private arm(outcome: RolloutOutcome): void {
    if (this.rollout) this.rollout.outcome = outcome;
    else this.armed = outcome;
  }

  private observe(): void {
    const template = this.deployment.spec!.template;
    const image = this.container().image!;
    const nextRevision = Math.max(0, ...this.replicaSets.map(revisionOf)) + 1;
    // A template seen before (a rollback) reuses its ReplicaSet with a new revision, as the real controller does.
    let rs = this.replicaSets.find((candidate) => templateKey(candidate.spec!.template!) === templateKey(template));
    if (rs) rs.metadata!.annotations![REVISION] = String(nextRevision);
    else rs = this.createReplicaSet(image, nextRevision);
    const cause = this.deployment.metadata!.annotations?.[CHANGE_CAUSE];
    if (cause) rs.metadata!.annotations![CHANGE_CAUSE] = cause;
    this.deployment.metadata!.annotations![REVISION] = String(nextRevision);
    this.deployment.status!.observedGeneration = this.deployment.metadata!.generation;
    this.rollout = { rs, phase: 'observed', outcome: this.armed ?? { kind: 'ready' } };
    this.armed = null;
    this.setCondition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${rs.metadata!.name}"`);
    this.recomputeStatus();
    this.onRollout?.({ phase: 'started', image, pods: [] });
  }

  private createReplicaSet(image: string, revision: number): V1ReplicaSet {
    const template = structuredClone(this.deployment.spec!.template);
    template.spec!.containers.find((c) => c.name === this.containerName)!.image = image;
    const hash = createHash('sha256').update(templateKey(template)).digest('hex').slice(0, 10);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, 'pod-template-hash': hash } };
    const rs: V1ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${this.deploymentName}-${hash}`,
        namespace: this.namespace,
        uid: randomUUID(),
        labels: { ...template.metadata.labels },
        annotations: { [REVISION]: String(revision) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: this.deploymentName, uid: this.deployment.metadata!.uid!, controller: true }],
        creationTimestamp: this.nextTime(),
      },
      spec: { replicas: 0, selector: { matchLabels: { ...template.metadata.labels } }, template },
    };
    this.replicaSets.push(rs);
    return rs;
  }

  private createPod(rs: V1ReplicaSet, initial: 'running' | 'creating' | 'errimagepull'): V1Pod {
    const template = rs.spec!.template!;
    const name = `${rs.metadata!.name}-${randomUUID().slice(0, 5)}`;
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: this.namespace,
        uid: randomUUID(),
        labels: { ...template.metadata?.labels },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata!.name!, uid: rs.metadata!.uid!, controller: true }],
        creationTimestamp: this.nextTime(),
      },
      spec: structuredClone(template.spec!),
      status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [] },
    };
    const image = this.imageOf(pod);
    pod.status!.containerStatuses = [
      { name: this.containerName, image, imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
    ];
    if (initial === 'running') this.makeRunning(pod);
    if (initial === 'errimagepull') {
      this.setWaiting(pod, 'ErrImagePull', `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`);
    }
    return pod;
  }

  private makeRunning(pod: V1Pod): void {
    const status = this.containerStatusOf(pod);
    const image = this.imageOf(pod);
    status.imageID = `${image.replace(/:[^:/]+$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}`;
    status.state = { running: { startedAt: this.nextTime() } };
    status.ready = true;
    status.started = true;
    pod.status!.phase = 'Running';
    pod.status!.startTime = pod.metadata!.creationTimestamp;
    pod.status!.conditions = [{ type: 'Ready', status: 'True' }];
    for (const text of this.options.startupLog ?? CHECKSTACK_STARTUP_LOG) this.appendLog(pod.metadata!.name!, text);
  }

  private setWaiting(pod: V1Pod, reason: string, message: string): void {
    const status = this.containerStatusOf(pod);
    status.state = { waiting: { reason, message } };
    status.ready = false;
    pod.status!.conditions = [{ type: 'Ready', status: 'False' }];
  }

  private crash(pod: V1Pod): void {
    const status = this.containerStatusOf(pod);
    const finishedAt = this.nextTime();
    status.restartCount += 1;
    status.lastState = { terminated: { exitCode: 1, reason: 'Error', startedAt: finishedAt, finishedAt } };
    status.state = {
      waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${this.containerName} pod=${pod.metadata!.name}` },
    };
    status.ready = false;
    status.started = false;
    pod.status!.phase = 'Running';
    pod.status!.conditions = [{ type: 'Ready', status: 'False' }];
  }

  private scaleDownOld(current: V1ReplicaSet): void {
    for (const rs of this.replicaSets) if (rs !== current) rs.spec!.replicas = 0;
    const old = this.pods.filter((pod) => ownerUid(pod) !== current.metadata!.uid);
    for (const pod of old) this.endLogs(pod.metadata!.name!);
    this.pods = this.pods.filter((pod) => ownerUid(pod) === current.metadata!.uid);
  }

  private recomputeStatus(): void {
    const status = this.deployment.status!;
    const newest = this.rollout?.rs ?? this.replicaSets.find((rs) => templateKey(rs.spec!.template!) === templateKey(this.deployment.spec!.template));
    const ready = (pod: V1Pod) => pod.status!.conditions!.some((c) => c.type === 'Ready' && c.status === 'True');
    status.replicas = this.pods.length;
    status.updatedReplicas = newest ? this.podsOf(newest).length : 0;
    status.readyReplicas = this.pods.filter(ready).length;
    status.availableReplicas = status.readyReplicas;
    status.unavailableReplicas = Math.max(0, (this.deployment.spec!.replicas ?? 1) - status.availableReplicas);
    for (const rs of this.replicaSets) {
      rs.status = { replicas: this.podsOf(rs).length, readyReplicas: this.podsOf(rs).filter(ready).length, availableReplicas: this.podsOf(rs).filter(ready).length };
    }
    this.setCondition(
      'Available',
      status.availableReplicas > 0 ? 'True' : 'False',
      status.availableReplicas > 0 ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      status.availableReplicas > 0 ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
    );
  }

  private setCondition(type: string, value: string, reason: string, message: string): void {
    const conditions = (this.deployment.status!.conditions ??= []);
    const existing = conditions.find((condition) => condition.type === type);
    const next = { type, status: value, reason, message, lastUpdateTime: this.nextTime(), lastTransitionTime: this.nextTime() };
    if (existing) Object.assign(existing, next);
    else conditions.push(next);
  }

  private podsOf(rs: V1ReplicaSet): V1Pod[] {
    return this.pods.filter((pod) => ownerUid(pod) === rs.metadata!.uid);
  }

  private containerStatusOf(pod: V1Pod): V1ContainerStatus {
    return pod.status!.containerStatuses!.find((s) => s.name === this.containerName)!;
  }

  private templateImage(rs: V1ReplicaSet): string {
    return rs.spec!.template!.spec!.containers.find((c) => c.name === this.containerName)!.image!;
  }

  private imageOf(pod: V1Pod): string {
    return pod.spec!.containers.find((c) => c.name === this.containerName)!.image!;
  }

  private nextTime(): Date {
    this.clock += 1_000;
    return new Date(Math.min(this.clock, Date.now()));
  }

  private podLog(podName: string): PodLog {
    let log = this.logs.get(podName);
    if (!log) {
      log = { lines: [], followers: new Set() };
      this.logs.set(podName, log);
    }
    return log;
  }

  // ---- the API server -----------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const rawBody = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim() ?? null;
    const route = routeOf(req.method ?? 'GET', url.pathname, query);
    const record: FakeKubernetesRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      contentType,
      body: rawBody ? safeJson(rawBody) : undefined,
      ...route,
      status: 0,
    };
    this.requests.push(record);
    const answer = (status: number) => (record.status = status);

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      answer(401);
      return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      answer(201);
      return this.accessReview(res, record.body);
    }
    if (route.namespace !== this.namespace) {
      answer(403);
      return this.status(res, 403, 'Forbidden', `the fake serves namespace "${this.namespace}" only`);
    }
    const rules = this.options.role;
    if (rules && !ruleAllows(rules, route)) {
      answer(403);
      const group = route.apiGroup ? `.${route.apiGroup}` : '';
      const [resource, sub] = route.resource.split('/');
      return this.status(
        res,
        403,
        'Forbidden',
        `${resource}${group}${route.name ? ` "${route.name}"` : ''} is forbidden: User "system:serviceaccount:${this.namespace}:checkstack-chatops" cannot ${route.verb} resource "${resource}"${sub ? ` with subresource "${sub}"` : ''} in API group "${route.apiGroup}" in the namespace "${this.namespace}"`,
      );
    }
    if (route.verb === 'watch') {
      answer(405);
      return this.status(res, 405, 'MethodNotAllowed', 'the fake does not serve watches');
    }

    const key = `${route.verb} ${route.resource}`;
    if (key === 'get deployments' || key === 'patch deployments' || key === 'get deployments/status') {
      if (route.name !== this.deploymentName) {
        answer(404);
        return this.status(res, 404, 'NotFound', `deployments.apps "${route.name}" not found`);
      }
      if (route.verb === 'patch') {
        const problem = this.applyPatch(contentType, rawBody);
        if (problem) {
          answer(problem.status);
          return this.status(res, problem.status, problem.reason, problem.message);
        }
      } else if (this.autoRollout) {
        this.advanceRollout();
      }
      answer(200);
      return json(res, 200, this.deployment);
    }
    if (key === 'list replicasets') {
      answer(200);
      const items = this.replicaSets.filter((rs) => matchesSelector(rs.metadata!.labels ?? {}, query.labelSelector ?? ''));
      return json(res, 200, { apiVersion: 'apps/v1', kind: 'ReplicaSetList', metadata: { resourceVersion: '1' }, items });
    }
    if (key === 'list pods') {
      answer(200);
      const items = this.pods.filter((pod) => matchesSelector(pod.metadata!.labels ?? {}, query.labelSelector ?? ''));
      return json(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items });
    }
    if (key === 'get pods' || key === 'get pods/log') {
      const pod = this.pods.find((candidate) => candidate.metadata!.name === route.name);
      if (!pod) {
        answer(404);
        return this.status(res, 404, 'NotFound', `pods "${route.name}" not found`);
      }
      answer(200);
      if (route.resource === 'pods') return json(res, 200, pod);
      return this.serveLog(req, res, pod, query);
    }
    if (key === 'get secrets') {
      const secret = this.secrets.get(route.name ?? '');
      if (!secret) {
        answer(404);
        return this.status(res, 404, 'NotFound', `secrets "${route.name}" not found`);
      }
      answer(200);
      return json(res, 200, secret);
    }
    answer(404);
    return this.status(res, 404, 'NotFound', `the fake does not serve ${req.method} ${url.pathname}`);
  }

  /** `authorization.k8s.io/v1` SelfSubjectAccessReview: may the caller do this? Answered from `role`. */
  private accessReview(res: ServerResponse, body: unknown): void {
    const review = (isObject(body) ? body : {}) as { spec?: { resourceAttributes?: Record<string, string | undefined> } };
    const attributes = review.spec?.resourceAttributes;
    if (!attributes) return this.status(res, 400, 'BadRequest', 'spec.resourceAttributes or spec.nonResourceAttributes is required');
    const resource = attributes.subresource ? `${attributes.resource ?? ''}/${attributes.subresource}` : (attributes.resource ?? '');
    const request = { verb: attributes.verb ?? '', apiGroup: attributes.group ?? '', resource, name: attributes.name || null };
    const inNamespace = attributes.namespace === this.namespace;
    const allowed = this.options.role === undefined || (inNamespace && ruleAllows(this.options.role, request));
    const reason = allowed ? `RBAC: allowed by RoleBinding "checkstack-chatops/${this.namespace}" of Role "checkstack-chatops" to ServiceAccount "checkstack-chatops/${this.namespace}"` : '';
    json(res, 201, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: review.spec,
      status: { allowed, ...(reason ? { reason } : {}) },
    });
  }

  /** A strategic merge patch merges `containers` by name; a JSON merge patch replaces the list, as on a real server. */
  private applyPatch(contentType: string | null, rawBody: string): { status: number; reason: string; message: string } | null {
    const strategic = contentType === 'application/strategic-merge-patch+json';
    if (!strategic && contentType !== 'application/merge-patch+json') {
      return { status: 415, reason: 'UnsupportedMediaType', message: `the fake does not apply ${contentType} patches` };
    }
    const patch = safeJson(rawBody);
    if (!isObject(patch)) return { status: 400, reason: 'BadRequest', message: 'the patch is not a JSON object' };
    const before = JSON.stringify(this.deployment.spec);
    const merged = mergePatch(JSON.parse(JSON.stringify(this.deployment)) as unknown, patch, strategic) as V1Deployment;
    // JSON round trips turn Dates into strings: put the server-owned fields back as they were.
    merged.metadata = { ...merged.metadata, creationTimestamp: this.deployment.metadata!.creationTimestamp, uid: this.deployment.metadata!.uid };
    merged.status = this.deployment.status;
    this.deployment = merged;
    if (JSON.stringify(merged.spec) !== before) this.deployment.metadata!.generation = (this.deployment.metadata!.generation ?? 0) + 1;
    return null;
  }

  private serveLog(req: IncomingMessage, res: ServerResponse, pod: V1Pod, query: Record<string, string>): void {
    if (query.container && query.container !== this.containerName) {
      this.status(res, 400, 'BadRequest', `container ${query.container} is not valid for pod ${pod.metadata!.name}`);
      return;
    }
    const timestamps = query.timestamps === 'true';
    const sinceMs = query.sinceTime ? Date.parse(query.sinceTime) : 0;
    const log = this.podLog(pod.metadata!.name!);
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (const line of log.lines) if (Date.parse(line.timestamp) >= sinceMs) res.write(formatLine(line, timestamps));
    if (query.follow !== 'true') {
      res.end();
      return;
    }
    const follower = { res, timestamps, sinceMs };
    log.followers.add(follower);
    req.on('close', () => log.followers.delete(follower));
    res.on('close', () => log.followers.delete(follower));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }
}

/** A KubeConfig that points the real client at the fake, as a service account with a bearer token would. */
export function kubeConfigFor(fake: FakeKubernetes, token = fake.token): KubeConfig {
  const kubeConfig = new KubeConfig();
  // client-node 1.x refuses plain http unless skipTLSVerify is set, even though there is no TLS to verify.
  kubeConfig.loadFromClusterAndUser({ name: 'fake', server: fake.url, skipTLSVerify: true }, { name: 'bot', token });
  return kubeConfig;
}

/** Maps a request to RBAC terms, as the API server's request-info resolver does. */
function routeOf(
  method: string,
  path: string,
  query: Record<string, string>,
): Pick<FakeKubernetesRequest, 'verb' | 'resource' | 'apiGroup' | 'namespace' | 'name'> {
  const core = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  const grouped = /^\/apis\/([^/]+)\/[^/]+\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  const [apiGroup, namespace, resource, name, sub] = core
    ? ['', core[1], core[2], core[3], core[4]]
    : grouped
      ? [grouped[1]!, grouped[2], grouped[3], grouped[4], grouped[5]]
      : ['', undefined, undefined, undefined, undefined];
  const verbs: Record<string, FakeKubernetesRequest['verb']> = { PATCH: 'patch', POST: 'create', PUT: 'update', DELETE: 'delete' };
  const verb: FakeKubernetesRequest['verb'] =
    method === 'GET' ? (name ? 'get' : query.watch === 'true' || query.watch === '1' ? 'watch' : 'list') : (verbs[method] ?? 'other');
  return {
    verb,
    resource: resource ? (sub ? `${resource}/${sub}` : resource) : path,
    apiGroup,
    namespace: namespace ?? null,
    name: name ?? null,
  };
}

/** RFC 7386 merge, except that a strategic patch merges `containers` and `env` lists by `name`. */
function mergePatch(target: unknown, patch: unknown, strategic: boolean): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else if (strategic && Array.isArray(value) && Array.isArray(result[key]) && ['containers', 'env', 'initContainers'].includes(key)) {
      const merged = [...(result[key] as unknown[])];
      for (const item of value) {
        const name = isObject(item) ? item.name : undefined;
        const index = merged.findIndex((existing) => isObject(existing) && existing.name === name);
        if (index >= 0) merged[index] = mergePatch(merged[index], item, strategic);
        else merged.push(item);
      }
      result[key] = merged;
    } else {
      result[key] = mergePatch(result[key], value, strategic);
    }
  }
  return result;
}

/** Equality-based and set-based label selectors (`a=b,c in (d,e),!f`). */
function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    if (!term) return true;
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      const has = labels[set[1]!] !== undefined && values.includes(labels[set[1]!]!);
      return set[2] === 'in' ? has : !has;
    }
    const inequality = /^([^!=]+)!=(.*)$/.exec(term);
    if (inequality) return labels[inequality[1]!] !== inequality[2];
    const equality = /^([^=]+)==?(.*)$/.exec(term);
    if (equality) return labels[equality[1]!] === equality[2];
    if (term.startsWith('!')) return labels[term.slice(1)] === undefined;
    return labels[term] !== undefined;
  });
}

function templateKey(template: NonNullable<V1ReplicaSet['spec']>['template']): string {
  const containers = template?.spec?.containers.map((c) => ({ name: c.name, image: c.image, env: c.env, envFrom: c.envFrom }));
  return JSON.stringify(containers);
}

function revisionOf(rs: V1ReplicaSet): number {
  return Number(rs.metadata?.annotations?.[REVISION]) || 0;
}

function ownerUid(pod: V1Pod): string | undefined {
  return pod.metadata?.ownerReferences?.[0]?.uid;
}

/** RFC 3339 with nanoseconds, as the kubelet stamps log lines. */
function nanoTimestamp(at: Date): string {
  return at.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

function formatLine(line: { timestamp: string; text: string }, timestamps: boolean): string {
  return `${timestamps ? `${line.timestamp} ` : ''}${line.text}\n`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
