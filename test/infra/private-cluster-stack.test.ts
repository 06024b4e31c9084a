import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import aslValidator from 'asl-validator';
import { parseStackConfig } from '../../infra/config.ts';
import { resolveDefinition } from '../../infra/local-stack.ts';
import { synthStack } from './stack-fixture.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * The stack for a private cluster on Fargate: `cdk synth -c clusterName=demo -c clusterAccess=vpc
 * -c vpcSubnetIds=subnet-0a,subnet-0b -c vpcSecurityGroupIds=sg-0c -c runnerCredentials=irsa
 * -c oidcIssuer=…` — no eks:call task, the KubeCall Lambda in the VPC, its role in the access
 * entry, the runner role trusting the cluster's OIDC provider for its ServiceAccount only.
 */

const ISSUER = 'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const PRIVATE = { clusterName: 'demo', clusterAccess: 'vpc', vpcSubnetIds: 'subnet-0a,subnet-0b', vpcSecurityGroupIds: 'sg-0c', runnerCredentials: 'irsa', oidcIssuer: `https://${ISSUER}` };

const tempDir = useTempDirs();
let template: Template;
let app: App;
let definitions: Array<{ States: Record<string, Record<string, unknown>> }>;
beforeAll(async () => {
  ({ app, template } = synthStack(await tempDir(), PRIVATE));
  definitions = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((m) => JSON.parse(resolveDefinition((m as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString, template.toJSON() as never)));
}, 60_000);

const kubeCallId = (): string => Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { VpcConfig: Match.anyValue() } }))[0]!;

describe('clusterAccess vpc', () => {
  it('has no eks:call task: the Kubernetes tasks of both state machines invoke KubeCall by its ARN, and both definitions pass asl-validator', () => {
    const tasks = definitions.flatMap((d) => Object.values(d.States).filter((s) => s.Type === 'Task'));
    expect(tasks.some((t) => String(t.Resource).includes('eks:call'))).toBe(false);
    const kube = tasks.filter((t) => String(t.Resource).endsWith(`:function:${kubeCallId()}`));
    expect(kube.length).toBeGreaterThanOrEqual(11);
    for (const t of kube) expect(t.Parameters).toMatchObject({ ClusterName: 'demo', 'Endpoint.$': expect.any(String), 'CertificateAuthority.$': expect.any(String) });
    for (const d of definitions) expect(aslValidator(d as never, { checkArn: false, checkPaths: true }).isValid).toBe(true);
  });

  it('KubeCall runs in the VPC on the given subnets and security groups, with only the permission to create its network interfaces', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: ['subnet-0a', 'subnet-0b'], SecurityGroupIds: ['sg-0c'] }, Runtime: 'nodejs22.x' });
    const fn = template.toJSON().Resources[kubeCallId()] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
    const role = template.toJSON().Resources[fn.Properties.Role['Fn::GetAtt'][0]] as { Properties: { ManagedPolicyArns: unknown[] } };
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('service-role/AWSLambdaVPCAccessExecutionRole');
  });

  it("the EKS access entry's principal is KubeCall's role (the state machine's role calls no Kubernetes API), and the state machine role may invoke KubeCall", () => {
    const fn = template.toJSON().Resources[kubeCallId()] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
    template.resourceCountIs('AWS::EKS::AccessEntry', 1);
    template.hasResourceProperties('AWS::EKS::AccessEntry', { ClusterName: 'demo', PrincipalArn: { 'Fn::GetAtt': [fn.Properties.Role['Fn::GetAtt'][0], 'Arn'] } });
    const invoke = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes('WorkflowRole'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>)
      .filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(JSON.stringify(invoke)).toContain(kubeCallId());
  });
});

describe('runnerCredentials irsa', () => {
  it("the runner role trusts the cluster's OIDC provider for the runner ServiceAccount only; no Pod Identity association", () => {
    template.resourceCountIs('AWS::EKS::PodIdentityAssociation', 0);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::111111111111:oidc-provider/${ISSUER}`]] } },
            Condition: { StringEquals: { [`${ISSUER}:sub`]: 'system:serviceaccount:benchmarking:inference-baseline-runner', [`${ISSUER}:aud`]: 'sts.amazonaws.com' } },
          },
        ],
      },
    });
  });
});

describe('the private-cluster stack', () => {
  it('reports no unacknowledged cdk-nag error or warning', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  it.each([
    [{ clusterAccess: 'vpc' }, / vpcSubnetIds, vpcSecurityGroupIds: required when clusterAccess is "vpc" — .*cdk deploy -c clusterAccess=vpc -c vpcSubnetIds=subnet-…,subnet-… -c vpcSecurityGroupIds=sg-…/],
    [{ clusterAccess: 'vpc', vpcSubnetIds: 'subnet-0a' }, / vpcSecurityGroupIds: required when clusterAccess is "vpc"/],
    [{ vpcSubnetIds: 'subnet-0a' }, / vpcSubnetIds, vpcSecurityGroupIds: only used with clusterAccess "vpc"; add -c clusterAccess=vpc or remove them/],
    [{ clusterAccess: 'vpc', vpcSubnetIds: 'vpc-0a', vpcSecurityGroupIds: 'sg-0c' }, /vpcSubnetIds\[0\]: "vpc-0a" must be subnet ids \(comma-separated\)/],
    [{ runnerCredentials: 'irsa' }, / oidcIssuer: required when runnerCredentials is "irsa" — .*aws eks describe-cluster --name NAME --query cluster\.identity\.oidc\.issuer/],
    [{ runnerCredentials: 'irsa', oidcIssuer: 'https://accounts.example.com' }, /oidcIssuer: "accounts.example.com" must be the cluster's OIDC issuer, like https:\/\/oidc\.eks\./],
    [{ clusterAccess: 'private' }, /clusterAccess: .*"public".*"vpc"/],
  ])('%j is one clear synth error naming the setting and the fix', (settings, message) => {
    const err = (() => {
      try {
        parseStackConfig({ clusterName: 'demo', ...settings });
      } catch (e) {
        return e as Error;
      }
      throw new Error('accepted');
    })();
    expect(err.message).toMatch(/^stack configuration \(cdk\.json context \/ -c key=value\)/);
    expect(err.message).toMatch(message);
  });
});
