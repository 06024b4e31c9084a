import { Duration, Stack } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { KubernetesPaths } from '../../../runtime/core/manifests/index.ts';
import type { StackConfig } from '../../config.ts';
import type { FailureKind } from './causes.ts';
import { failureStateName } from './state-names.ts';

/**
 * How a failed `eks:call` is named. Step Functions names it `EKS.<HTTP status>` — the only source is
 * AWS's word that an authentication failure is `EKS.401` (../shared/reference/aws-integration.md);
 * no AWS document states the whole shape. So the named retriers and catchers below are the fast
 * path, and every catch also reads the Kubernetes `Status` body the API server answered with, which
 * the failure's Cause carries (`"code":404`): a definitive answer under another name costs at most a
 * GET's retries (about 30 s), never the wrong outcome.
 */
/** Errors Kubernetes or the API server answer with that are worth another try. */
export const TRANSIENT_K8S = ['EKS.429', 'EKS.500', 'EKS.502', 'EKS.503', 'EKS.504'];
export const ACCESS_DENIED = ['EKS.401', 'EKS.403'];
/** Answers that another try cannot change (the caller catches them). */
const DEFINITIVE_K8S = [...ACCESS_DENIED, 'EKS.400', 'EKS.404', 'EKS.405', 'EKS.409', 'EKS.422'];

/**
 * Who makes the workflow's Kubernetes calls: Step Functions' `eks:call` (`clusterAccess: public`)
 * or the KubeCall Lambda in the cluster's VPC (`vpc`). Both take the same parameters and answer in
 * the same shape, errors included (runtime/aws/kubernetes-api.ts): each task swaps only its
 * `Resource`, so the states, Retry/Catch rules and causes are the one definition.
 */
export interface KubernetesCaller {
  clusterName: string;
  /** The KubeCall function (vpc), invoked as a Task resource by its ARN: its result is the state's, as `eks:call`'s is. */
  kubeCall?: lambda.IFunction;
}

/** Lambda's own transient failures (the function never ran, or was throttled): a POST is tried again on them too. */
const TRANSIENT_LAMBDA = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

/** Lets the state machine role make the calls (eks:call needs no IAM permission: the access entry authorizes it in the cluster). */
export function grantKubernetesCalls(caller: KubernetesCaller, role: iam.IRole): void {
  caller.kubeCall?.grantInvoke(role);
}

export interface EksCallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** A static path, or `{ expr }`: an intrinsic / JSONPath evaluated at run time. */
  path: string | { expr: string };
  query?: Record<string, string[] | { expr: string }>;
  /** The request body: a JSONPath to an object, or a payload template. */
  body?: { path: string } | { template: Record<string, unknown> };
  resultSelector?: Record<string, unknown>;
  resultPath: string | null;
  comment: string;
  /** Where the cluster's `{endpoint, certificateAuthority}` is in the state (default `$.prepared.cluster`). */
  clusterPath?: string;
}

/**
 * One `arn:aws:states:::eks:call` Task against the cluster described at run time. Retries are part
 * of the call: a GET or DELETE is idempotent, so any failure but a definitive answer (4xx) is tried
 * again — one network error must not end a run; a POST only on the API server's transient answers.
 */
export function eksCall(scope: Construct, id: string, caller: KubernetesCaller, spec: EksCallSpec): sfn.CustomState {
  const cluster = spec.clusterPath ?? '$.prepared.cluster';
  const parameters: Record<string, unknown> = {
    ClusterName: caller.clusterName,
    'CertificateAuthority.$': `${cluster}.certificateAuthority`,
    'Endpoint.$': `${cluster}.endpoint`,
    Method: spec.method,
  };
  if (typeof spec.path === 'string') parameters.Path = spec.path;
  else parameters['Path.$'] = spec.path.expr;
  if (spec.query) {
    parameters.QueryParameters = Object.fromEntries(Object.entries(spec.query).map(([k, v]) => (Array.isArray(v) ? [k, v] : [`${k}.$`, v.expr])));
  }
  if (spec.body && 'path' in spec.body) parameters['RequestBody.$'] = spec.body.path;
  else if (spec.body) parameters.RequestBody = spec.body.template;
  const state = new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Comment: spec.comment,
      Resource: caller.kubeCall ? caller.kubeCall.functionArn : `arn:${Stack.of(scope).partition}:states:::eks:call`,
      Parameters: parameters,
      ...(spec.resultSelector ? { ResultSelector: spec.resultSelector } : {}),
      ResultPath: spec.resultPath,
    },
  });
  if (spec.method === 'POST') {
    state.addRetry({ errors: caller.kubeCall ? [...TRANSIENT_K8S, ...TRANSIENT_LAMBDA] : TRANSIENT_K8S, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
  } else {
    // The first matching retrier decides: definitive answers are not retried; everything else is.
    state.addRetry({ errors: DEFINITIVE_K8S, maxAttempts: 0 });
    state.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2 });
  }
  return state;
}

