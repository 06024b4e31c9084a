import { Fn, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * A state machine's log group. Under /aws/vendedlogs/states/: CloudWatch Logs' resource policy for
 * Step Functions covers the prefix once, instead of growing with every log group (its size limit
 * bites busy accounts). Named per stack instance — the construct's unique name and the GUID of the
 * stack's id — and retained on update and delete but not when its create fails: a retried first
 * deploy, or a deploy after `cdk destroy` (which keeps the old group), never meets a group of the
 * same name.
 */
export function executionLogGroup(scope: Construct, id: string): logs.LogGroup {
  const stackGuid = Fn.select(2, Fn.split('/', Stack.of(scope).stackId));
  return new logs.LogGroup(scope, id, {
    logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(scope, { maxLength: 160 })}-${stackGuid}`,
    retention: logs.RetentionDays.ONE_YEAR,
    removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
  });
}
