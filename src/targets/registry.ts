// Every configured target with its Deployer (Docker or Kubernetes) and its Checkstack client, built once.
import type { KubeConfig } from '@kubernetes/client-node';
import Dockerode from 'dockerode';
import { createCheckstackClient, type CheckstackClient } from '../checkstack/client.js';
import type { TargetConfig } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { KUBERNETES_FACTS, type Deployer, type PlatformFacts } from './deployer.js';
import { createDockerDeployer } from './docker.js';

export interface TargetRuntime {
  config: TargetConfig;
  deployer: Deployer;
  checkstack: CheckstackClient;
}

export type DeployerFactory = (target: TargetConfig, logger: Logger) => Deployer;

/** Where deployers report the secret values they come across (the logger's redaction list). */
export type SecretSink = (value: string) => void;

/** `unix:///var/run/docker.sock`, `tcp://host:2375` or `http(s)://host:port` → dockerode options. */
export function dockerOptionsFromHost(host: string): Dockerode.DockerOptions {
  const url = new URL(host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'npipe:') return { socketPath: `//./pipe${url.pathname}` };
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  return { host: url.hostname, port: Number(url.port || (protocol === 'https' ? 2376 : 2375)), protocol };
}

export function dockerDeployerFactory(registerSecret?: SecretSink): DeployerFactory {
  const engines = new Map<string, Dockerode>();
  return (target, logger) => {
    if (!target.docker) throw new AppError('config_invalid', `Target ${target.name} has no docker block.`);
    const host = target.docker.host;
    let docker = engines.get(host);
    if (!docker) {
      docker = new Dockerode(dockerOptionsFromHost(host));
      engines.set(host, docker);
    }
    return createDockerDeployer({
      docker,
      target: {
        ...(target.docker.container ? { container: target.docker.container } : {}),
        ...(target.docker.composeProject ? { composeProject: target.docker.composeProject } : {}),
        ...(target.docker.composeService ? { composeService: target.docker.composeService } : {}),
        stopTimeoutSeconds: target.docker.stopTimeout,
      },
      logger,
      ...(registerSecret ? { registerSecret } : {}),
    });
  };
}

/**
 * A Deployer whose implementation is loaded on first use. `@kubernetes/client-node` is large (megabytes of
 * source on the heap, seconds to import on a busy machine): a bot without Kubernetes targets never loads it.
 */
function lazyDeployer(facts: PlatformFacts, load: () => Promise<Deployer>): Deployer {
  let loading: Promise<Deployer> | null = null;
  const deployer = () => (loading ??= load());
  return {
    ...facts,
    describe: async () => (await deployer()).describe(),
    pull: async (image, onProgress, signal) => (await deployer()).pull(image, onProgress, signal),
    replace: async (request, onStep) => (await deployer()).replace(request, onStep),
    rollback: async (request) => (await deployer()).rollback(request),
    removeKept: async (version) => (await deployer()).removeKept(version),
    followLogs: async (since, onLine, signal) => (await deployer()).followLogs(since, onLine, signal),
    state: async () => (await deployer()).state(),
    preflightWarnings: async (context) => (await (await deployer()).preflightWarnings?.(context)) ?? [],
  };
}

/** Kubernetes deployers share one KubeConfig: the kubeconfig file, or the pod's service account. */
export function kubernetesDeployerFactory(kubeconfigPath: string | null, registerSecret?: SecretSink): DeployerFactory {
  let kubeConfig: KubeConfig | null = null;
  return (target, logger) => {
    const kubernetes = target.kubernetes;
    if (!kubernetes) throw new AppError('config_invalid', `Target ${target.name} has no kubernetes block.`);
    return lazyDeployer(KUBERNETES_FACTS, async () => {
      const [{ createKubernetesDeployer }, { loadKubeConfig }] = await Promise.all([import('./kubernetes.js'), import('./kube-config.js')]);
      kubeConfig ??= loadKubeConfig({ kubeconfigPath });
      return createKubernetesDeployer({
        kubeConfig,
        target: kubernetes,
        logger,
        rolloutTimeoutMs: target.postflight.readyTimeout * 1000,
        ...(registerSecret ? { registerSecret } : {}),
      });
    });
  };
}

export interface TargetRegistry {
  names(): string[];
  /** The named target, or the default one; `unknown_target` listing the valid names otherwise. */
  resolve(name?: string): TargetRuntime;
  all(): TargetRuntime[];
}

export function createTargetRegistry(
  targets: readonly TargetConfig[],
  factories: { docker: DeployerFactory; kubernetes?: DeployerFactory },
  logger: Logger,
  fetchImpl: typeof fetch = globalThis.fetch,
): TargetRegistry {
  const runtimes = new Map<string, TargetRuntime>();
  for (const target of targets) {
    const log = logger.child({ target: target.name });
    const factory = target.docker ? factories.docker : factories.kubernetes;
    if (!factory) throw new AppError('config_invalid', `Target ${target.name}: Kubernetes targets are not supported by this build.`);
    runtimes.set(target.name, {
      config: target,
      deployer: factory(target, log),
      checkstack: createCheckstackClient({
        baseUrl: target.baseUrl,
        ...(target.apiKey ? { apiKey: target.apiKey } : {}),
        fetch: fetchImpl,
        logger: log,
        name: target.name,
      }),
    });
  }
  const names = () => [...runtimes.keys()];
  return {
    names,
    all: () => [...runtimes.values()],
    resolve(name) {
      if (runtimes.size === 0) {
        throw new AppError('unknown_target', 'No upgrade targets are configured: an operator must add one under `targets:` in the config file.');
      }
      const runtime = name ? runtimes.get(name) ?? [...runtimes.values()].find((r) => r.config.name.toLowerCase() === name.toLowerCase()) : [...runtimes.values()].find((r) => r.config.default);
      if (runtime) return runtime;
      const valid = names().map((n) => `\`${n}\``).join(', ');
      if (!name) throw new AppError('unknown_target', `No default target is configured; name one of: ${valid}.`);
      throw new AppError('unknown_target', `There is no target named \`${name.slice(0, 63)}\`. Valid targets: ${valid}.`);
    },
  };
}
