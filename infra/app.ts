import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InputError } from '../runtime/core/errors.ts';
import { DEFAULT_STACK_NAME } from '../runtime/core/run-spec/stack-defaults.ts';
import { BaselineStack } from './baseline-stack.ts';
import { configFromContext } from './config.ts';

// `npx cdk synth -c clusterName=demo`: configuration from cdk.json context and -c flags.
const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? DEFAULT_STACK_NAME;
const { stackName: _ignored, ...context } = configFromContext(app.node.getAllContext());
try {
  new BaselineStack(app, stackName, {
    config: context,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'inference-baseline: nightly LLM inference latency baseline on EKS',
  });
} catch (err) {
  if (err instanceof InputError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
