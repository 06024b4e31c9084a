import { WORKFLOW_GROUP } from '../../../runtime/core/manifests/rbac.ts';
import type { ClusterAccessMode, KubernetesAccessMode, RunnerCredentialMode } from '../../../runtime/core/run-spec/index.ts';

/**
 * The workflow's words: failure names and the causes a person reads in the console, as
 * States.Format templates. Pure, so they are tested without a Stack.
 */

/** Errors the Fail state ends with (`Error`), one per thing that can go wrong. */
export const failureKinds = [
  'InvalidInput',
  'RunInProgress',
  'PrepareFailed',
  'NoRunningTargetPod',
  'AccessDenied',
  'NamespaceMissing',
  'JobFailed',
  'JobDeadlineExceeded',
  'RunnerUnschedulable',
  'RunnerPodRefused',
  'JobPollLimit',
  'JobVanished',
  'NoResults',
  'StepFailed',
] as const;
export type FailureKind = (typeof failureKinds)[number];

export interface WorkflowWords {
  clusterName: string;
  benchmarkNamespace: string;
  targetNamespace: string;
  serviceAccountName: string;
  /** How the workflow role is granted its Kubernetes rights (what AccessDenied tells the user to check). */
  kubernetesAccess: KubernetesAccessMode;
  /** Who calls the Kubernetes API: the state machine (eks:call) or the KubeCall function in the VPC. */
  clusterAccess: ClusterAccessMode;
  /** How the runner gets its S3 credentials (what NoResults tells the user to check). */
  runnerCredentials: RunnerCredentialMode;
}

