import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag v3 acknowledgments (CDK's `Validations.of().acknowledge`): one per finding, each with the
 * reason it is acceptable. IAM5 findings name the wildcard resource exactly as cdk-nag prints it.
 */
export function acknowledge(scope: IConstruct, findings: Array<{ id: string; reason: string }>): void {
  for (const f of findings) Validations.of(scope).acknowledge(f);
}

/** `<LogicalId.Arn>` as cdk-nag writes a GetAtt in a finding. */
export function arnRef(construct: IConstruct): string {
  const cfn = (construct.node.defaultChild ?? construct) as CfnElement;
  return `<${Stack.of(construct).getLogicalId(cfn)}.Arn>`;
}

/** The IAM5 finding id for a wildcard resource. */
export function iam5(resource: string): string {
  return `AwsSolutions-IAM5[Resource::${resource}]`;
}
