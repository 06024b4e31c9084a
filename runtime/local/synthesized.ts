import { createHash } from 'node:crypto';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BaselineStack } from '../../infra/baseline-stack.ts';

/**
 * The stack, synthesized in-process (no bundling, no network), and what the local workflow takes
 * from its template: the benchmark state machine's definition and the reaper's — exactly as
 * CloudFormation would receive them, with their tokens resolved to local values — the Lambda
 * function each Task invokes, and the EventBridge rule that starts the reaper.
 */

export const LOCAL_ENV = { account: '000000000000', region: 'us-east-1' };

export type Definition = { StartAt: string; States: Record<string, Record<string, unknown>>; TimeoutSeconds?: number } & Record<string, unknown>;

export interface SynthesizedWorkflow {
  template: Record<string, unknown>;
  definition: Definition;
  reaperDefinition: Definition;
  /** sha256 of the definition text as synthesized: what execution.json records. */
  definitionSha256: string;
  /** Lambda function ARNs (as resolved in the definitions) → the handler they run. */
  functionArns: Record<string, 'PrepareRun' | 'Aggregate' | 'Publish' | 'ReleaseRun'>;
  /** The reaper rule's pattern: the statuses of the workflow's executions it reacts to. */
  reapedStatuses: string[];
}

export function synthesizeWorkflow(config: Record<string, unknown>, outdir: string): SynthesizedWorkflow {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BaselineStack(app, 'InferenceBaselineLocal', { config, env: LOCAL_ENV });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnElement);
  const workflowId = id(stack.workflow.stateMachine);
  const reaperId = id(stack.workflow.reaper.stateMachine);
  const body = (logicalId: string): string => resolveTokens(template.Resources[logicalId]!.Properties.DefinitionString);
  const text = body(workflowId);
  const f = stack.functions;
  const functionArns = Object.fromEntries(
    ([['PrepareRun', f.prepareRun], ['Aggregate', f.aggregate], ['Publish', f.publish], ['ReleaseRun', f.releaseRun]] as const).map(([name, fn]) => [lambdaArn(id(fn)), name]),
  );
  const rule = template.Resources[id(stack.workflow.reaper.rule)]!.Properties as { EventPattern: { detail: { status: string[] } } };
  return {
    template,
    definition: JSON.parse(text) as Definition,
    reaperDefinition: JSON.parse(body(reaperId)) as Definition,
    definitionSha256: createHash('sha256').update(text).digest('hex'),
    functionArns,
    reapedStatuses: rule.EventPattern.detail.status,
  };
}

function lambdaArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_ENV.region}:${LOCAL_ENV.account}:function:${logicalId}`;
}

/**
 * A DefinitionString's intrinsic functions with local values: the partition, region and account,
 * and each function's ARN named by its logical id. Nothing else in a definition is a token.
 */
export function resolveTokens(node: unknown): string {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(resolveTokens).join(sep);
    }
    if ('Ref' in o) {
      const ref = o.Ref as string;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === 'AWS::Region') return LOCAL_ENV.region;
      if (ref === 'AWS::AccountId') return LOCAL_ENV.account;
      if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
      return ref;
    }
    if ('Fn::GetAtt' in o) {
      const [logicalId, attr] = o['Fn::GetAtt'] as [string, string];
      if (attr === 'Arn') return lambdaArn(logicalId);
      return `${logicalId}.${attr}`;
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(node)} in a state machine definition`);
}
