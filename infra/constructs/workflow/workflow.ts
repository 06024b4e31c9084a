import { ArnFormat, Duration, Names, Stack, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { kubernetesPaths } from '../../../runtime/core/manifests/index.ts';
import { STACK_TAG } from '../../../runtime/core/run-spec/index.ts';
import type { StackConfig } from '../../config.ts';
import { acknowledge, arnRef, iam5 } from '../../nag.ts';
import { failureCauses, type WorkflowWords } from './causes.ts';
import { Cleanup } from './cleanup.ts';
import { executionLogGroup } from './execution-logs.ts';
import { FailureRoutes, grantKubernetesCalls, type FragmentContext, type KubernetesCaller } from './eks-call.ts';
import { LaunchJob } from './launch-job.ts';
import { LocateTarget } from './locate-target.ts';
import { STATE } from './state-names.ts';
import { Reaper } from './reaper.ts';
import { WatchJob } from './watch-job.ts';

/**
 * The benchmark workflow (Step Functions Standard, JSONPath). The cluster is looked up at run time:
 * PrepareRun's DescribeCluster result supplies `Endpoint` / `CertificateAuthority` to every
 * `eks:call`, made from `sfn.CustomState` (tasks.EksCall would need the cluster's endpoint and CA at
 * synth time, through an imported v1 `aws-eks` cluster). `eks:call` needs no IAM permission: the
 * Kubernetes API authorizes the state machine role through the stack's EKS access entry.
 *
 * Execution data, by path (kept small: only what later states read):
 * - `$.prepared`  PrepareRun's output: `{runSpec, cluster{name, endpoint, certificateAuthority}, manifests}`
 * - `$.targetPods` `{podName, hostIP, nodeName, images}`; `$.placement` `{zone, instanceType, podPlacement, runSpecPatch}`
 * - `$.run.runSpec` the RunSpec with its placement and `observed` target filled in (what Aggregate and Publish get)
 * - `$.serviceAccount.count`, `$.createdJob.uid`
 * - `$.job` `{status, statusText}` of the last GetJob; `$.poll.count`
 * - `$.aggregate`, `$.publish` the Lambda outputs; `$.error` the last caught error;
 *   `$.failure` `{error, cause}` once something failed (Cleanup then ends in RunFailed).
 */

export interface WorkflowProps {
  config: StackConfig;
  prepareRun: lambda.IFunction;
  aggregate: lambda.IFunction;
  publish: lambda.IFunction;
  /** Releases a run's claim on its target (Cleanup), and resolves an ended execution's run (Reaper). */
  releaseRun: lambda.IFunction;
  /** `clusterAccess: vpc`: the function that makes the Kubernetes calls instead of `eks:call`. */
  kubeCall?: lambda.IFunction;
  timeouts: LambdaTimeouts;
  /** A regressed run's notice goes here (the alarms' topic). */
  notifications: sns.ITopic;
}

/** How long each Lambda task may take (its function's own timeout, so a hung call cannot stall the run). */
export interface LambdaTimeouts {
  prepareRun: Duration;
  aggregate: Duration;
  publish: Duration;
}

export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly reaper: Reaper;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { config } = props;
    const words: WorkflowWords = {
      clusterName: config.clusterName,
      benchmarkNamespace: config.benchmarkNamespace,
      targetNamespace: config.targetNamespace,
      serviceAccountName: config.runnerServiceAccount,
      kubernetesAccess: config.workflowKubernetesAccess,
      clusterAccess: config.clusterAccess,
      runnerCredentials: config.runnerCredentials,
    };
    const paths = kubernetesPaths(config.benchmarkNamespace, config.targetNamespace);
    const kubernetes: KubernetesCaller = { clusterName: config.clusterName, ...(props.kubeCall ? { kubeCall: props.kubeCall } : {}) };

    const runFailed = new sfn.Fail(this, STATE.runFailed, { errorPath: '$.failure.error', causePath: '$.failure.cause' });
    const cleanup = new Cleanup(this, 'Cleanup', { config, paths, kubernetes }, props.releaseRun);
    const routes = new FailureRoutes(this, failureCauses(words), cleanup, runFailed);
    const ctx: FragmentContext = { config, paths, kubernetes, routes };

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
      taskTimeout: sfn.Timeout.duration(props.timeouts.prepareRun),
      resultPath: '$.prepared',
    });
    prepare.addCatch(routes.to('InvalidInput'), { errors: ['InvalidInput'], resultPath: '$.error' });
    prepare.addCatch(routes.to('RunInProgress'), { errors: ['RunInProgress'], resultPath: '$.error' });
    prepare.addCatch(routes.to('PrepareFailed'), { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const aggregate = new tasks.LambdaInvoke(this, STATE.aggregate, {
      comment: 'Raw results → merged HDR histograms → summary.json with validity',
      lambdaFunction: props.aggregate,
      payload: sfn.TaskInput.fromObject({ runSpec: sfn.JsonPath.objectAt('$.run.runSpec') }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      taskTimeout: sfn.Timeout.duration(props.timeouts.aggregate),
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
      taskTimeout: sfn.Timeout.duration(props.timeouts.publish),
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
        'comparison.$': '$.aggregate.comparison.headline',
        'regressed.$': '$.aggregate.comparison.regressed',
        'changes.$': '$.aggregate.comparison.changes',
      },
    });
    cleanup.next(
      new sfn.Choice(this, STATE.outcome)
        .when(sfn.Condition.isPresent('$.failure'), runFailed)
        .otherwise(summary.next(new sfn.Succeed(this, STATE.succeeded))),
    );

    // A regressed run tells the alarms' topic which metrics moved and what changed: the
    // BaselineRegression alarm can only say that something did.
    const notify = new tasks.SnsPublish(this, STATE.notifyRegression, {
      comment: "The regression notice (Aggregate's words) to the alarms' topic",
      topic: props.notifications,
      subject: `inference-baseline: ${config.scenario} / ${config.modelName} regressed`,
      message: sfn.TaskInput.fromJsonPathAt('$.aggregate.comparison.notice'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    // A notice that cannot be sent does not fail a measured run: the alarm still fires.
    notify.addCatch(cleanup, { errors: [sfn.Errors.ALL], resultPath: '$.noticeError' });
    notify.next(cleanup);
    const regressed = new sfn.Choice(this, STATE.regressed)
      .when(sfn.Condition.stringEquals('$.aggregate.comparison.verdict', 'regressed'), notify)
      .otherwise(cleanup);

    const definition = prepare
      .next(new LocateTarget(this, 'LocateTarget', ctx))
      .next(new LaunchJob(this, 'LaunchJob', ctx))
      .next(new WatchJob(this, 'WatchJob', ctx, words))
      .next(aggregate)
      .next(publish)
      .next(regressed);

    // The benchmark and the reaper share one role, which trusts Step Functions only on behalf of
    // these two state machines (their names are this stack's: two stacks coexist).
    const names = { workflow: `${Names.uniqueResourceName(this, { maxLength: 70 })}-Benchmark`, reaper: `${Names.uniqueResourceName(this, { maxLength: 70 })}-Reaper` };
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com').withConditions({
        ArnEquals: { 'aws:SourceArn': Object.values(names).map((n) => stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: n, arnFormat: ArnFormat.COLON_RESOURCE_NAME })) },
        StringEquals: { 'aws:SourceAccount': stack.account },
      }),
      description: `inference-baseline workflow and reaper (${config.clusterName}): calls the Kubernetes API through the stack's EKS access entry`,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: names.workflow,
      comment: `inference-baseline: ${config.scenario} benchmark of ${config.modelName} on EKS cluster ${config.clusterName}`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      role,
      timeout: Duration.minutes(config.workflowTimeoutMinutes),
      tracingEnabled: true,
      // Every state's entry and exit, without the execution's data: PrepareRun's output carries the
      // runner bundle's presigned URL, which a log kept for a year must not (the execution history
      // shows the data, to those who may read it, for 90 days).
      logs: { destination: executionLogGroup(this, 'Logs'), level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    Tags.of(this.stateMachine).add(STACK_TAG, Stack.of(this).stackName);
    // The role's policy holds what both state machines' tasks need (the reaper's ReleaseRun included).
    acknowledge(role, [
      {
        id: iam5('*'),
        reason: 'CloudWatch Logs delivery, X-Ray and ec2:DescribeInstances (LocateZone) support no resource-level permissions.',
      },
      ...[props.prepareRun, props.aggregate, props.publish, props.releaseRun, ...(props.kubeCall ? [props.kubeCall] : [])].map((fn) => ({
        id: iam5(`${arnRef(fn)}:*`),
        reason: 'Generated by CDK for LambdaInvoke: invoke any version or alias of this one function.',
      })),
    ]);
    grantKubernetesCalls(kubernetes, role);
    this.reaper = new Reaper(this, 'Reaper', { config, kubernetes, workflow: this.stateMachine, releaseRun: props.releaseRun, name: names.reaper });
  }
}
