import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledge, arnRef, iam5 } from '../nag.ts';
import { kubernetesPaths, ZONE_LABEL } from '../../runtime/core/manifests/index.ts';
import { STACK_TAG } from '../../runtime/core/run-spec/index.ts';
import type { StackConfig } from '../config.ts';
import { failureCauses, jobFailedWithLogCause, type FailureKind, type WorkflowWords } from '../workflow-text.ts';

/**
 * The benchmark workflow (Step Functions Standard, JSONPath). The cluster is looked up at run time:
 * PrepareRun's DescribeCluster result supplies `Endpoint` / `CertificateAuthority` to every
 * `eks:call`, made from `sfn.CustomState` (tasks.EksCall would need the cluster's endpoint and CA at
 * synth time, through an imported v1 `aws-eks` cluster). `eks:call` needs no IAM permission: the
 * Kubernetes API authorizes the state machine role through the stack's EKS access entry.
 *
 * Execution data, by path:
 * - `$.prepared`  PrepareRun's output: `{runSpec, cluster{name, endpoint, certificateAuthority}, manifests}`
 * - `$.targetPods` `{pods: [Pod]}`; `$.located` `{reservations}`; `$.placement` `{zone, podPlacement, runSpecPatch}`
 * - `$.run.runSpec` the RunSpec with `placement.zone` filled in (what Aggregate and Publish get)
 * - `$.job` `{status, statusText}` of the last GetJob; `$.poll.count`
 * - `$.aggregate`, `$.publish` the Lambda outputs; `$.error` the last caught error;
 *   `$.failure` `{error, cause}` once something failed (Cleanup then ends in RunFailed).
 */

/** Errors Kubernetes or the API server answer with that are worth another try. */
const TRANSIENT_K8S = ['EKS.429', 'EKS.500', 'EKS.502', 'EKS.503', 'EKS.504'];
const ACCESS_DENIED = ['EKS.401', 'EKS.403'];

export const STATE = {
  prepareRun: 'PrepareRun',
  findTargetPods: 'FindTargetPods',
  targetPodRunning: 'TargetPodRunning?',
  locateZone: 'LocateZone',
  zoneKnown: 'ZoneKnown?',
  pinToZone: 'PinToZone',
  affinityToTargetPods: 'AffinityToTargetPods',
  recordZone: 'RecordZone',
  ensureServiceAccount: 'EnsureServiceAccount',
  serviceAccountExists: 'ServiceAccountExists',
  createConfigMap: 'CreateConfigMap',
  composePodTemplate: 'ComposePodTemplate',
  createJob: 'CreateJob',
  initPoll: 'InitPoll',
  waitForJob: 'WaitForJob',
  getJob: 'GetJob',
  countPoll: 'CountPoll',
  jobState: 'JobState?',
  jobSucceeded: 'JobSucceeded',
  inspectRunnerPods: 'InspectRunnerPods',
  runnerLogKept: 'RunnerLogKept?',
  aggregate: 'Aggregate',
  publish: 'Publish',
  deleteJob: 'DeleteJob',
  deleteConfigMap: 'DeleteConfigMap',
  cleanedUp: 'CleanedUp',
  outcome: 'Outcome?',
  runSummary: 'RunSummary',
  succeeded: 'Succeeded',
  runFailed: 'RunFailed',
} as const;

export const failureStateName = (kind: FailureKind) => `Describe${kind}`;

