import { LOCAL_ENV, type LocalAccessEntry, type LocalIamModel, type RequiredFunction, type WorkflowFunction } from '../runtime/core/ports/local-stack.ts';
import { BUNDLE_READER_ENV, RUN_DEFAULTS_ENV } from '../runtime/core/run-spec/stack-defaults.ts';

/**
 * A synthesized template read as the local cloud needs it: its CloudFormation intrinsics resolved to
 * the local account's values (each resource's Ref and Arn as CloudFormation would give them, with
 * local names), and the IAM it declares — every role's policies, the bucket policies, which role each
 * function, state machine and pod runs as. Pure: template in, plain JSON out.
 */

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

interface Ref {
  ref: string;
  arn?: string;
  name?: string;
}

const arn = (service: string, resource: string, region: string = LOCAL_ENV.region, account: string = LOCAL_ENV.account): string => `arn:aws:${service}:${region}:${account}:${resource}`;

/** Each resource's Ref / Arn / name locally: generated physical names become the logical id. */
export function localRefs(resources: Resources): Record<string, Ref> {
  const out: Record<string, Ref> = {};
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::S3::Bucket': {
        const name = typeof p.BucketName === 'string' ? p.BucketName : LOCAL_ENV.resultsBucket;
        out[id] = { ref: name, arn: `arn:aws:s3:::${name}`, name };
        break;
      }
      case 'AWS::IAM::Role': {
        const name = typeof p.RoleName === 'string' ? p.RoleName : id.slice(0, 64);
        out[id] = { ref: name, arn: `arn:aws:iam::${LOCAL_ENV.account}:role/${name}`, name };
        break;
      }
      case 'AWS::Lambda::Function':
        out[id] = { ref: id, arn: lambdaArn(id), name: id };
        break;
      case 'AWS::StepFunctions::StateMachine': {
        const name = typeof p.StateMachineName === 'string' ? p.StateMachineName : id;
        out[id] = { ref: arn('states', `stateMachine:${name}`), arn: arn('states', `stateMachine:${name}`), name };
        break;
      }
      case 'AWS::SNS::Topic':
        out[id] = { ref: arn('sns', id), arn: arn('sns', id), name: id };
        break;
      case 'AWS::SQS::Queue':
        out[id] = { ref: `https://sqs.${LOCAL_ENV.region}.amazonaws.com/${LOCAL_ENV.account}/${id}`, arn: arn('sqs', id), name: id };
        break;
      case 'AWS::Logs::LogGroup': {
        const name = typeof p.LogGroupName === 'string' ? p.LogGroupName : id;
        out[id] = { ref: name, arn: arn('logs', `log-group:${name}:*`), name };
        break;
      }
      default:
        out[id] = { ref: id };
    }
  }
  return out;
}

export function lambdaArn(logicalId: string): string {
  return arn('lambda', `function:${logicalId}`);
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_ENV.region,
  'AWS::AccountId': LOCAL_ENV.account,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'InferenceBaselineLocal',
  'AWS::StackId': arn('cloudformation', 'stack/InferenceBaselineLocal/00000000-0000-0000-0000-000000000000'),
};

/** A template value with its intrinsic functions evaluated (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split). */
export function resolveIntrinsics(node: unknown, refs: Record<string, Ref>): unknown {
  if (Array.isArray(node)) return node.map((n) => resolveIntrinsics(n, refs));
  if (!node || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const [k] = keys as [string];
    const v = o[k];
    if (k === 'Ref') return refValue(String(v), refs);
    if (k === 'Fn::GetAtt') {
      const [id, attr] = (Array.isArray(v) ? v : String(v).split('.')) as [string, string];
      return attValue(id, attr, refs);
    }
    if (k === 'Fn::Join') {
      const [sep, parts] = v as [string, unknown[]];
      return (resolveIntrinsics(parts, refs) as unknown[]).join(sep);
    }
    if (k === 'Fn::Select') {
      const [i, list] = v as [number, unknown];
      return (resolveIntrinsics(list, refs) as unknown[])[Number(i)];
    }
    if (k === 'Fn::Split') {
      const [sep, s] = v as [string, unknown];
      return String(resolveIntrinsics(s, refs)).split(sep);
    }
    if (k === 'Fn::Sub') {
      const [text, vars] = (typeof v === 'string' ? [v, {}] : v) as [string, Record<string, unknown>];
      return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
        if (name in vars) return String(resolveIntrinsics(vars[name], refs));
        const [id, attr] = name.split('.') as [string, string | undefined];
        return String(attr ? attValue(id, attr, refs) : refValue(id, refs));
      });
    }
  }
  return Object.fromEntries(Object.entries(o).map(([key, value]) => [key, resolveIntrinsics(value, refs)]));
}

