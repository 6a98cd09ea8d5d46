// The Kubernetes permissions the deployer needs for one target: what deploy/kubernetes/role.yaml grants, as the
// doctor asks the API server about each (SelfSubjectAccessReview).

export interface KubernetesPermission {
  verb: 'get' | 'list' | 'patch';
  /** API group: `apps`, or `` for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  /** Set where the Role limits the rule to one object (`resourceNames`). */
  name?: string;
  why: string;
}

export function kubernetesPermissions(target: { deployment: string; encryptionKeySecret?: string | undefined }): KubernetesPermission[] {
  return [
    { verb: 'get', group: 'apps', resource: 'deployments', name: target.deployment, why: 'read the image, the rollout status and the container env' },
    { verb: 'patch', group: 'apps', resource: 'deployments', name: target.deployment, why: 'set the new image' },
    { verb: 'list', group: 'apps', resource: 'replicasets', why: 'the current and previous ReplicaSet' },
    { verb: 'list', group: '', resource: 'pods', why: 'restarts, pull errors and the pod to follow' },
    { verb: 'get', group: '', resource: 'pods', subresource: 'log', why: 'readiness and the log watch' },
    ...(target.encryptionKeySecret
      ? [{ verb: 'get' as const, group: '', resource: 'secrets', name: target.encryptionKeySecret, why: 'the fingerprint of ENCRYPTION_MASTER_KEY' }]
      : []),
  ];
}

/** `patch deployments.apps "checkstack"`, `get pods/log`: as kubectl auth can-i would name it. */
export function permissionLabel(p: KubernetesPermission): string {
  const resource = `${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.group ? `.${p.group}` : ''}`;
  return `${p.verb} ${resource}${p.name ? ` "${p.name}"` : ''}`;
}