interface EksCallSpec {
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
function eksCall(scope: Construct, id: string, clusterName: string, spec: EksCallSpec): sfn.CustomState {
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
class FailureRoutes {
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

interface FragmentContext {
  config: StackConfig;
  paths: ReturnType<typeof kubernetesPaths>;
  routes: FailureRoutes;
}

const jobPath = (ctx: Pick<FragmentContext, 'paths'>) => ({
  expr: `States.Format('${ctx.paths.jobs}/{}', $.prepared.runSpec.names.job)`,
});

/**
 * Finds a Running target pod and the availability zone it runs in.
 *
 * Input: `$.prepared`. Output: adds `$.targetPods`, `$.located`, `$.placement = {zone,
 * podPlacement, runSpecPatch}` (zone `"unknown"` with podAffinity when no EC2 instance has the pod's
 * host IP, e.g. Fargate, or the lookup failed) and `$.run.runSpec`.
 * Errors: no Running pod → NoRunningTargetPod; EKS.401/403 → AccessDenied; others → StepFailed.
 */
class LocateTarget extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: FragmentContext) {
    super(scope, id);
    const find = eksCall(this, STATE.findTargetPods, ctx.config.clusterName, {
      comment: 'Running pods of the inference server (AmazonEKSViewPolicy on the target namespace)',
      method: 'GET',
      path: ctx.paths.targetPods,
      query: {
        labelSelector: { expr: 'States.Array($.prepared.runSpec.target.labelSelector)' },
        fieldSelector: ['status.phase=Running'],
        limit: ['1'],
      },
      resultSelector: { 'pods.$': '$.ResponseBody.items' },
      resultPath: '$.targetPods',
    });
    ctx.routes.catchKubernetes(find);

    const hostIp = '$.targetPods.pods[0].status.hostIP';
    const az = '$.located.reservations[0].Instances[0].Placement.AvailabilityZone';
    const locate = new tasks.CallAwsService(this, STATE.locateZone, {
      comment: "The target pod's node (private IP = pod hostIP) → its availability zone",
      service: 'ec2',
      action: 'describeInstances',
      iamAction: 'ec2:DescribeInstances',
      iamResources: ['*'],
      parameters: { Filters: [{ Name: 'private-ip-address', Values: sfn.JsonPath.array(sfn.JsonPath.stringAt(hostIp)) }] },
      resultSelector: { reservations: sfn.JsonPath.listAt('$.Reservations') },
      resultPath: '$.located',
    });
    const pin = new sfn.Pass(this, STATE.pinToZone, {
      parameters: {
        'zone.$': az,
        podPlacement: { nodeSelector: { [`${ZONE_LABEL}.$`]: az } },
        runSpecPatch: { placement: { 'zone.$': az } },
      },
      resultPath: '$.placement',
    });
    const affinity = new sfn.Pass(this, STATE.affinityToTargetPods, {
      comment: 'Zone unknown (Fargate, or no EC2 instance owns the host IP): required podAffinity to the target pods',
      parameters: {
        zone: 'unknown',
        'podPlacement.$': '$.prepared.manifests.zoneUnknownPlacement',
        runSpecPatch: { placement: { zone: 'unknown' } },
      },
      resultPath: '$.placement',
    });
    locate.addCatch(affinity, { errors: [sfn.Errors.ALL], resultPath: '$.zoneLookupError' });
    const record = new sfn.Pass(this, STATE.recordZone, {
      parameters: { 'runSpec.$': 'States.JsonMerge($.prepared.runSpec, $.placement.runSpecPatch, false)' },
      resultPath: '$.run',
    });
    pin.next(record);
    affinity.next(record);

    find.next(
      new sfn.Choice(this, STATE.targetPodRunning)
        .when(
          sfn.Condition.isPresent(hostIp),
          locate.next(new sfn.Choice(this, STATE.zoneKnown).when(sfn.Condition.isPresent(az), pin).otherwise(affinity)),
        )
        .otherwise(ctx.routes.to('NoRunningTargetPod')),
    );
    this.startState = find;
    this.endStates = [record];
  }
}

/**
 * Creates the run's Kubernetes objects: the runner ServiceAccount (409 AlreadyExists is fine), the
 * ConfigMap, and the Job (its pod spec shallow-merged with `$.placement.podPlacement`).
 *
 * Input: `$.prepared`, `$.placement`. Output: unchanged (+ `$.compose`).
 * Errors: EKS.404 → NamespaceMissing; EKS.401/403 → AccessDenied; others → StepFailed.
 */
class LaunchJob extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: FragmentContext) {
    super(scope, id);
    const sa = eksCall(this, STATE.ensureServiceAccount, ctx.config.clusterName, {
      comment: 'The runner ServiceAccount (its Pod Identity association grants S3 writes under runs/)',
      method: 'POST',
      path: ctx.paths.serviceAccounts,
      body: { path: '$.prepared.manifests.serviceAccount' },
      resultPath: null,
    });
    const cm = eksCall(this, STATE.createConfigMap, ctx.config.clusterName, {
      comment: "The run's config.yml",
      method: 'POST',
      path: ctx.paths.configMaps,
      body: { path: '$.prepared.manifests.configMap' },
      resultPath: null,
    });
    const compose = new sfn.Pass(this, STATE.composePodTemplate, {
      parameters: {
        template: {
          'metadata.$': '$.prepared.manifests.job.template.metadata',
          'spec.$': 'States.JsonMerge($.prepared.manifests.job.template.podSpec, $.placement.podPlacement, false)',
        },
      },
      resultPath: '$.compose',
    });
    const job = eksCall(this, STATE.createJob, ctx.config.clusterName, {
      comment: 'The load generator Job, pinned to the target zone',
      method: 'POST',
      path: ctx.paths.jobs,
      body: {
        template: {
          apiVersion: 'batch/v1',
          kind: 'Job',
          'metadata.$': '$.prepared.manifests.job.metadata',
          'spec.$': 'States.JsonMerge($.prepared.manifests.job.spec, $.compose, false)',
        },
      },
      resultPath: null,
    });
    const exists = new sfn.Pass(this, STATE.serviceAccountExists, { comment: '409 AlreadyExists: reuse it' });
    sa.addCatch(exists, { errors: ['EKS.409'], resultPath: '$.serviceAccountCreate' });
    ctx.routes.catchKubernetes(sa, 'NamespaceMissing');
    ctx.routes.catchKubernetes(cm, 'NamespaceMissing');
    ctx.routes.catchKubernetes(job, 'NamespaceMissing');
    sa.next(cm);
    exists.next(cm);
    cm.next(compose).next(job);
    this.startState = sa;
    this.endStates = [job];
  }
}

