import { commonLabels } from './labels.ts';

/**
 * The workflow's rights in the cluster, as Kubernetes RBAC: exactly the calls its states and its
 * reaper make, per namespace. The stack grants them either through EKS access policies
 * (AmazonEKSEditPolicy / AmazonEKSViewPolicy, scoped to the two namespaces: broader than needed) or,
 * with `workflowKubernetesAccess: rbac`, through an access entry's Kubernetes group bound to these
 * Roles (`inference-baseline render --rbac` prints them for kubectl).
 */

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The Kubernetes group the stack's access entry puts the workflow role in (rbac mode). */
export const WORKFLOW_GROUP = 'inference-baseline:workflow';

export function workflowRules(benchmarkNamespace: string, targetNamespace: string): Array<{ namespace: string; rules: RbacRule[] }> {
  const bench: RbacRule[] = [
    // CreateJob, GetJob, DeleteJob / ReapJob.
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'delete'] },
    // CreateConfigMap, DeleteConfigMap / ReapConfigMap; FindServiceAccount, CreateServiceAccount.
    { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'delete'] },
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list', 'create'] },
    // InspectRunnerPods, InspectPendingPods; InspectJobEvents (the Job controller's FailedCreate).
    { apiGroups: [''], resources: ['pods', 'events'], verbs: ['list'] },
  ];
  // FindTargetPods.
  const target: RbacRule[] = [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }];
  if (benchmarkNamespace === targetNamespace) return [{ namespace: benchmarkNamespace, rules: bench }];
  return [
    { namespace: benchmarkNamespace, rules: bench },
    { namespace: targetNamespace, rules: target },
  ];
}

/** A Role and a RoleBinding (to WORKFLOW_GROUP) per namespace, for `kubectl apply -f -`. */
export function renderWorkflowRbac(benchmarkNamespace: string, targetNamespace: string): Array<Record<string, unknown>> {
  return workflowRules(benchmarkNamespace, targetNamespace).flatMap(({ namespace, rules }) => [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'inference-baseline-workflow', namespace, labels: commonLabels() }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'inference-baseline-workflow', namespace, labels: commonLabels() },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'inference-baseline-workflow' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: WORKFLOW_GROUP }],
    },
  ]);
}

/** Whether the rules allow `verb` on `resource` (of `apiGroup`). */
export function rulesAllow(rules: RbacRule[], apiGroup: string, resource: string, verb: string): boolean {
  return rules.some((r) => (r.apiGroups.includes(apiGroup) || r.apiGroups.includes('*')) && (r.resources.includes(resource) || r.resources.includes('*')) && (r.verbs.includes(verb) || r.verbs.includes('*')));
}
