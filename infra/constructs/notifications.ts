import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { acknowledge } from '../nag.ts';

/**
 * The one topic people subscribe to: the alarms notify it, and the workflow publishes a regressed
 * run's notice to it (the metrics that moved and what changed: words an alarm cannot carry).
 */
export class Notifications extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: { config: StackConfig }) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Alarms', { enforceSSL: true });
    acknowledge(this.topic, [
      {
        id: 'AwsSolutions-SNS2',
        reason: 'Notifications carry metric names, thresholds and a run\'s changes, no data; CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key.',
      },
    ]);
    if (props.config.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.config.alarmEmail));
  }
}
