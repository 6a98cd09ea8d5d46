// Where the Kubernetes deployer's credentials come from: a kubeconfig file, or the pod's service account.
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { AppError } from '../errors.js';

export interface LoadKubeConfigOptions {
  /** The `KUBECONFIG` value (one path, or several joined by `:`); null or absent for in-cluster auth. */
  kubeconfigPath?: string | null;
  /** Prepended to the service account mount path (`/var/run/secrets/kubernetes.io/serviceaccount`); for tests. */
  serviceAccountPathPrefix?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A kubeconfig file when a path is given (later files merge into the first, as kubectl does), otherwise the
 * service account of the pod the bot runs in. Fails with `config_invalid` when neither can work.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  const paths = (options.kubeconfigPath ?? '').split(delimiter).filter(Boolean);
  if (paths.length > 0) {
    for (const path of paths) {
      if (!existsSync(path)) {
        throw new AppError('config_invalid', `The kubeconfig file \`${path}\` (from \`KUBECONFIG\`) does not exist.`, { path });
      }
    }
    try {
      kubeConfig.loadFromFile(paths[0]!);
      for (const path of paths.slice(1)) {
        const next = new KubeConfig();
        next.loadFromFile(path);
        kubeConfig.mergeConfig(next, true);
      }
    } catch (err) {
      throw new AppError('config_invalid', `The kubeconfig in \`KUBECONFIG\` could not be read: ${(err as Error).message}`, {
        paths,
      }, { cause: err });
    }
    if (!kubeConfig.getCurrentCluster()) {
      throw new AppError('config_invalid', 'The kubeconfig in `KUBECONFIG` has no current context with a cluster: set `current-context`.', {
        paths,
      });
    }
    return kubeConfig;
  }

  const prefix = options.serviceAccountPathPrefix ?? '';
  const serviceAccountDir = `${prefix}${SERVICE_ACCOUNT_DIR}`;
  if (!existsSync(`${serviceAccountDir}/token`)) {
    throw new AppError(
      'config_invalid',
      'No Kubernetes credentials: the bot does not run in a pod with a service account token, and `KUBECONFIG` is not set.',
      { serviceAccountDir },
    );
  }
  // The client reads KUBERNETES_SERVICE_HOST/PORT itself; an unset host shows up in the server URL.
  kubeConfig.loadFromCluster(prefix);
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  if (server.includes('undefined')) {
    throw new AppError(
      'config_invalid',
      'No Kubernetes API address: `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` are unset (not in a pod?) and `KUBECONFIG` is not set.',
    );
  }
  return kubeConfig;
}