/**
 * Polls the Job: Wait (runSpec.job.pollIntervalSeconds) → GetJob → count → decide, at most
 * `runSpec.job.maxPolls` times (derived from activeDeadlineSeconds).
 *
 * Input: `$.prepared`. Output: `$.job = {status, statusText}`, `$.poll.count`.
 * Errors: Job failed → JobFailed (with the runner's last log lines when Kubernetes kept them);
 * deadline → JobDeadlineExceeded; poll bound → JobPollLimit; 404 → JobVanished; 401/403 → AccessDenied.
 */
class WatchJob extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: FragmentContext, words: WorkflowWords) {
    super(scope, id);
    const init = new sfn.Pass(this, STATE.initPoll, { result: sfn.Result.fromObject({ count: 0 }), resultPath: '$.poll' });
    const wait = new sfn.Wait(this, STATE.waitForJob, { time: sfn.WaitTime.secondsPath('$.prepared.runSpec.job.pollIntervalSeconds') });
    const get = eksCall(this, STATE.getJob, ctx.config.clusterName, {
      comment: "The Job's status (succeeded / failed counts, conditions)",
      method: 'GET',
      path: jobPath(ctx),
      resultSelector: { 'status.$': '$.ResponseBody.status', 'statusText.$': 'States.JsonToString($.ResponseBody.status)' },
      resultPath: '$.job',
    });
    ctx.routes.catchKubernetes(get, 'JobVanished');
    const count = new sfn.Pass(this, STATE.countPoll, { parameters: { 'count.$': 'States.MathAdd($.poll.count, 1)' }, resultPath: '$.poll' });
    const done = new sfn.Pass(this, STATE.jobSucceeded);

