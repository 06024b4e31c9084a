import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { METRICS_TARGETS_KEY, ZONE_LABEL } from '../../../runtime/core/manifests/index.ts';
import { eksCall, type FragmentContext } from './eks-call.ts';
import { STATE } from './state-names.ts';

/**
 * Finds a Running target pod and the availability zone it runs in, and keeps only what later
 * states use (a Pod or a DescribeInstances answer is kilobytes; the state must stay small, an
 * oversized one cannot be caught).
 *
 * Input: `$.prepared`. Output: `$.targetPods = {podName, hostIP, nodeName, images}`,
 * `$.replicas.configData = {"metrics-targets.json": "[<pod IP>, …]"}` (every Running target pod:
 * the runner scrapes each one's metrics; the workflow adds it to the run's ConfigMap),
 * `$.placement = {zone, instanceType, podPlacement, runSpecPatch}` (zone `"unknown"` with
 * podAffinity when no EC2 instance has the pod's host IP, e.g. Fargate, or the lookup failed) and
 * `$.run.runSpec` (the RunSpec with its placement and what the run measured against).
 * Errors: no Running pod → NoRunningTargetPod; EKS.401/403 → AccessDenied; others → StepFailed.
 */
export class LocateTarget extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: FragmentContext) {
    super(scope, id);
    /** The target's Running pods by the RunSpec's label selector, at most `limit` of them. */
    const runningTargetPods = (limit: number) => ({
      labelSelector: { expr: 'States.Array($.prepared.runSpec.target.labelSelector)' },
      fieldSelector: ['status.phase=Running'],
      limit: [String(limit)],
    });
    const find = eksCall(this, STATE.findTargetPods, ctx.kubernetes, {
      comment: 'Running pods of the inference server (AmazonEKSViewPolicy on the target namespace)',
      method: 'GET',
      path: ctx.paths.targetPods,
      query: runningTargetPods(1),
      resultSelector: { 'pods.$': '$.ResponseBody.items' },
      resultPath: '$.targetPods',
    });
    ctx.routes.catchKubernetes(find);

    const pod = '$.targetPods.pods[0]';
    const describe = new sfn.Pass(this, STATE.describeTarget, {
      comment: 'Keep the pod facts later states use; the whole Pod leaves the state',
      parameters: {
        'podName.$': `${pod}.metadata.name`,
        'hostIP.$': `${pod}.status.hostIP`,
        'nodeName.$': `${pod}.spec.nodeName`,
        'images.$': `${pod}.spec.containers[*].image`,
      },
      resultPath: '$.targetPods',
    });

    // Every Running replica's IP, listed only once one is known to run (a wildcard over an empty list is not a path to rely on).
    const replicas = eksCall(this, STATE.listTargetReplicas, ctx.kubernetes, {
      comment: "Every Running target pod's IP: the runner reads each replica's metrics, not the Service's",
      method: 'GET',
      path: ctx.paths.targetPods,
      query: runningTargetPods(500),
      resultSelector: { configData: { [`${METRICS_TARGETS_KEY}.$`]: 'States.JsonToString($.ResponseBody.items[*].status.podIP)' } },
      resultPath: '$.replicas',
    });
    ctx.routes.catchKubernetes(replicas);

    const instance = '$.placement.reservations[0].Instances[0]';
    const locate = new tasks.CallAwsService(this, STATE.locateZone, {
      comment: "The target pod's node (private IP = pod hostIP) → its availability zone",
      service: 'ec2',
      action: 'describeInstances',
      iamAction: 'ec2:DescribeInstances',
      iamResources: ['*'],
      parameters: { Filters: [{ Name: 'private-ip-address', Values: sfn.JsonPath.array(sfn.JsonPath.stringAt('$.targetPods.hostIP')) }] },
      resultSelector: { reservations: sfn.JsonPath.listAt('$.Reservations') },
      resultPath: '$.placement',
    });
    const observed = { 'podName.$': '$.targetPods.podName', 'nodeName.$': '$.targetPods.nodeName', 'images.$': '$.targetPods.images' };
    // Both write `$.placement` whole, so the lookup's raw answer leaves the state.
    const pin = new sfn.Pass(this, STATE.pinToZone, {
      parameters: {
        'zone.$': `${instance}.Placement.AvailabilityZone`,
        'instanceType.$': `${instance}.InstanceType`,
        podPlacement: { nodeSelector: { [`${ZONE_LABEL}.$`]: `${instance}.Placement.AvailabilityZone` } },
        runSpecPatch: { placement: { 'zone.$': `${instance}.Placement.AvailabilityZone` }, observed: { ...observed, 'instanceType.$': `${instance}.InstanceType` } },
      },
      resultPath: '$.placement',
    });
    const affinity = new sfn.Pass(this, STATE.affinityToTargetPods, {
      comment: 'Zone unknown (Fargate, or no EC2 instance owns the host IP): required podAffinity to the target pods',
      parameters: {
        zone: 'unknown',
        'podPlacement.$': '$.prepared.manifests.zoneUnknownPlacement',
        runSpecPatch: { placement: { zone: 'unknown' }, observed },
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
          sfn.Condition.isPresent(`${pod}.status.hostIP`),
          describe.next(replicas).next(locate).next(
            new sfn.Choice(this, STATE.zoneKnown)
              .when(sfn.Condition.and(sfn.Condition.isPresent(`${instance}.Placement.AvailabilityZone`), sfn.Condition.isPresent(`${instance}.InstanceType`)), pin)
              .otherwise(affinity),
          ),
        )
        .otherwise(ctx.routes.to('NoRunningTargetPod')),
    );
    this.startState = find;
    this.endStates = [record];
  }
}
