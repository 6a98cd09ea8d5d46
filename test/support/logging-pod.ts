// A running Checkstack pod whose log the readiness wait follows: the fake cluster and the real Kubernetes deployer,
// for tests of the wait that do not run a whole upgrade.
import { pino } from 'pino';
import { createKubernetesDeployer } from '../../src/targets/kubernetes.js';
import type { Deployer } from '../../src/targets/deployer.js';
import { CHECKSTACK_STARTUP_LOG, FakeKubernetes, kubeConfigFor } from '../fakes/fake-kubernetes.js';

export const INITIALIZED_LINE = CHECKSTACK_STARTUP_LOG.at(-1)!;

export interface LoggingPod {
  k8s: FakeKubernetes;
  logs: Deployer;
  pod: string;
  /** The pod logs `Checkstack Core initialized` now. */
  logInitialized(): void;
  /** Resolves once the deployer follows the pod's log. */
  followed(): Promise<void>;
  close(): Promise<void>;
}

/** `initialized: false`: the pod has started but not yet logged the init line. */
export async function startLoggingPod({ initialized = true }: { initialized?: boolean } = {}): Promise<LoggingPod> {
  const k8s = await FakeKubernetes.start({
    image: 'ghcr.io/enyineer/checkstack:0.31.0',
    startupLog: initialized ? CHECKSTACK_STARTUP_LOG : CHECKSTACK_STARTUP_LOG.slice(0, -1),
  });
  const logs = createKubernetesDeployer({
    kubeConfig: kubeConfigFor(k8s),
    target: { namespace: k8s.namespace, deployment: k8s.deploymentName, container: k8s.containerName },
    logger: pino({ level: 'silent' }),
  });
  const pod = k8s.livePods()[0]!.metadata!.name!;
  return {
    k8s,
    logs,
    pod,
    logInitialized: () => k8s.appendLog(pod, INITIALIZED_LINE),
    followed: async () => {
      while (k8s.followerCount(pod) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    close: () => k8s.close(),
  };
}
