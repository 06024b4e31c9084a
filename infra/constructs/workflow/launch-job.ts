import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { eksCall, type FragmentContext } from './eks-call.ts';
import { STATE } from './state-names.ts';

/**
 * Creates the run's Kubernetes objects: the runner ServiceAccount (409 AlreadyExists is fine), the
 * ConfigMap, and the Job (its pod spec shallow-merged with `$.placement.podPlacement`).
 *
 * Input: `$.prepared`, `$.placement`. Output: unchanged (+ `$.compose`).
 * Errors: EKS.404 → NamespaceMissing; EKS.401/403 → AccessDenied; others → StepFailed.
 */
export class LaunchJob extends sfn.StateMachineFragment {
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