function refValue(id: string, refs: Record<string, Ref>): string {
  if (id in PSEUDO) return PSEUDO[id]!;
  const r = refs[id];
  if (!r) throw new Error(`the local cloud cannot resolve Ref ${id}: no such resource in the template`);
  return r.ref;
}

function attValue(id: string, attr: string, refs: Record<string, Ref>): string {
  const r = refs[id];
  if (!r) throw new Error(`the local cloud cannot resolve Fn::GetAtt ${id}.${attr}: no such resource in the template`);
  if (attr === 'Arn' && r.arn) return r.arn;
  if (attr === 'Name' && r.name) return r.name;
  return `${id}.${attr}`;
}

/**
 * The IAM the template declares, resolved: each role's identity policies (AWS::IAM::Policy resources
 * attached to it, and inline ones), each bucket's policy, and which role each piece runs as. AWS
 * managed policies (AWSLambdaBasicExecutionRole) are named, not evaluated: they grant CloudWatch
 * Logs and X-Ray, which the local cloud does not have.
 */
export function localIam(resources: Resources, refs: Record<string, Ref>, functions: Record<RequiredFunction, string> & Partial<Record<WorkflowFunction, string>>, stateMachines: { workflow: string; reaper: string }): LocalIamModel {
  const resolved = (node: unknown): unknown => resolveIntrinsics(node, refs);
  const roles: LocalIamModel['roles'] = {};
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    const p = r.Properties ?? {};
    const inline = ((p.Policies as Array<{ PolicyName: string; PolicyDocument: unknown }> | undefined) ?? []).map((x) => ({ name: x.PolicyName, document: resolved(x.PolicyDocument) }));
    roles[refs[id]!.arn!] = { name: refs[id]!.name!, trust: resolved(p.AssumeRolePolicyDocument), policies: inline, managedPolicies: (resolved(p.ManagedPolicyArns ?? []) as string[]) };
  }
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const p = r.Properties ?? {};
    for (const role of (p.Roles as unknown[] | undefined) ?? []) {
      const roleName = String(resolved(role));
      const entry = Object.values(roles).find((x) => x.name === roleName);
      if (!entry) throw new Error(`policy ${id} is attached to role ${roleName}, which is not in the template`);
      entry.policies.push({ name: String(p.PolicyName ?? id), document: resolved(p.PolicyDocument) });
    }
  }
  const bucketPolicies: LocalIamModel['bucketPolicies'] = {};
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::S3::BucketPolicy') bucketPolicies[String(resolved(r.Properties!.Bucket))] = resolved(r.Properties!.PolicyDocument);
  }
  const roleOf = (id: string, prop: string): string => String(resolved(resources[id]!.Properties![prop]));
  const byArn = (target: string): string => Object.entries(refs).find(([, ref]) => ref.arn === target)![0];
  const prepareEnv = resolved(resources[byArn(functions.PrepareRun)]!.Properties!.Environment) as { Variables?: Record<string, string> } | undefined;
  const bundleReader = prepareEnv?.Variables?.[BUNDLE_READER_ENV];
  // The runner's role as the stack gives it to PrepareRun (Pod Identity association or IRSA annotation alike).
  const runner = (JSON.parse(prepareEnv?.Variables?.[RUN_DEFAULTS_ENV] ?? '{}') as { runnerRoleArn?: string }).runnerRoleArn;
  return {
    roles,
    bucketPolicies,
    principals: {
      ...(Object.fromEntries(Object.entries(functions).map(([name, fnArn]) => [name, roleOf(byArn(fnArn!), 'Role')])) as Record<RequiredFunction, string> & { KubeCall?: string }),
      workflow: roleOf(byArn(stateMachines.workflow), 'RoleArn'),
      reaper: roleOf(byArn(stateMachines.reaper), 'RoleArn'),
      ...(runner ? { runner } : {}),
      ...(bundleReader ? { bundleReader } : {}),
    },
  };
}

/** The template's EKS access entries, resolved: principal, access policies by name with their scope, Kubernetes groups. */
export function localAccessEntries(resources: Resources, refs: Record<string, Ref>): LocalAccessEntry[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::EKS::AccessEntry')
    .map((r) => {
      const p = resolveIntrinsics(r.Properties ?? {}, refs) as {
        PrincipalArn: string;
        AccessPolicies?: Array<{ PolicyArn: string; AccessScope: { Type: 'namespace' | 'cluster'; Namespaces?: string[] } }>;
        KubernetesGroups?: string[];
      };
      return {
        principalArn: p.PrincipalArn,
        accessPolicies: (p.AccessPolicies ?? []).map((a) => ({ policy: a.PolicyArn.split('/').pop()!, namespaces: a.AccessScope.Type === 'cluster' ? null : (a.AccessScope.Namespaces ?? []) })),
        kubernetesGroups: p.KubernetesGroups ?? [],
      };
    });
}
