import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { eksCall, jobPath, TRANSIENT_K8S, type FragmentContext } from './eks-call.ts';
import { STATE } from './state-names.ts';

/**
 * Deletes the run's Job (propagationPolicy Background, so its pods go too) and ConfigMap. Never
 * fails: a 404 or any error is recorded under `$.cleanup` and the run ends as it would have.
 *
 * Input: `$.prepared`. Output: adds `$.cleanup.{job,configMap}` only on errors.
 */
export class Cleanup extends sfn.StateMachineFragment {
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
