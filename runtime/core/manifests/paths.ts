/**
 * Kubernetes REST paths the workflow calls (eks:call `Path`). Namespaces are the stack's; object
 * names are per run and are appended by the workflow.
 */
export function kubernetesPaths(benchmarkNamespace: string, targetNamespace: string) {
  return {
    targetPods: `/api/v1/namespaces/${targetNamespace}/pods`,
    serviceAccounts: `/api/v1/namespaces/${benchmarkNamespace}/serviceaccounts`,
    configMaps: `/api/v1/namespaces/${benchmarkNamespace}/configmaps`,
    jobs: `/apis/batch/v1/namespaces/${benchmarkNamespace}/jobs`,
    pods: `/api/v1/namespaces/${benchmarkNamespace}/pods`,
    events: `/api/v1/namespaces/${benchmarkNamespace}/events`,
  } as const;
}
export type KubernetesPaths = ReturnType<typeof kubernetesPaths>;
