import type { Template } from 'aws-cdk-lib/assertions';

/**
 * The state machine definition exactly as synthesized, with its CloudFormation tokens replaced by
 * placeholder values (partition `aws`, Lambda ARNs named after their logical ids).
 */
export function synthesizedDefinition(template: Template, env = { account: '111111111111', region: 'us-west-2' }): Record<string, unknown> {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const body = (machines[0] as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString;
  return JSON.parse(resolve(body, env)) as Record<string, unknown>;
}

function resolve(node: unknown, env: { account: string; region: string }): string {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolve(p, env)).join(sep);
    }
    if ('Ref' in o) {
      const ref = o.Ref as string;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === 'AWS::Region') return env.region;
      if (ref === 'AWS::AccountId') return env.account;
      return ref;
    }
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      if (attr === 'Arn') return `arn:aws:lambda:${env.region}:${env.account}:function:${id}`;
      return `${id}.${attr}`;
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(node)}`);
}
