import { fileURLToPath } from 'node:url';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { parseStackConfig, type StackConfig, type StackConfigInput } from './config.ts';
import { runDefaults } from './derive.ts';
import { RunnerIdentity, WorkflowAccess } from './constructs/cluster-access.ts';
import { Functions } from './constructs/functions.ts';
import { Notifications } from './constructs/notifications.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { ResultsBucket } from './constructs/results-bucket.ts';
import { RunnerBundle } from './constructs/runner-bundle.ts';
import { NightlySchedule } from './constructs/schedule.ts';
import { Workflow } from './constructs/workflow/workflow.ts';

export interface BaselineStackProps extends StackProps {
  /** Raw configuration (cdk.json context / -c); validated here, every problem at once. */
  config: StackConfigInput | Record<string, unknown>;
  /** Repository root (defaults to this file's parent). */
  projectRoot?: string;
}

const defaultRoot = fileURLToPath(new URL('..', import.meta.url));

/** inference-baseline on one existing EKS cluster: bucket, functions, workflow, access, schedule, monitoring. */
export class BaselineStack extends Stack {
  readonly config: StackConfig;
  readonly workflow: Workflow;
  readonly functions: Functions;

  constructor(scope: Construct, id: string, props: BaselineStackProps) {
    super(scope, id, props);
    const config = parseStackConfig(props.config as Record<string, unknown>);
    this.config = config;
    const projectRoot = props.projectRoot ?? defaultRoot;

    const results = new ResultsBucket(this, 'Results');
    const bundle = config.runnerImageMode === 'bundle' ? new RunnerBundle(this, 'RunnerBundle', { projectRoot }) : undefined;
    const runner = new RunnerIdentity(this, 'ClusterAccess', { config, bucket: results.bucket });
    const defaults = runDefaults(config, {
      region: this.region,
      bucket: results.bucket.bucketName,
      runnerRoleArn: runner.role.roleArn,
      ...(bundle ? { bundle: { bucket: bundle.asset.s3BucketName, key: bundle.asset.s3ObjectKey, sha256: bundle.sha256 } } : {}),
    });
    const functions = (this.functions = new Functions(this, 'Functions', {
      projectRoot,
      bucket: results.bucket,
      clusterName: config.clusterName,
      metricNamespace: config.metricNamespace,
      defaultsJson: this.toJsonString(defaults),
      ...(bundle ? { bundle: bundle.asset } : {}),
      ...(config.clusterAccess === 'vpc' ? { vpc: { subnetIds: config.vpcSubnetIds!, securityGroupIds: config.vpcSecurityGroupIds! } } : {}),
    }));
    const notifications = new Notifications(this, 'Notifications', { config });
    this.workflow = new Workflow(this, 'Workflow', {
      config,
      notifications: notifications.topic,
      prepareRun: functions.prepareRun,
      aggregate: functions.aggregate,
      publish: functions.publish,
      releaseRun: functions.releaseRun,
      ...(functions.kubeCall ? { kubeCall: functions.kubeCall } : {}),
      timeouts: Functions.timeouts,
    });
    // The access entry's principal is whoever calls the Kubernetes API: the state machine (eks:call) or KubeCall (vpc).
    new WorkflowAccess(this, 'WorkflowAccess', { config, workflowRole: functions.kubeCall?.role ?? this.workflow.stateMachine.role });
    const schedule = new NightlySchedule(this, 'Schedule', { config, stateMachine: this.workflow.stateMachine });
    new Monitoring(this, 'Monitoring', { config, topic: notifications.topic, stateMachine: this.workflow.stateMachine, reaper: this.workflow.reaper.stateMachine, deadLetterQueue: schedule.deadLetterQueue });

    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ResultsBucketName', { value: results.bucket.bucketName });
    new CfnOutput(this, 'StartFromConsole', {
      value: `https://${this.region}.console.aws.amazon.com/states/home?region=${this.region}#/statemachines/view/${this.workflow.stateMachine.stateMachineArn}`,
      description: 'Open, choose "Start execution", input {} (the default baseline).',
    });
  }
}
