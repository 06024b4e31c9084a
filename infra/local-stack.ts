import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { LOCAL_ENV, type LocalStack, type RequiredFunction, type SynthesizedWorkflow, type WorkflowFunction } from '../runtime/core/ports/local-stack.ts';
import { RUN_DEFAULTS_ENV } from '../runtime/core/run-spec/stack-defaults.ts';
import { BaselineStack } from './baseline-stack.ts';
import { parseStackConfig } from './config.ts';
import { runnerBundleOptions } from './constructs/runner-bundle.ts';
import { runDefaults } from './derive.ts';
import { lambdaArn, localAccessEntries, localIam, localRefs, resolveIntrinsics } from './local-template.ts';

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
    const refs = localRefs(template.Resources);
    const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnElement);
    const body = (logicalId: string): string => String(resolveIntrinsics(template.Resources[logicalId]!.Properties.DefinitionString, refs));
    const text = body(id(stack.workflow.stateMachine));
    const f = stack.functions;
    const functions = Object.fromEntries(
      ([['PrepareRun', f.prepareRun], ['Aggregate', f.aggregate], ['Publish', f.publish], ['ReleaseRun', f.releaseRun], ...(f.kubeCall ? [['KubeCall', f.kubeCall] as const] : [])] as const).map(([name, fn]) => [name, lambdaArn(id(fn))]),
    ) as Record<RequiredFunction, string> & Partial<Record<WorkflowFunction, string>>;
    const stateMachines = { workflow: refs[id(stack.workflow.stateMachine)]!.arn!, reaper: refs[id(stack.workflow.reaper.stateMachine)]!.arn! };
    const rule = template.Resources[id(stack.workflow.reaper.rule)]!.Properties as { EventPattern: { detail: { status: string[] } } };
    // PrepareRun's defaults (its environment) name the bundle's object: the local bundle goes there.
    const prepareEnv = resolveIntrinsics(template.Resources[id(f.prepareRun)]!.Properties.Environment, refs) as { Variables: Record<string, string> };
    const defaults = JSON.parse(prepareEnv.Variables[RUN_DEFAULTS_ENV]!) as { bundle?: { bucket: string; key: string } };
    return {
      template,
      definition: JSON.parse(text) as SynthesizedWorkflow['definition'],
      reaperDefinition: JSON.parse(body(id(stack.workflow.reaper.stateMachine))) as SynthesizedWorkflow['definition'],
      definitionSha256: createHash('sha256').update(text).digest('hex'),
      functionArns: Object.fromEntries(Object.entries(functions).map(([name, arn]) => [arn, name])) as Record<string, WorkflowFunction>,
      reapedStatuses: rule.EventPattern.detail.status,
      stateMachines,
      iam: localIam(template.Resources, refs, functions, stateMachines),
      accessEntries: localAccessEntries(template.Resources, refs),
      runnerBundle: defaults.bundle ? { bucket: defaults.bundle.bucket, key: defaults.bundle.key } : null,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A state machine's DefinitionString as the local cloud runs it: its tokens resolved against the template. */
export function resolveDefinition(definitionString: unknown, template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> }): string {
  return String(resolveIntrinsics(definitionString, localRefs(template.Resources)));
}
