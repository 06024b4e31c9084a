import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { KubernetesPaths } from '../../../runtime/core/manifests/index.ts';
import type { StackConfig } from '../../config.ts';
import { failureStateName } from './state-names.ts';
import type { FailureKind } from './causes.ts';

/** Errors Kubernetes or the API server answer with that are worth another try. */
export const TRANSIENT_K8S = ['EKS.429', 'EKS.500', 'EKS.502', 'EKS.503', 'EKS.504'];
export const ACCESS_DENIED = ['EKS.401', 'EKS.403'];

export interface EksCallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** A static path, or `{ expr }`: an intrinsic / JSONPath evaluated at run time. */
  path: string | { expr: string };
  query?: Record<string, string[] | { expr: string }>;
  /** The request body: a JSONPath to an object, or a payload template. */
  body?: { path: string } | { template: Record<string, unknown> };
  resultSelector?: Record<string, string>;
  resultPath: string | null;
  comment: string;
}

/** One `arn:aws:states:::eks:call` Task against the cluster PrepareRun described. */
export function eksCall(scope: Construct, id: string, clusterName: string, spec: EksCallSpec): sfn.CustomState {
  const parameters: Record<string, unknown> = {
    ClusterName: clusterName,
    'CertificateAuthority.$': '$.prepared.cluster.certificateAuthority',
    'Endpoint.$': '$.prepared.cluster.endpoint',
    Method: spec.method,
  };
  if (typeof spec.path === 'string') parameters.Path = spec.path;
  else parameters['Path.$'] = spec.path.expr;
  if (spec.query) {
    parameters.QueryParameters = Object.fromEntries(
      Object.entries(spec.query).map(([k, v]) => (Array.isArray(v) ? [k, v] : [`${k}.$`, v.expr])),
    );
  }
  if (spec.body && 'path' in spec.body) parameters['RequestBody.$'] = spec.body.path;
  else if (spec.body) parameters.RequestBody = spec.body.template;
  return new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Comment: spec.comment,
      Resource: `arn:${Stack.of(scope).partition}:states:::eks:call`,
      Parameters: parameters,
      ...(spec.resultSelector ? { ResultSelector: spec.resultSelector } : {}),
      ResultPath: spec.resultPath,
    },
  });
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
      const beforeCluster = kind === 'InvalidInput' || kind === 'PrepareFailed';
      state.next(beforeCluster ? this.fail : this.cleanup);
      this.states.set(kind, state);
    }
    return state;
  }

  /** The usual catches of an eks:call: access denied, optionally 404 as `notFound`, anything else. */
  catchKubernetes(state: sfn.CustomState, notFound?: FailureKind): void {
    state.addRetry({ errors: TRANSIENT_K8S, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    state.addCatch(this.to('AccessDenied'), { errors: ACCESS_DENIED, resultPath: '$.error' });
    if (notFound) state.addCatch(this.to(notFound), { errors: ['EKS.404'], resultPath: '$.error' });
    state.addCatch(this.to('StepFailed'), { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  }
}

export interface FragmentContext {
  config: StackConfig;
  paths: KubernetesPaths;
  routes: FailureRoutes;
}

export const jobPath = (ctx: Pick<FragmentContext, 'paths'>) => ({
  expr: `States.Format('${ctx.paths.jobs}/{}', $.prepared.runSpec.names.job)`,
});
