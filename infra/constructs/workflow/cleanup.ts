import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { eksCall, jobPath, type FragmentContext } from './eks-call.ts';
import { STATE } from './state-names.ts';

/**
 * Deletes the run's Job (propagationPolicy Background, so its pods go too, and the ConfigMap it
 * owns) and the ConfigMap (in case the Job never took ownership), then releases the run's claim on
 * its target. Never fails: any error is recorded under `$.cleanup` and the run ends as it would have.
 *
 * Input: `$.prepared`. Output: adds `$.cleanup.{job,configMap,release}` only on errors.
 */
export class Cleanup extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, ctx: Omit<FragmentContext, 'routes'>, releaseRun: lambda.IFunction) {
    super(scope, id);
    const delJob = eksCall(this, STATE.deleteJob, ctx.kubernetes, {
      comment: 'Delete the Job and (Background propagation) its pods and the ConfigMap it owns',
      method: 'DELETE',
      path: jobPath(ctx),
      query: { propagationPolicy: ['Background'] },
      resultPath: null,
    });
    const delCm = eksCall(this, STATE.deleteConfigMap, ctx.kubernetes, {
      comment: "Delete the run's ConfigMap (usually gone with its Job: 404 is fine)",
      method: 'DELETE',
      path: { expr: `States.Format('${ctx.paths.configMaps}/{}', $.prepared.runSpec.names.configMap)` },
      resultPath: null,
    });
    const release = new tasks.LambdaInvoke(this, STATE.releaseRun, {
      comment: "Release the run's claim on its target, so the next run may start",
      lambdaFunction: releaseRun,
      payload: sfn.TaskInput.fromObject({ runSpec: sfn.JsonPath.objectAt('$.prepared.runSpec') }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath: sfn.JsonPath.DISCARD,
    });
    const done = new sfn.Pass(this, STATE.cleanedUp);
    delJob.addCatch(delCm, { errors: [sfn.Errors.ALL], resultPath: '$.cleanup.job' });
    delCm.addCatch(release, { errors: [sfn.Errors.ALL], resultPath: '$.cleanup.configMap' });
    release.addCatch(done, { errors: [sfn.Errors.ALL], resultPath: '$.cleanup.release' });
    delJob.next(delCm).next(release).next(done);
    this.startState = delJob;
    this.endStates = [done];
  }
}
