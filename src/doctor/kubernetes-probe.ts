// Kubernetes facts for the doctor: a SelfSubjectAccessReview for each permission the deployer needs (the API server
// answers for the bot's own identity; nothing is read or changed).
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesFacts } from '../domain/doctor.js';
import { kubernetesPermissions, permissionLabel } from '../targets/kubernetes-permissions.js';

export interface KubernetesProbeTarget {
  name: string;
  namespace: string;
  deployment: string;
  encryptionKeySecret?: string | undefined;
}

export async function probeKubernetes(kubeConfig: KubeConfig, target: KubernetesProbeTarget): Promise<KubernetesFacts> {
  const { AuthorizationV1Api } = await import('@kubernetes/client-node');
  const api = kubeConfig.makeApiClient(AuthorizationV1Api);
  const probes = await Promise.all(
    kubernetesPermissions(target).map(async (permission) => {
      const label = permissionLabel(permission);
      try {
        const review = await api.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                namespace: target.namespace,
                verb: permission.verb,
                group: permission.group,
                resource: permission.resource,
                ...(permission.subresource ? { subresource: permission.subresource } : {}),
                ...(permission.name ? { name: permission.name } : {}),
              },
            },
          },
        });
        return { permission: label, allowed: review.status?.allowed === true, reason: review.status?.reason ?? review.status?.evaluationError ?? '' };
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        return { permission: label, allowed: null, reason: `${typeof code === 'number' ? `HTTP ${code}: ` : ''}${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
      }
    }),
  );
  return { target: target.name, namespace: target.namespace, probes };
}
