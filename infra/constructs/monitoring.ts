import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { metricDimensionNames, type PublishedMetric } from '../../runtime/core/summary/published.ts';
import { dashboardGraphs, metricDefinitionsMarkdown, runMetricAlarms } from '../derive.ts';

/**
 * Metric factories for the published run metrics (core/summary/published.ts): the one dimension
 * set [Model, Scenario], with the stack's model and scenario — the values Publish emits.
 */
export class RunMetrics {
  constructor(
    private readonly namespace: string,
    private readonly model: string,
    private readonly scenario: string,
  ) {}

  metric(metricName: string, statistic: string, period: Duration): cloudwatch.Metric {
    const dims: Record<(typeof metricDimensionNames)[number], string> = { Model: this.model, Scenario: this.scenario };
    return new cloudwatch.Metric({ namespace: this.namespace, metricName, dimensionsMap: dims, statistic, period });
  }

  /** One point per day (one run a night), read with the metric's own statistic: the worst of the day. */
  daily(m: PublishedMetric): cloudwatch.Metric {
    return this.metric(m.name, m.statistic, Duration.days(1)).with({ label: m.name });
  }
}

export interface MonitoringProps {
  config: StackConfig;
  /** Where the alarms notify (infra/constructs/notifications.ts). */
  topic: sns.ITopic;
  stateMachine: sfn.StateMachine;
  /** The reaper's state machine: its failures alarm too. */
  reaper: sfn.StateMachine;
  deadLetterQueue: sqs.IQueue;
}

/**
 * The dashboard of the published metrics (with their definitions) and the alarms — SLA
 * thresholds, an invalid run, a failed execution, a missing nightly run, a schedule that could
 * not start — to one SNS topic (optional e-mail subscription).
 */
export class Monitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config } = props;
    const notify = new actions.SnsAction(props.topic);
    const metrics = new RunMetrics(config.metricNamespace, config.modelName, config.scenario);

    for (const spec of runMetricAlarms(config)) {
      const alarm = new cloudwatch.Alarm(this, spec.id, {
        alarmDescription: spec.description,
        metric: metrics.metric(spec.metricName, spec.statistic, Duration.hours(spec.periodHours)),
        threshold: spec.threshold,
        evaluationPeriods: 1,
        comparisonOperator:
          spec.comparison === 'GreaterThanThreshold' ? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD : cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: { breaching: cloudwatch.TreatMissingData.BREACHING, notBreaching: cloudwatch.TreatMissingData.NOT_BREACHING, missing: cloudwatch.TreatMissingData.MISSING }[spec.missing],
      });
      if (spec.notifyOn === 'insufficient-data') alarm.addInsufficientDataAction(notify);
      else alarm.addAlarmAction(notify);
      this.alarms.push(alarm);
    }
    const failed = executionsEndedBadly(this, 'ExecutionFailed', props.stateMachine, 'ExecutionsFailed + TimedOut + Aborted', 'A benchmark execution failed, timed out or was aborted: open it in the Step Functions console; the RunFailed cause says what to check.');
    const reaperFailed = executionsEndedBadly(
      this,
      'ReaperFailed',
      props.reaper,
      'Reaper ExecutionsFailed + TimedOut + Aborted',
      "The reaper (the clean-up after a failed, timed-out or aborted run) could not finish: a run's Job or its claim on the target may be left behind. Its cause says which and how to remove it.",
    );
    // Messages arriving, not messages waiting: one dead letter alarms once, for the period it came in,
    // instead of for the 14 days the queue keeps it.
    const deadLetters = new cloudwatch.Alarm(this, 'ScheduleDeadLetters', {
      alarmDescription: 'The nightly schedule could not start the workflow (see the dead-letter queue messages for the error).',
      metric: props.deadLetterQueue.metricNumberOfMessagesSent({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const a of [failed, reaperFailed, deadLetters]) {
      a.addAlarmAction(notify);
      this.alarms.push(a);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(30) });
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: metricDefinitionsMarkdown(), width: 24, height: 10 }));
    const who = `${config.modelName} / ${config.scenario}`;
    this.dashboard.addWidgets(
      ...dashboardGraphs().map(
        (g) =>
          new cloudwatch.GraphWidget({
            title: `${g.title} — ${who}`,
            left: g.metrics.map((m) => metrics.daily(m)),
            leftYAxis: { min: 0, showUnits: false },
            width: 12,
            height: 6,
          }),
      ),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12, height: 6 }),
    );
  }
}

/** An alarm on a state machine's executions that failed, timed out or were aborted (any in 5 minutes). */
function executionsEndedBadly(scope: Construct, id: string, machine: sfn.IStateMachine, label: string, description: string): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription: description,
    metric: new cloudwatch.MathExpression({
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      usingMetrics: {
        failed: machine.metricFailed({ statistic: 'Sum' }),
        timedOut: machine.metricTimedOut({ statistic: 'Sum' }),
        aborted: machine.metricAborted({ statistic: 'Sum' }),
      },
      period: Duration.minutes(5),
      label,
    }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
