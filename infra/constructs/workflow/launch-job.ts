import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { eksCall, type FragmentContext } from './eks-call.ts';
import { STATE } from './state-names.ts';

/**
 * Creates the run's Kubernetes objects: the runner ServiceAccount when it is not there (found by
 * listing, not by an error name), the Job (its pod spec shallow-merged with
 * `$.placement.podPlacement`), then the ConfigMap, owned by the Job (ownerReferences) so Kubernetes
 * removes it with the Job even when no Cleanup runs. The Job's pods wait for the ConfigMap volume,
 * as the kubelet does.
 *
 * Input: `$.prepared`, `$.placement`. Output: adds `$.serviceAccount.count`, `$.compose`, `$.createdJob.uid`.
 * Errors: 404 → NamespaceMissing; 401/403 → AccessDenied; others → StepFailed (eks-call.ts: by name or by the Status in the Cause).
 */
export class LaunchJob extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: FragmentContext) {
    super(scope, id);
    const saName = '$.prepared.manifests.serviceAccount.metadata.name';
    const findSa = eksCall(this, STATE.findServiceAccount, ctx.kubernetes, {
      comment: 'Is the runner ServiceAccount there? (a list answers either way)',
      method: 'GET',
      path: ctx.paths.serviceAccounts,
      query: { fieldSelector: { expr: `States.Array(States.Format('metadata.name={}', ${saName}))` } },
      resultSelector: { 'count.$': 'States.ArrayLength($.ResponseBody.items)' },
      resultPath: '$.serviceAccount',
    });
    const createSa = eksCall(this, STATE.createServiceAccount, ctx.kubernetes, {
      comment: 'The runner ServiceAccount (its Pod Identity association grants S3 writes under runs/)',
      method: 'POST',
      path: ctx.paths.serviceAccounts,
      body: { path: '$.prepared.manifests.serviceAccount' },
      resultPath: null,
    });
    const ready = new sfn.Pass(this, STATE.serviceAccountReady);
    const compose = new sfn.Pass(this, STATE.composePodTemplate, {
      parameters: {
        template: {
          'metadata.$': '$.prepared.manifests.job.template.metadata',
          'spec.$': 'States.JsonMerge($.prepared.manifests.job.template.podSpec, $.placement.podPlacement, false)',
        },
      },
      resultPath: '$.compose',
    });
    const job = eksCall(this, STATE.createJob, ctx.kubernetes, {
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
      resultSelector: { 'uid.$': '$.ResponseBody.metadata.uid' },
      resultPath: '$.createdJob',
    });
    const cm = '$.prepared.manifests.configMap';
    const configMap = eksCall(this, STATE.createConfigMap, ctx.kubernetes, {
      comment: "The run's config.yml, owned by the Job (garbage-collected with it)",
      method: 'POST',
      path: ctx.paths.configMaps,
      body: {
        template: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            'name.$': `${cm}.metadata.name`,
            'namespace.$': `${cm}.metadata.namespace`,
            'labels.$': `${cm}.metadata.labels`,
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', 'name.$': '$.prepared.runSpec.names.job', 'uid.$': '$.createdJob.uid', blockOwnerDeletion: true }],
          },
          // config.yml, and the target replicas' IPs for the runner's metrics scrapes (LocateTarget).
          'data.$': `States.JsonMerge(${cm}.data, $.replicas.configData, false)`,
        },
      },
      resultPath: null,
    });
    for (const s of [findSa, job, configMap]) ctx.routes.catchKubernetes(s, 'NamespaceMissing');
    // Created between the list and the POST (another run): the same ServiceAccount, so fine.
    ctx.routes.catchKubernetes(createSa, 'NamespaceMissing', { state: ready, choiceName: STATE.serviceAccountConflict, resultPath: '$.serviceAccountCreate' });
    findSa.next(new sfn.Choice(this, STATE.serviceAccountFound).when(sfn.Condition.numberGreaterThan('$.serviceAccount.count', 0), ready).otherwise(createSa));
    createSa.next(ready);
    ready.next(compose).next(job).next(configMap);
    this.startState = findSa;
    this.endStates = [configMap];
  }
}
