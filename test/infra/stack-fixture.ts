import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BaselineStack } from '../../infra/baseline-stack.ts';

export const TEST_ENV = { account: '111111111111', region: 'us-west-2' };

/**
 * Synthesizes the stack without bundling (no esbuild run): fast, offline. `outdir` is where the
 * App writes its assembly; pass a self-removing temp directory (an App without one makes its own
 * `cdk.out*` in the temp folder and leaves it there).
 */
export function synthStack(outdir: string, config: Record<string, unknown> = { clusterName: 'demo' }) {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BaselineStack(app, 'Test', { config, env: TEST_ENV });
  return { app, stack, template: Template.fromStack(stack) };
}