    const inspect = eksCall(this, STATE.inspectRunnerPods, ctx.config.clusterName, {
      comment: "The failed runner pod: Kubernetes keeps its last log lines as the termination message",
      method: 'GET',
      path: `/api/v1/namespaces/${ctx.config.benchmarkNamespace}/pods`,
      query: {
        labelSelector: { expr: "States.Array(States.Format('batch.kubernetes.io/job-name={}', $.prepared.runSpec.names.job))" },
        fieldSelector: ['status.phase=Failed'],
        limit: ['1'],
      },
      resultSelector: { 'pods.$': '$.ResponseBody.items' },
      resultPath: '$.runnerPods',
    });
    const withLog = new sfn.Pass(this, `${failureStateName('JobFailed')}WithLog`, {
      parameters: { error: 'JobFailed', 'cause.$': jobFailedWithLogCause(words) },
      resultPath: '$.failure',
    });
    const terminated = '$.runnerPods.pods[0].status.containerStatuses[0].state.terminated';
    withLog.next(ctx.routes.cleanup);
    inspect.addCatch(ctx.routes.to('JobFailed'), { errors: [sfn.Errors.ALL], resultPath: '$.inspectError' });
    inspect.next(
      new sfn.Choice(this, STATE.runnerLogKept)
        .when(sfn.Condition.and(sfn.Condition.isPresent(`${terminated}.message`), sfn.Condition.isPresent(`${terminated}.exitCode`)), withLog)
        .otherwise(ctx.routes.to('JobFailed')),
    );

    init.next(wait).next(get).next(count).next(
      new sfn.Choice(this, STATE.jobState)
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.job.status.succeeded'),
            sfn.Condition.numberGreaterThanEqualsJsonPath('$.job.status.succeeded', '$.prepared.runSpec.job.completions'),
          ),
          done,
        )
        .when(sfn.Condition.stringMatches('$.job.statusText', '*DeadlineExceeded*'), ctx.routes.to('JobDeadlineExceeded'))
        .when(
          sfn.Condition.and(sfn.Condition.isPresent('$.job.status.failed'), sfn.Condition.numberGreaterThan('$.job.status.failed', 0)),
          inspect,
        )
        .when(sfn.Condition.numberGreaterThanEqualsJsonPath('$.poll.count', '$.prepared.runSpec.job.maxPolls'), ctx.routes.to('JobPollLimit'))
        .otherwise(wait),
    );
    this.startState = init;
    this.endStates = [done];
  }
}

/**
 * Deletes the run's Job (propagationPolicy Background, so its pods go too) and ConfigMap. Never
 * fails: a 404 or any error is recorded under `$.cleanup` and the run ends as it would have.
 *
 * Input: `$.prepared`. Output: adds `$.cleanup.{job,configMap}` only on errors.
 */
class Cleanup extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: Omit<FragmentContext, 'routes'>) {
    super(scope, id);
    const delJob = eksCall(this, STATE.deleteJob, ctx.config.clusterName, {
      comment: 'Delete the Job and (Background propagation) its pods',
      method: 'DELETE',
      path: jobPath(ctx),
      query: { propagationPolicy: ['Background'] },
      resultPath: null,
    });
    const delCm = eksCall(this, STATE.deleteConfigMap, ctx.config.clusterName, {
      comment: "Delete the run's ConfigMap",
      method: 'DELETE',
      path: { expr: `States.Format('${ctx.paths.configMaps}/{}', $.prepared.runSpec.names.configMap)` },
      resultPath: null,
    });
    const done = new sfn.Pass(this, STATE.cleanedUp);
    for (const s of [delJob, delCm]) s.addRetry({ errors: TRANSIENT_K8S, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    delJob.addCatch(delCm, { errors: [sfn.Errors.ALL], resultPath: '$.cleanup.job' });
    delCm.addCatch(done, { errors: [sfn.Errors.ALL], resultPath: '$.cleanup.configMap' });
    delJob.next(delCm).next(done);
    this.startState = delJob;
    this.endStates = [done];
  }
}

export interface WorkflowProps {
  config: StackConfig;
  prepareRun: lambda.IFunction;
  aggregate: lambda.IFunction;
  publish: lambda.IFunction;
}

export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { config } = props;
    const words: WorkflowWords = {
      clusterName: config.clusterName,
      benchmarkNamespace: config.benchmarkNamespace,
      targetNamespace: config.targetNamespace,
      serviceAccountName: config.runnerServiceAccount,
    };
    const paths = kubernetesPaths(config.benchmarkNamespace, config.targetNamespace);