/** Escapes the characters States.Format treats specially in its template: ' { } \ */
export function escapeFormat(text: string): string {
  return text.replace(/[\\'{}]/g, (c) => `\\${c}`);
}

/** `States.Format('<template>', <paths>)`; `{}` in `parts` mark the arguments, other text is escaped. */
export function statesFormat(parts: Array<string | { path: string }>): string {
  let template = '';
  const args: string[] = [];
  for (const part of parts) {
    if (typeof part === 'string') template += escapeFormat(part);
    else {
      template += '{}';
      args.push(part.path);
    }
  }
  return `States.Format('${template}'${args.map((a) => `, ${a}`).join('')})`;
}

const p = (path: string) => ({ path });

/**
 * For each failure: the Error name and the Cause expression (JSONPath data: `$.prepared.runSpec`,
 * the caught `$.error`, the last `$.job` status).
 */
export function failureCauses(w: WorkflowWords): Record<FailureKind, string> {
  const job = p('$.prepared.runSpec.names.job');
  const bench = w.benchmarkNamespace;
  return {
    InvalidInput: statesFormat([
      'The execution input was rejected and nothing was created in the cluster. ',
      p('$.error.Cause'),
      ' Fix the input and start again; an empty object runs the stack default baseline.',
    ]),
    RunInProgress: statesFormat([
      'Another benchmark run is measuring this target, and two runs at once would each measure the other\'s load; nothing was created in the cluster. ',
      p('$.error.Cause'),
      ' Start this run again when that one has finished (a run that died releases the target when its workflow timeout has passed).',
    ]),
    PrepareFailed: statesFormat([
      'PrepareRun failed (',
      p('$.error.Error'),
      '), nothing was created in the cluster: ',
      p('$.error.Cause'),
      ` Check that cluster ${w.clusterName} exists in this region, is ACTIVE, has ${w.clusterAccess === 'vpc' ? 'private endpoint access' : 'a public API endpoint open to all'} and authentication mode API or API_AND_CONFIG_MAP.`,
    ]),
    NoRunningTargetPod: statesFormat([
      'No Running pod matches labelSelector ',
      p('$.prepared.runSpec.target.labelSelector'),
      ` in namespace ${w.targetNamespace}. Check that the inference server is up (kubectl get pods -n ${w.targetNamespace} -l `,
      p('$.prepared.runSpec.target.labelSelector'),
      ') and that the target pod selector (stack context targetPodSelector, or input target.podSelector) matches its labels.',
    ]),
    AccessDenied: statesFormat([
      `The Kubernetes API refused the ${w.clusterAccess === 'vpc' ? "KubeCall function's role" : 'state machine role'} (`,
      p('$.error.Error'),
      `). Check the EKS access entry this stack creates on cluster ${w.clusterName}: the cluster authentication mode must be API or API_AND_CONFIG_MAP, `,
      w.kubernetesAccess === 'rbac'
        ? `and the entry puts the role in Kubernetes group ${WORKFLOW_GROUP}, which the Roles and RoleBindings of \`inference-baseline render --rbac\` must bind in namespaces ${[...new Set([bench, w.targetNamespace])].join(' and ')} (apply them with kubectl apply -f -). Detail: `
        : `with AmazonEKSEditPolicy on namespace ${bench} and AmazonEKSViewPolicy on namespace ${w.targetNamespace}. Detail: `,
      p('$.error.Cause'),
    ]),
    NamespaceMissing: statesFormat([
      `Namespace ${bench} does not exist in cluster ${w.clusterName} (`,
      p('$.error.Error'),
      `). Create it (kubectl create namespace ${bench}) or set the stack context benchmarkNamespace. Detail: `,
      p('$.error.Cause'),
    ]),
    JobFailed: statesFormat([
      'Job ',
      job,
      ` failed: the runner exited with an error. Check its logs while the Job lasts (kubectl logs -n ${bench} job/`,
      job,
      ') and the raw files under ',
      p('$.prepared.runSpec.s3.uri'),
    ]),
    JobDeadlineExceeded: statesFormat([
      'Job ',
      job,
      ' exceeded its activeDeadlineSeconds (',
      p('$.prepared.runSpec.job.activeDeadlineSeconds'),
      ` s = scenario duration + margin). Check that its pods were scheduled (kubectl get events -n ${bench}: no capacity in the target zone, an image pull failure) and whether the target stalled requests.`,
    ]),
    RunnerUnschedulable: statesFormat([
      'Runner pod ',
      p('$.pendingPods.pods[0].metadata.name'),
      ' of Job ',
      job,
      ' could not be scheduled within ',
      p('$.prepared.runSpec.job.schedulingGraceSeconds'),
      ' s (the stack\'s schedulingGraceSeconds). The scheduler says: ',
      p('$.pendingPods.pods[0].status.conditions[0].message'),
      ' The pod asks for ',
      p('$.prepared.runSpec.job.resources.requests.cpu'),
      ' CPU and ',
      p('$.prepared.runSpec.job.resources.requests.memory'),
      ' of memory (requests = limits, at least one CPU per load.num_workers), in the inference pods\' zone. Make room for it there (a node\'s allocatable CPU is less than its vCPUs: a 4-vCPU node cannot take 4 CPU), lower load.num_workers, or give the stack smaller runner resources; if your autoscaler needs longer to add a node, raise schedulingGraceSeconds.',
    ]),
    RunnerPodRefused: statesFormat([
      'The Kubernetes API refused to create the runner pods of Job ',
      job,
      ` in namespace ${bench}; nothing ran. The Job controller says: `,
      p('$.jobEvents.events[0].message'),
      ` The stack's runner pods pass Pod Security "restricted"; a refusal comes from something else in the namespace — a ResourceQuota or LimitRange (kubectl describe quota,limitrange -n ${bench}), a policy engine or admission webhook — or from a pod template you changed. Check kubectl get events -n ${bench} --field-selector involvedObject.name=`,
      job,
    ]),
    JobPollLimit: statesFormat([
      'Job ',
      job,
      ' did not report success or failure within ',
      p('$.prepared.runSpec.job.maxPolls'),
      ` polls. Check it with kubectl describe job -n ${bench} `,
      job,
      ' and the Kubernetes events of its pods.',
    ]),
    JobVanished: statesFormat([
      'Job ',
      job,
      ` disappeared before it finished (deleted by someone or by a policy in namespace ${bench}). Detail: `,
      p('$.error.Cause'),
    ]),
    NoResults: statesFormat([
      'Job ',
      job,
      ' finished but ',
      p('$.prepared.runSpec.s3.uri'),
      ` holds no results. Check the runner logs and that ${
        w.runnerCredentials === 'irsa'
          ? `service account ${w.serviceAccountName} in namespace ${bench} carries the runner role's eks.amazonaws.com/role-arn annotation (IRSA), so the runner may write under runs/`
          : `the EKS Pod Identity association (namespace ${bench}, service account ${w.serviceAccountName}) lets it write under runs/`
      }. Detail: `,
      p('$.error.Cause'),
    ]),
    StepFailed: statesFormat(['A workflow step failed with ', p('$.error.Error'), ': ', p('$.error.Cause')]),
  };
}

/** The Job-failure cause when Kubernetes kept the runner's last log lines (terminationMessagePolicy FallbackToLogsOnError). */
export function jobFailedWithLogCause(w: WorkflowWords): string {
  const job = p('$.prepared.runSpec.names.job');
  return statesFormat([
    'Job ',
    job,
    ' failed: the runner exited with code ',
    p('$.runnerPods.pods[0].status.containerStatuses[0].state.terminated.exitCode'),
    `. Last log lines: `,
    p('$.runnerPods.pods[0].status.containerStatuses[0].state.terminated.message'),
    ` More: kubectl logs -n ${w.benchmarkNamespace} job/`,
    job,
  ]);
}
