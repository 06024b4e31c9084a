import { Duration, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';
import type { StackConfig } from '../config.ts';
import { scheduleExpression } from '../derive.ts';

export interface NightlyScheduleProps {
  config: StackConfig;
  stateMachine: sfn.IStateMachine;
}

/**
 * The nightly run: EventBridge Scheduler starts the workflow with `{}` (the stack's default
 * baseline), retries a failed start, and parks starts it gave up on in a dead-letter queue.
 */
export class NightlySchedule extends Construct {
  readonly schedule: scheduler.Schedule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: NightlyScheduleProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deadLetterQueue, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the nightly schedule.' },
    ]);
    this.schedule = new scheduler.Schedule(this, 'Nightly', {
      description: `inference-baseline nightly ${props.config.scenario} run of ${props.config.modelName}`,
      schedule: scheduler.ScheduleExpression.expression(scheduleExpression(props.config.scheduleCron), TimeZone.of(props.config.scheduleTimeZone)),
      enabled: props.config.scheduleEnabled,
      target: new targets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({}),
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(2),
      }),
    });
  }
}