    const runFailed = new sfn.Fail(this, STATE.runFailed, { errorPath: '$.failure.error', causePath: '$.failure.cause' });
    const cleanup = new Cleanup(this, 'Cleanup', { config, paths });
    const routes = new FailureRoutes(this, failureCauses(words), cleanup, runFailed);
    const ctx: FragmentContext = { config, paths, routes };

    const prepare = new tasks.LambdaInvoke(this, STATE.prepareRun, {
      comment: 'Execution input + stack defaults → RunSpec, cluster endpoint/CA, manifests; run-spec.json + config.yml',
      lambdaFunction: props.prepareRun,
      payload: sfn.TaskInput.fromObject({
        input: sfn.JsonPath.entirePayload,
        executionId: sfn.JsonPath.executionId,
        startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath: '$.prepared',
    });
    prepare.addCatch(routes.to('InvalidInput'), { errors: ['InvalidInput'], resultPath: '$.error' });
    prepare.addCatch(routes.to('PrepareFailed'), { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const aggregate = new tasks.LambdaInvoke(this, STATE.aggregate, {
      comment: 'Raw results → merged HDR histograms → summary.json with validity',
      lambdaFunction: props.aggregate,
      payload: sfn.TaskInput.fromObject({ runSpec: sfn.JsonPath.objectAt('$.run.runSpec') }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath: '$.aggregate',
    });
    aggregate.addCatch(routes.to('NoResults'), { errors: ['NoResults'], resultPath: '$.error' });
    aggregate.addCatch(routes.to('StepFailed'), { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const publish = new tasks.LambdaInvoke(this, STATE.publish, {
      comment: "The run's metrics to CloudWatch (namespace, dimensions Model and Scenario)",
      lambdaFunction: props.publish,
      payload: sfn.TaskInput.fromObject({
        runSpec: sfn.JsonPath.objectAt('$.run.runSpec'),
        aggregate: sfn.JsonPath.objectAt('$.aggregate'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath: '$.publish',
    });
    publish.addCatch(routes.to('StepFailed'), { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const summary = new sfn.Pass(this, STATE.runSummary, {
      parameters: {
        'runId.$': '$.prepared.runSpec.runId',
        'scenario.$': '$.prepared.runSpec.scenario',
        'model.$': '$.prepared.runSpec.model',
        'runner.$': '$.prepared.runSpec.runner.kind',
        'zone.$': '$.placement.zone',
        'results.$': '$.prepared.runSpec.s3.uri',
        'summaryKey.$': '$.aggregate.summaryKey',
        'valid.$': '$.aggregate.valid',
        'reasons.$': '$.aggregate.reasons',
        'succeeded.$': '$.aggregate.succeeded',
        'published.$': '$.publish.published',
      },
    });
    cleanup.next(
      new sfn.Choice(this, STATE.outcome)
        .when(sfn.Condition.isPresent('$.failure'), runFailed)
        .otherwise(summary.next(new sfn.Succeed(this, STATE.succeeded))),
    );

    const definition = prepare
      .next(new LocateTarget(this, 'LocateTarget', ctx))
      .next(new LaunchJob(this, 'LaunchJob', ctx))
      .next(new WatchJob(this, 'WatchJob', ctx, words))
      .next(aggregate)
      .next(publish)
      .next(cleanup);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `inference-baseline: ${config.scenario} benchmark of ${config.modelName} on EKS cluster ${config.clusterName}`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.minutes(config.workflowTimeoutMinutes),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    Tags.of(this.stateMachine).add(STACK_TAG, Stack.of(this).stackName);
    acknowledge(this.stateMachine, [
      {
        id: iam5('*'),
        reason: 'CloudWatch Logs delivery, X-Ray and ec2:DescribeInstances (LocateZone) support no resource-level permissions.',
      },
      ...[props.prepareRun, props.aggregate, props.publish].map((fn) => ({
        id: iam5(`${arnRef(fn)}:*`),
        reason: 'Generated by CDK for LambdaInvoke: invoke any version or alias of this one function.',
      })),
    ]);
  }
}
