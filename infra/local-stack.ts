import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { LOCAL_ENV, type LocalStack, type SynthesizedWorkflow, type WorkflowFunction } from '../runtime/core/ports/local-stack.ts';
import { BaselineStack } from './baseline-stack.ts';
import { parseStackConfig } from './config.ts';
import { runnerBundleOptions } from './constructs/runner-bundle.ts';
import { runDefaults } from './derive.ts';

/**
 * The stack as the local cloud needs it (runtime/core/ports/local-stack.ts): synthesized in-process
 * with no bundling and no network, the benchmark state machine's definition and the reaper's taken
 * from the template exactly as CloudFormation would receive them (tokens resolved to local values),
 * the Lambda function each Task invokes, the EventBridge rule that starts the reaper; the defaults
 * the stack gives PrepareRun; the runner bundle built with the asset's own esbuild options.
 */

const projectRoot = fileURLToPath(new URL('../', import.meta.url));

export const localStack: LocalStack = {
  synthesize: synthesizeWorkflow,
  runDefaults: (settings, refs) => runDefaults(parseStackConfig(settings), refs),
  async buildRunnerBundle(outfile) {
    await build(runnerBundleOptions(join(projectRoot, 'runtime', 'cli', 'main.ts'), outfile));
  },
};

export function synthesizeWorkflow(settings: Record<string, unknown>): SynthesizedWorkflow {
  // The cloud assembly is written to a folder of its own and thrown away: the template is read in memory.
  const outdir = mkdtempSync(join(tmpdir(), 'ib-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new BaselineStack(app, 'InferenceBaselineLocal', { config: settings, env: { ...LOCAL_ENV } });
    const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnElement);
    const body = (logicalId: string): string => resolveTokens(template.Resources[logicalId]!.Properties.DefinitionString);
    const text = body(id(stack.workflow.stateMachine));
    const f = stack.functions;
    const functions: Array<[WorkflowFunction, { node: { defaultChild?: unknown } }]> = [['PrepareRun', f.prepareRun], ['Aggregate', f.aggregate], ['Publish', f.publish], ['ReleaseRun', f.releaseRun]];
    const rule = template.Resources[id(stack.workflow.reaper.rule)]!.Properties as { EventPattern: { detail: { status: string[] } } };
    return {
      template,
      definition: JSON.parse(text) as SynthesizedWorkflow['definition'],
      reaperDefinition: JSON.parse(body(id(stack.workflow.reaper.stateMachine))) as SynthesizedWorkflow['definition'],
      definitionSha256: createHash('sha256').update(text).digest('hex'),
      functionArns: Object.fromEntries(functions.map(([name, fn]) => [lambdaArn(id(fn)), name])),
      reapedStatuses: rule.EventPattern.detail.status,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
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
