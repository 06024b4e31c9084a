import { rulesAllow, type RbacRule } from '../../core/manifests/rbac.ts';
import { KubernetesApiError } from './objects.ts';

/**
 * Who may do what in the local Kubernetes stand-in, as EKS decides it for a principal of an access
 * entry: the access policies' rules within their namespace scopes, and the RBAC Roles bound (in
 * the cluster) to the entry's Kubernetes groups. A call outside them is refused with the API
 * server's 403 Status.
 *
 * The access policies are written out from their Kubernetes counterparts (AWS documents
 * AmazonEKSEditPolicy as the `edit` ClusterRole's rights and AmazonEKSViewPolicy as `view`'s), for
 * the resources this project's calls can touch.
 */
const WRITE = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const READ = ['get', 'list', 'watch'];

export const ACCESS_POLICY_RULES: Record<string, RbacRule[]> = {
  AmazonEKSClusterAdminPolicy: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
  AmazonEKSAdminPolicy: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
  AmazonEKSEditPolicy: [
    { apiGroups: [''], resources: ['pods', 'configmaps', 'secrets', 'serviceaccounts', 'services', 'persistentvolumeclaims', 'replicationcontrollers'], verbs: WRITE },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: WRITE },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: WRITE },
    { apiGroups: [''], resources: ['events', 'limitranges', 'resourcequotas'], verbs: READ },
  ],
  AmazonEKSViewPolicy: [
    { apiGroups: [''], resources: ['pods', 'configmaps', 'serviceaccounts', 'services', 'persistentvolumeclaims', 'replicationcontrollers', 'events', 'limitranges', 'resourcequotas'], verbs: READ },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: READ },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: READ },
  ],
};

/** The caller's access entry, as the stack declares it (its template's AWS::EKS::AccessEntry). */
export interface AccessEntry {
  /** As the API server names the caller in a refusal. */
  username: string;
  accessPolicies: Array<{ policy: string; namespaces: string[] | null }>;
  kubernetesGroups: string[];
}

/** RBAC objects applied in the cluster (`render --rbac`): Roles and the groups their RoleBindings name. */
export interface AppliedRbac {
  roles: Array<{ namespace: string; name: string; rules: RbacRule[] }>;
  bindings: Array<{ namespace: string; role: string; groups: string[] }>;
}

/** RBAC objects as `kubectl apply` would create them (Roles and RoleBindings to groups; other kinds are ignored). */
export function appliedRbac(objects: Array<Record<string, unknown>>): AppliedRbac {
  type Meta = { metadata: { name: string; namespace: string } };
  const roles = objects.filter((o) => o.kind === 'Role') as unknown as Array<Meta & { rules: RbacRule[] }>;
  const bindings = objects.filter((o) => o.kind === 'RoleBinding') as unknown as Array<Meta & { roleRef: { kind: string; name: string }; subjects: Array<{ kind: string; name: string }> }>;
  return {
    roles: roles.map((r) => ({ namespace: r.metadata.namespace, name: r.metadata.name, rules: r.rules })),
    bindings: bindings.filter((b) => b.roleRef.kind === 'Role').map((b) => ({ namespace: b.metadata.namespace, role: b.roleRef.name, groups: b.subjects.filter((x) => x.kind === 'Group').map((x) => x.name) })),
  };
}

export function authorizeCall(entry: AccessEntry, rbac: AppliedRbac, call: { verb: string; apiGroup: string; resource: string; namespace: string }): void {
  const byPolicy = entry.accessPolicies.some((a) => (a.namespaces === null || a.namespaces.includes(call.namespace)) && rulesAllow(ACCESS_POLICY_RULES[a.policy] ?? [], call.apiGroup, call.resource, call.verb));
  const byRbac = rbac.bindings
    .filter((b) => b.namespace === call.namespace && b.groups.some((g) => entry.kubernetesGroups.includes(g)))
    .some((b) => rulesAllow(rbac.roles.find((r) => r.namespace === b.namespace && r.name === b.role)?.rules ?? [], call.apiGroup, call.resource, call.verb));
  if (byPolicy || byRbac) return;
  const group = call.apiGroup === '' ? '""' : `"${call.apiGroup}"`;
  const full = call.apiGroup ? `${call.resource}.${call.apiGroup}` : call.resource;
  throw new KubernetesApiError(403, 'Forbidden', `${full} is forbidden: User "${entry.username}" cannot ${call.verb} resource "${call.resource}" in API group ${group} in the namespace "${call.namespace}"`, { kind: call.resource, group: call.apiGroup });
}
