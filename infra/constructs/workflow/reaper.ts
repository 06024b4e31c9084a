import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { kubernetesPaths } from '../../../runtime/core/manifests/index.ts';
import type { StackConfig } from '../../config.ts';
import { eksCall, type KubernetesCaller } from './eks-call.ts';
import { executionLogGroup } from './execution-logs.ts';
import { REAPER_STATE } from './state-names.ts';

/** The execution statuses after which a run's own Cleanup may not have run. */
export const REAPED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export interface ReaperProps {
  config: StackConfig;
  /** The benchmark workflow whose ended executions are reaped. */
  workflow: sfn.StateMachine;
  releaseRun: lambda.IFunction;
  /** Who makes the Kubernetes calls (the workflow's caller). */
  kubernetes: KubernetesCaller;
  /** The state machine's name (the workflow role's trust names it). */
  name: string;
}

/**
 * Cleans up after an execution that ended without its own Cleanup (timed out, aborted, or failed
 * where no Catch applies): an EventBridge rule on the workflow's status changes starts this small
 * state machine with the event. ResolveRun rebuilds the run's names from the execution (the same
 * pure RunSpec PrepareRun built) and releases its claim on the target; the Job is then deleted
 * (Background: its pods and the ConfigMap it owns go with it). It runs under the workflow's role,
 * so the stack's one EKS access entry covers it; every step tolerates "already gone".
 */
export class Reaper extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ReaperProps) {
    super(scope, id);
    const { config } = props;
    const paths = kubernetesPaths(config.benchmarkNamespace, config.targetNamespace);
    const resolve = new tasks.LambdaInvoke(this, REAPER_STATE.resolveRun, {
      comment: "The run's names and cluster from the execution that ended; releases its claim",
      lambdaFunction: props.releaseRun,
      payload: sfn.TaskInput.fromObject({ event: sfn.JsonPath.entirePayload }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath: '$.reap',
    });
    const reapJob = eksCall(this, REAPER_STATE.reapJob, props.kubernetes, {
      comment: "Delete the run's Job, its pods and the ConfigMap it owns",
      method: 'DELETE',
      path: { expr: `States.Format('${paths.jobs}/{}', $.reap.names.job)` },
      query: { propagationPolicy: ['Background'] },
      resultPath: null,
      clusterPath: '$.reap.cluster',
    });
    const reapConfigMap = eksCall(this, REAPER_STATE.reapConfigMap, props.kubernetes, {
      comment: "Delete the run's ConfigMap if the Job never owned it",
      method: 'DELETE',
      path: { expr: `States.Format('${paths.configMaps}/{}', $.reap.names.configMap)` },
      resultPath: null,
      clusterPath: '$.reap.cluster',
    });
    const reaped = new sfn.Succeed(this, REAPER_STATE.reaped);
    // The objects are deleted first; a claim that could not be released fails the reaper afterwards
    // (its alarm fires): the claim lapses at the workflow timeout + 15 min, or an operator deletes it.
    // Each cause is composed by a Pass (States.Format), then read by the Fail through a plain path.
    const failWith = (name: string, error: string, format: string, ...args: string[]) =>
      new sfn.Pass(this, `Describe${name}`, { parameters: { 'cause.$': `States.Format('${format.replace(/'/g, "\\'")}', ${args.join(', ')})` }, resultPath: '$.failure' }).next(
        new sfn.Fail(this, name, { error, causePath: '$.failure.cause' }),
      );
    const claimNotReleased = failWith(
      REAPER_STATE.claimNotReleased,
      'ClaimNotReleased',
      'Run {}: its Kubernetes objects were deleted, but its claim on the target could not be released ({}). Until it lapses (workflow timeout + 15 min) new runs against the target fail as RunInProgress; delete {} to release it now.',
      '$.reap.runId',
      '$.reap.claimError',
      '$.reap.claimObject',
    );
    const claimChecked = new sfn.Choice(this, REAPER_STATE.claimReleased)
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.reap.claim'), sfn.Condition.stringEquals('$.reap.claim', 'failed')), claimNotReleased)
      .otherwise(reaped);
    reapJob.addCatch(reapConfigMap, { errors: [sfn.Errors.ALL], resultPath: '$.reapErrors.job' });
    reapConfigMap.addCatch(claimChecked, { errors: [sfn.Errors.ALL], resultPath: '$.reapErrors.configMap' });
    resolve.addCatch(
      failWith(
        REAPER_STATE.reapFailed,
        'ReapFailed',
        `The reaper could not resolve the ended run ({}): its Job (if any) was not deleted. List the runs' Jobs (kubectl get jobs -n ${config.benchmarkNamespace} -l app.kubernetes.io/managed-by=inference-baseline) and delete the ended run's with --cascade=background.`,
        '$.reapError.Cause',
      ),
      { errors: [sfn.Errors.ALL], resultPath: '$.reapError' },
    );
    const definition = resolve.next(
      new sfn.Choice(this, REAPER_STATE.runObjects)
        .when(sfn.Condition.isPresent('$.reap.cluster.endpoint'), reapJob.next(reapConfigMap).next(claimChecked))
        .otherwise(new sfn.Succeed(this, REAPER_STATE.nothingToReap, { comment: 'The input was invalid or the cluster is gone: nothing of this run exists there' })),
    );
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.name,
      comment: `inference-baseline: cleans up after a benchmark execution that timed out, was aborted or failed without its Cleanup (${config.clusterName})`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      role: props.workflow.role,
      timeout: Duration.minutes(15),
      tracingEnabled: true,
      logs: { destination: executionLogGroup(this, 'Logs'), level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.rule = new events.Rule(this, 'WorkflowEnded', {
      description: 'A benchmark execution ended without its own Cleanup: reap its Kubernetes objects and its claim',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...REAPED_STATUSES], stateMachineArn: [props.workflow.stateMachineArn] },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });
  }
}