/**
 * Creates, once each, the Pass states that write `$.failure = {error, cause}` and lead to Cleanup
 * (or straight to RunFailed when nothing can exist in the cluster yet).
 */
export class FailureRoutes {
  private readonly states = new Map<FailureKind, sfn.Pass>();
  constructor(
    private readonly scope: Construct,
    private readonly causes: Record<FailureKind, string>,
    readonly cleanup: sfn.IChainable,
    private readonly fail: sfn.Fail,
  ) {}

  to(kind: FailureKind): sfn.Pass {
    let state = this.states.get(kind);
    if (!state) {
      state = new sfn.Pass(this.scope, failureStateName(kind), {
        parameters: { error: kind, 'cause.$': this.causes[kind] },
        resultPath: '$.failure',
      });
      // Before PrepareRun succeeded nothing exists to clean up — and a claim held by another run must not be released.
      const beforeCluster = kind === 'InvalidInput' || kind === 'PrepareFailed' || kind === 'RunInProgress';
      state.next(beforeCluster ? this.fail : this.cleanup);
      this.states.set(kind, state);
    }
    return state;
  }

  /**
   * The usual catches of an eks:call: access denied, optionally 404 as `notFound`, `conflict` (409)
   * to a state of its own, anything else StepFailed — by error name, and by the Kubernetes status in
   * the Cause when the name is another (see the top of this file).
   */
  catchKubernetes(state: sfn.CustomState, notFound?: FailureKind, conflict?: { state: sfn.IChainable; choiceName: string; resultPath: string }): void {
    if (conflict) state.addCatch(conflict.state, { errors: ['EKS.409'], resultPath: conflict.resultPath });
    state.addCatch(this.to('AccessDenied'), { errors: ACCESS_DENIED, resultPath: '$.error' });
    if (notFound) state.addCatch(this.to(notFound), { errors: ['EKS.404'], resultPath: '$.error' });
    const classify = this.classifier(notFound);
    const rest = conflict ? new sfn.Choice(this.scope, conflict.choiceName).when(kubernetesStatus(409), conflict.state).otherwise(classify) : classify;
    state.addCatch(rest, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  }

  private readonly classifiers = new Map<string, sfn.Choice>();

  /** A failure not named `EKS.<status>`, routed by the Kubernetes status its Cause carries (one Choice per `notFound` kind). */
  private classifier(notFound: FailureKind | undefined): sfn.Choice {
    const name = `${STATE_KUBERNETES_ERROR}${notFound ? `Or${notFound}` : ''}?`;
    let choice = this.classifiers.get(name);
    if (!choice) {
      choice = new sfn.Choice(this.scope, name).when(sfn.Condition.or(kubernetesStatus(401), kubernetesStatus(403)), this.to('AccessDenied'));
      if (notFound) choice.when(kubernetesStatus(404), this.to(notFound));
      choice.otherwise(this.to('StepFailed'));
      this.classifiers.set(name, choice);
    }
    return choice;
  }
}

const STATE_KUBERNETES_ERROR = 'KubernetesRefused';

/** The caught failure's Cause carries a Kubernetes Status with this code (compact JSON, as the API server writes it). */
function kubernetesStatus(code: number): sfn.Condition {
  return sfn.Condition.and(sfn.Condition.isPresent('$.error.Cause'), sfn.Condition.isString('$.error.Cause'), sfn.Condition.stringMatches('$.error.Cause', `*"code":${code}*`));
}

export interface FragmentContext {
  config: StackConfig;
  kubernetes: KubernetesCaller;
  paths: KubernetesPaths;
  routes: FailureRoutes;
}

export const jobPath = (ctx: Pick<FragmentContext, 'paths'>, job = '$.prepared.runSpec.names.job') => ({
  expr: `States.Format('${ctx.paths.jobs}/{}', ${job})`,
});
