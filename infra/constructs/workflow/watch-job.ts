import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { jobFailedWithLogCause, type WorkflowWords } from './causes.ts';
import { eksCall, jobPath, type FragmentContext } from './eks-call.ts';
import { failureStateName, STATE } from './state-names.ts';

/**
 * Polls the Job: Wait (runSpec.job.pollIntervalSeconds) → GetJob → count → decide, at most
 * `runSpec.job.maxPolls` times (derived from activeDeadlineSeconds).
 *
 * Input: `$.prepared`. Output: `$.job = {status, statusText}`, `$.poll.count`.
 * Errors: Job failed → JobFailed (with the runner's last log lines when Kubernetes kept them);
 * deadline → JobDeadlineExceeded; poll bound → JobPollLimit; 404 → JobVanished; 401/403 → AccessDenied;
 * a runner pod the scheduler still cannot place after `runSpec.job.schedulingPolls` polls (no ready
 * pod) → RunnerUnschedulable, quoting the scheduler, instead of waiting out the deadline; a Job with
 * no pod at all whose controller recorded FailedCreate (admission refused the pod: Pod Security, a
 * quota, a webhook) → RunnerPodRefused at that poll, quoting the refusal.
 */
export class WatchJob extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: FragmentContext, words: WorkflowWords) {
    super(scope, id);
    const init = new sfn.Pass(this, STATE.initPoll, { result: sfn.Result.fromObject({ count: 0 }), resultPath: '$.poll' });
    const wait = new sfn.Wait(this, STATE.waitForJob, { time: sfn.WaitTime.secondsPath('$.prepared.runSpec.job.pollIntervalSeconds') });
    const get = eksCall(this, STATE.getJob, ctx.kubernetes, {
      comment: "The Job's status (succeeded / failed counts, conditions)",
      method: 'GET',
      path: jobPath(ctx),
      resultSelector: { 'status.$': '$.ResponseBody.status', 'statusText.$': 'States.JsonToString($.ResponseBody.status)' },
      resultPath: '$.job',
    });
    ctx.routes.catchKubernetes(get, 'JobVanished');
    const count = new sfn.Pass(this, STATE.countPoll, { parameters: { 'count.$': 'States.MathAdd($.poll.count, 1)' }, resultPath: '$.poll' });
    const done = new sfn.Pass(this, STATE.jobSucceeded);

    // One of this Job's runner pods in a phase, as `{pods: [pod]}` at resultPath (none: `{pods: []}`).
    const runnerPodIn = (id: string, phase: 'Failed' | 'Pending', resultPath: string, comment: string) =>
      eksCall(this, id, ctx.kubernetes, {
        comment,
        method: 'GET',
        path: ctx.paths.pods,
        query: {
          labelSelector: { expr: "States.Array(States.Format('batch.kubernetes.io/job-name={}', $.prepared.runSpec.names.job))" },
          fieldSelector: [`status.phase=${phase}`],
          limit: ['1'],
        },
        resultSelector: { 'pods.$': '$.ResponseBody.items' },
        resultPath,
      });

    const inspect = runnerPodIn(STATE.inspectRunnerPods, 'Failed', '$.runnerPods', 'The failed runner pod: Kubernetes keeps its last log lines as the termination message');
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

    // No ready pod after the scheduling grace: is one waiting for a node? (Pending and PodScheduled
    // False/Unschedulable: "0/3 nodes are available: 3 Insufficient cpu."). Anything else — pulling
    // its image, starting, or a cluster that does not report `ready` — is left to the deadline.
    const inspectPending = runnerPodIn(STATE.inspectPendingPods, 'Pending', '$.pendingPods', 'A runner pod the scheduler cannot place says why in its PodScheduled condition');
    // Looking is a courtesy: if it fails, the poll goes on and the deadline still applies.
    inspectPending.addCatch(wait, { errors: [sfn.Errors.ALL], resultPath: '$.inspectError' });
    const condition = '$.pendingPods.pods[0].status.conditions[0]';
    inspectPending.next(
      new sfn.Choice(this, STATE.runnerUnschedulable)
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent(`${condition}.reason`),
            sfn.Condition.stringEquals(`${condition}.reason`, 'Unschedulable'),
            sfn.Condition.isPresent(`${condition}.message`),
          ),
          ctx.routes.to('RunnerUnschedulable'),
        )
        .otherwise(wait),
    );

    // No pod at all (the Job reports neither active, succeeded nor failed pods): did admission refuse
    // them? The Job controller says so in a FailedCreate event on the Job, and keeps trying, so the
    // Job alone would wait out its deadline. No event (a Job a queue holds suspended): poll on.
    const inspectEvents = eksCall(this, STATE.inspectJobEvents, ctx.kubernetes, {
      comment: "The Job controller's FailedCreate events: why the API server refused the Job's pods",
      method: 'GET',
      path: ctx.paths.events,
      query: {
        fieldSelector: { expr: "States.Array(States.Format('involvedObject.name={},reason=FailedCreate', $.prepared.runSpec.names.job))" },
        limit: ['1'],
      },
      resultSelector: { 'events.$': '$.ResponseBody.items' },
      resultPath: '$.jobEvents',
    });
    inspectEvents.addCatch(wait, { errors: [sfn.Errors.ALL], resultPath: '$.inspectError' });
    inspectEvents.next(
      new sfn.Choice(this, STATE.runnerPodRefused).when(sfn.Condition.isPresent('$.jobEvents.events[0].message'), ctx.routes.to('RunnerPodRefused')).otherwise(wait),
    );
    // Not(IsPresent), not `IsPresent: false`: the local interpreter (aws-local-stepfunctions 3.0.0)
    // evaluates every `Is…: false` test as false; the two mean the same to Step Functions.
    const noPodExists = sfn.Condition.not(
      sfn.Condition.or(sfn.Condition.isPresent('$.job.status.active'), sfn.Condition.isPresent('$.job.status.succeeded'), sfn.Condition.isPresent('$.job.status.failed')),
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
        .when(sfn.Condition.and(sfn.Condition.isPresent('$.job.status.ready'), sfn.Condition.numberGreaterThan('$.job.status.ready', 0)), wait)
        .when(noPodExists, inspectEvents)
        .when(sfn.Condition.numberGreaterThanEqualsJsonPath('$.poll.count', '$.prepared.runSpec.job.schedulingPolls'), inspectPending)
        .otherwise(wait),
    );
    this.startState = init;
    this.endStates = [done];
  }
}
