import { App, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { Validations } from 'aws-cdk-lib';
import { metricDefinitions } from '../../runtime/core/metrics/definitions.ts';
import { publishedMetrics } from '../../runtime/core/summary/published.ts';
import { rulesAllow, workflowRules } from '../../runtime/core/manifests/rbac.ts';
import aslValidator from 'asl-validator';
import { resolveDefinition } from '../../infra/local-stack.ts';
import { synthStack } from './stack-fixture.ts';
import { useTempDirs } from '../support/temp-dir.ts';

type Json = Record<string, unknown>;
let template: Template;
let app: App;
let stack: Stack;
let definition: { States: Record<string, Json>; TimeoutSeconds?: number };
let reaper: { States: Record<string, Json> };

const tempDir = useTempDirs();
beforeAll(async () => {
  ({ app, stack, template } = synthStack(await tempDir(), { clusterName: 'demo', alarmEmail: 'oncall@example.com' }));
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((m) => JSON.parse(resolveDefinition((m as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString, template.toJSON() as never)) as typeof definition);
  definition = machines.find((d) => 'PrepareRun' in d.States)!;
  reaper = machines.find((d) => 'ResolveRun' in d.States)!;
}, 60_000);

const state = (name: string) => {
  const s = definition.States[name];
  if (!s) throw new Error(`no state ${name}`);
  return s as Json & { Parameters: Json; Catch?: Array<{ ErrorEquals: string[]; Next: string }> };
};

function statements(): Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string }> {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement,
  );
}

describe('the state machine', () => {
  it('is Standard, logged at ALL without the execution\'s data (PrepareRun\'s output holds the bundle\'s presigned URL), traced, with a timeout', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    for (const m of Object.values(template.findResources('AWS::StepFunctions::StateMachine'))) {
      expect((m as { Properties: { LoggingConfiguration: { IncludeExecutionData: boolean } } }).Properties.LoggingConfiguration.IncludeExecutionData).toBe(false);
    }
    expect(definition.TimeoutSeconds).toBe(360 * 60);
  });

  it('both definitions pass asl-validator', () => {
    for (const d of [definition, reaper]) {
      const { isValid, errorsText } = aslValidator(structuredClone(d) as never);
      expect(isValid, errorsText('\n')).toBe(true);
    }
  });

  it('tests no type as false (`IsPresent: false`): the local interpreter evaluates every such test as false, so the local runs would not be the cloud\'s', () => {
    for (const d of [definition, reaper]) expect(JSON.stringify(d)).not.toMatch(/"Is(Present|Null|String|Numeric|Boolean|Timestamp)":false/);
  });

  it('logs under /aws/vendedlogs/states/ (one resource policy entry covers every such group), in groups a retried first deploy or a deploy after destroy never collides with', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup')) as Array<{ DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties: { LogGroupName?: unknown } }>;
    const sfnGroups = groups.filter((g) => JSON.stringify(g.Properties.LogGroupName ?? '').includes('/aws/vendedlogs/states/'));
    expect(sfnGroups).toHaveLength(2);
    for (const g of sfnGroups) {
      // The stack id's GUID in the name: a new stack, a new name; kept on delete, not on a failed create.
      expect(JSON.stringify(g.Properties.LogGroupName)).toMatch(/"Fn::Select":\[2,\{"Fn::Split":\["\/",\{"Ref":"AWS::StackId"\}\]\}\]/);
      expect(g.DeletionPolicy).toBe('RetainExceptOnCreate');
    }
    // No log group anywhere has a fixed name and Retain on create.
    for (const g of groups) if (typeof g.Properties.LogGroupName === 'string') expect(g.DeletionPolicy).not.toBe('Retain');
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }], Level: 'ALL', IncludeExecutionData: false },
    });
  });

  it('its role trusts Step Functions for this stack\'s two state machines only, by name', () => {
    const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Array<{ Properties: { StateMachineName: string; RoleArn: { 'Fn::GetAtt': [string, string] } } }>;
    expect(machines).toHaveLength(2);
    const role = template.toJSON().Resources[machines[0]!.Properties.RoleArn['Fn::GetAtt'][0]] as { Properties: { AssumeRolePolicyDocument: { Statement: Array<{ Condition: { ArnEquals: { 'aws:SourceArn': unknown[] } } }> } } };
    const [statement] = role.Properties.AssumeRolePolicyDocument.Statement;
    const sources = JSON.stringify(statement!.Condition.ArnEquals['aws:SourceArn']);
    for (const m of machines) {
      expect(m.Properties.StateMachineName.startsWith(stack.stackName)).toBe(true);
      expect(sources).toContain(`:stateMachine:${m.Properties.StateMachineName}`);
    }
    expect(sources).not.toContain('*');
  });

  it('has the designed flow: PrepareRun, locate, launch, watch, aggregate, publish, cleanup', () => {
    const next = (n: string) => state(n).Next;
    expect(next('PrepareRun')).toBe('FindTargetPods');
    expect(next('FindTargetPods')).toBe('TargetPodRunning?');
    expect(next('LocateZone')).toBe('ZoneKnown?');
    expect(next('RecordZone')).toBe('FindServiceAccount');
    expect(next('FindServiceAccount')).toBe('ServiceAccountFound?');
    expect(next('CreateServiceAccount')).toBe('ServiceAccountReady');
    expect(next('ServiceAccountReady')).toBe('ComposePodTemplate');
    expect(next('ComposePodTemplate')).toBe('CreateJob');
    expect(next('CreateJob')).toBe('CreateConfigMap');
    expect(next('CreateConfigMap')).toBe('InitPoll');
    expect(next('WaitForJob')).toBe('GetJob');
    expect(next('JobSucceeded')).toBe('Aggregate');
    expect(next('Aggregate')).toBe('Publish');
    expect(next('Publish')).toBe('Regressed?');
    // A regressed run's notice goes to the alarms' topic; a notice that fails does not fail the run.
    expect(state('Regressed?')).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.aggregate.comparison.verdict', StringEquals: 'regressed', Next: 'NotifyRegression' }], Default: 'DeleteJob' });
    expect(state('NotifyRegression')).toMatchObject({ Resource: 'arn:aws:states:::sns:publish', Next: 'DeleteJob', Parameters: { 'Message.$': '$.aggregate.comparison.notice' } });
    expect((state('NotifyRegression').Catch as Array<{ Next: string }>)[0]!.Next).toBe('DeleteJob');
    expect(next('DeleteJob')).toBe('DeleteConfigMap');
    expect(next('DeleteConfigMap')).toBe('ReleaseRun');
    expect(next('ReleaseRun')).toBe('CleanedUp');
    expect(state('RunFailed')).toEqual({ Type: 'Fail', ErrorPath: '$.failure.error', CausePath: '$.failure.cause' });
  });

  it('calls the Kubernetes API with the right methods, paths and query parameters', () => {
    const calls = Object.fromEntries(
      Object.entries(definition.States)
        .filter(([, s]) => (s as Json).Resource === 'arn:aws:states:::eks:call')
        .map(([name, s]) => {
          const p = (s as { Parameters: Json }).Parameters;
          return [name, { method: p.Method, path: p.Path ?? p['Path.$'], query: p.QueryParameters }];
        }),
    );
    expect(calls).toEqual({
      FindTargetPods: {
        method: 'GET',
        path: '/api/v1/namespaces/default/pods',
        query: { 'labelSelector.$': 'States.Array($.prepared.runSpec.target.labelSelector)', fieldSelector: ['status.phase=Running'], limit: ['1'] },
      },
      ListTargetReplicas: {
        method: 'GET',
        path: '/api/v1/namespaces/default/pods',
        query: { 'labelSelector.$': 'States.Array($.prepared.runSpec.target.labelSelector)', fieldSelector: ['status.phase=Running'], limit: ['500'] },
      },
      FindServiceAccount: {
        method: 'GET',
        path: '/api/v1/namespaces/benchmarking/serviceaccounts',
        query: { 'fieldSelector.$': "States.Array(States.Format('metadata.name={}', $.prepared.manifests.serviceAccount.metadata.name))" },
      },
      CreateServiceAccount: { method: 'POST', path: '/api/v1/namespaces/benchmarking/serviceaccounts', query: undefined },
      CreateConfigMap: { method: 'POST', path: '/api/v1/namespaces/benchmarking/configmaps', query: undefined },
      CreateJob: { method: 'POST', path: '/apis/batch/v1/namespaces/benchmarking/jobs', query: undefined },
      GetJob: { method: 'GET', path: "States.Format('/apis/batch/v1/namespaces/benchmarking/jobs/{}', $.prepared.runSpec.names.job)", query: undefined },
      InspectRunnerPods: {
        method: 'GET',
        path: '/api/v1/namespaces/benchmarking/pods',
        query: {
          'labelSelector.$': "States.Array(States.Format('batch.kubernetes.io/job-name={}', $.prepared.runSpec.names.job))",
          fieldSelector: ['status.phase=Failed'],
          limit: ['1'],
        },
      },
      InspectPendingPods: {
        method: 'GET',
        path: '/api/v1/namespaces/benchmarking/pods',
        query: {
          'labelSelector.$': "States.Array(States.Format('batch.kubernetes.io/job-name={}', $.prepared.runSpec.names.job))",
          fieldSelector: ['status.phase=Pending'],
          limit: ['1'],
        },
      },
      DeleteJob: {
        method: 'DELETE',
        path: "States.Format('/apis/batch/v1/namespaces/benchmarking/jobs/{}', $.prepared.runSpec.names.job)",
        query: { propagationPolicy: ['Background'] },
      },
      InspectJobEvents: {
        method: 'GET',
        path: '/api/v1/namespaces/benchmarking/events',
        query: { 'fieldSelector.$': "States.Array(States.Format('involvedObject.name={},reason=FailedCreate', $.prepared.runSpec.names.job))", limit: ['1'] },
      },
      DeleteConfigMap: {
        method: 'DELETE',
        path: "States.Format('/api/v1/namespaces/benchmarking/configmaps/{}', $.prepared.runSpec.names.configMap)",
        query: undefined,
      },
    });
    // Every call reaches the cluster PrepareRun described at run time.
    for (const name of Object.keys(calls)) {
      expect(state(name).Parameters).toMatchObject({
        ClusterName: 'demo',
        'Endpoint.$': '$.prepared.cluster.endpoint',
        'CertificateAuthority.$': '$.prepared.cluster.certificateAuthority',
      });
    }
  });

  it('the RBAC Roles of `render --rbac` grant exactly the calls both state machines make: each call is allowed, each rule is used', () => {
    const used = new Set<string>();
    for (const d of [definition, reaper]) {
      for (const [name, s] of Object.entries(d.States)) {
        if ((s as Json).Resource !== 'arn:aws:states:::eks:call') continue;
        const p = (s as { Parameters: Json }).Parameters;
        const path = String(p.Path ?? p['Path.$']);
        const m = /\/(?:api\/v1|apis\/(batch)\/v1)\/namespaces\/([^/]+)\/([a-z]+)(\/\{\})?/.exec(path.replace(/^States\.Format\('/, ''));
        expect(m, `${name}: ${path}`).not.toBeNull();
        const [, group = '', namespace, resource, named] = m!;
        const verb = p.Method === 'GET' ? (named ? 'get' : 'list') : p.Method === 'POST' ? 'create' : named ? 'delete' : 'deletecollection';
        const rules = workflowRules('benchmarking', 'default').find((r) => r.namespace === namespace)?.rules ?? [];
        expect(rulesAllow(rules, group, resource!, verb), `${name}: ${verb} ${resource} in ${namespace}`).toBe(true);
        used.add(`${namespace}/${group}/${resource}/${verb}`);
      }
    }
    const granted = workflowRules('benchmarking', 'default').flatMap(({ namespace, rules }) => rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${namespace}/${g}/${res}/${v}`)))));
    expect(new Set(granted)).toEqual(used);
  });

  it('resolves the zone with ec2:DescribeInstances on the pod hostIP', () => {
    expect(state('LocateZone')).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:ec2:describeInstances',
      Parameters: { Filters: [{ Name: 'private-ip-address', 'Values.$': 'States.Array($.targetPods.hostIP)' }] },
    });
  });

  it('bounds the poll loop by runSpec.job.maxPolls and classifies the Job state', () => {
    const choice = state('JobState?') as unknown as { Choices: Json[]; Default: string };
    expect(choice.Default).toBe('WaitForJob');
    expect(choice.Choices.map((c) => c.Next)).toEqual(['JobSucceeded', 'DescribeJobDeadlineExceeded', 'InspectRunnerPods', 'DescribeJobPollLimit', 'WaitForJob', 'InspectJobEvents', 'InspectPendingPods']);
    expect(choice.Choices[3]).toEqual({ Variable: '$.poll.count', NumericGreaterThanEqualsPath: '$.prepared.runSpec.job.maxPolls', Next: 'DescribeJobPollLimit' });
    // No pod at all (none active, succeeded or failed): look for the Job controller's FailedCreate events.
    expect(choice.Choices[5]).toEqual({
      Not: { Or: ['active', 'succeeded', 'failed'].map((k) => ({ Variable: `$.job.status.${k}`, IsPresent: true })) },
      Next: 'InspectJobEvents',
    });
    expect(state('InspectJobEvents')).toMatchObject({
      Parameters: { Method: 'GET', Path: '/api/v1/namespaces/benchmarking/events', QueryParameters: { 'fieldSelector.$': "States.Array(States.Format('involvedObject.name={},reason=FailedCreate', $.prepared.runSpec.names.job))", limit: ['1'] } },
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'WaitForJob' }],
    });
    // No ready pod after runSpec.job.schedulingPolls polls: look for a pod the scheduler cannot place.
    expect(choice.Choices[6]).toEqual({ Variable: '$.poll.count', NumericGreaterThanEqualsPath: '$.prepared.runSpec.job.schedulingPolls', Next: 'InspectPendingPods' });
    expect(state('InspectPendingPods')).toMatchObject({ Parameters: { Method: 'GET', Path: '/api/v1/namespaces/benchmarking/pods', QueryParameters: { fieldSelector: ['status.phase=Pending'], limit: ['1'] } } });
    expect(state('CountPoll').Parameters).toEqual({ 'count.$': 'States.MathAdd($.poll.count, 1)' });
    expect(state('WaitForJob')).toMatchObject({ SecondsPath: '$.prepared.runSpec.job.pollIntervalSeconds' });
  });

  it('catches every failure into a described failure that goes through Cleanup', () => {
    const catches = (n: string) => (state(n).Catch ?? []).map((c) => [c.ErrorEquals.join('|'), c.Next]);
    expect(catches('PrepareRun')).toEqual([['InvalidInput', 'DescribeInvalidInput'], ['RunInProgress', 'DescribeRunInProgress'], ['States.ALL', 'DescribePrepareFailed']]);
    expect(catches('FindTargetPods')).toEqual([['EKS.401|EKS.403', 'DescribeAccessDenied'], ['States.ALL', 'KubernetesRefused?']]);
    expect(catches('CreateServiceAccount')).toEqual([
      ['EKS.409', 'ServiceAccountReady'],
      ['EKS.401|EKS.403', 'DescribeAccessDenied'],
      ['EKS.404', 'DescribeNamespaceMissing'],
      ['States.ALL', 'ServiceAccountConflict?'],
    ]);
    // Under another error name, the Kubernetes Status in the Cause decides (eks-call.ts).
    const byStatus = (n: string) => (state(n) as unknown as { Choices: Array<{ Next: string; And?: Json[]; Or?: Json[] }>; Default: string });
    expect(JSON.stringify(byStatus('ServiceAccountConflict?').Choices[0])).toContain('"StringMatches":"*\\"code\\":409*"');
    expect(byStatus('ServiceAccountConflict?').Default).toBe('KubernetesRefusedOrNamespaceMissing?');
    expect(byStatus('KubernetesRefusedOrNamespaceMissing?').Choices.map((c) => c.Next)).toEqual(['DescribeAccessDenied', 'DescribeNamespaceMissing']);
    expect(JSON.stringify(byStatus('KubernetesRefusedOrNamespaceMissing?').Choices)).toMatch(/"IsPresent":true.*"IsString":true.*"StringMatches":"\*\\"code\\":401\*"/);
    expect(byStatus('KubernetesRefusedOrJobVanished?').Choices.map((c) => c.Next)).toEqual(['DescribeAccessDenied', 'DescribeJobVanished']);
    expect(byStatus('KubernetesRefused?').Default).toBe('DescribeStepFailed');
    expect(catches('GetJob')).toContainEqual(['EKS.404', 'DescribeJobVanished']);
    expect(catches('Aggregate')).toEqual([['NoResults', 'DescribeNoResults'], ['States.ALL', 'DescribeStepFailed']]);
    expect(catches('Publish')).toEqual([['States.ALL', 'DescribeStepFailed']]);
    expect(catches('DeleteJob')).toEqual([['States.ALL', 'DeleteConfigMap']]);
    expect(catches('ReleaseRun')).toEqual([['States.ALL', 'CleanedUp']]);
    for (const [name, s] of Object.entries(definition.States)) {
      if (!name.startsWith('Describe') || name === 'DescribeTarget') continue;
      const beforeCluster = ['DescribeInvalidInput', 'DescribeRunInProgress', 'DescribePrepareFailed'].includes(name);
      expect((s as Json).Next, name).toBe(beforeCluster ? 'RunFailed' : 'DeleteJob');
    }
  });

  it('retries idempotent Kubernetes calls on anything but a definitive answer, POSTs only on transient ones', () => {
    const retries = (n: string) => (state(n).Retry as Array<{ ErrorEquals: string[]; MaxAttempts?: number }>).map((r) => [r.ErrorEquals.join('|'), r.MaxAttempts]);
    for (const get of ['FindTargetPods', 'FindServiceAccount', 'GetJob', 'InspectRunnerPods', 'DeleteJob', 'DeleteConfigMap']) {
      expect(retries(get), get).toEqual([['EKS.401|EKS.403|EKS.400|EKS.404|EKS.405|EKS.409|EKS.422', 0], ['States.ALL', 4]]);
    }
    for (const post of ['CreateServiceAccount', 'CreateJob', 'CreateConfigMap']) expect(retries(post), post).toEqual([['EKS.429|EKS.500|EKS.502|EKS.503|EKS.504', 3]]);
  });

  it('keeps the execution state small: the pod and the instance lookups are reduced to the facts later states read', () => {
    expect(state('DescribeTarget')).toMatchObject({ Type: 'Pass', ResultPath: '$.targetPods' });
    expect(Object.keys(state('DescribeTarget').Parameters)).toEqual(['podName.$', 'hostIP.$', 'nodeName.$', 'images.$']);
    for (const pass of ['PinToZone', 'AffinityToTargetPods']) expect(state(pass).ResultPath, pass).toBe('$.placement');
    expect(state('LocateZone').ResultPath).toBe('$.placement');
  });

  it('makes the ConfigMap owned by the Job, so Kubernetes removes it with the Job', () => {
    expect(state('CreateJob').ResultSelector).toEqual({ 'uid.$': '$.ResponseBody.metadata.uid' });
    expect((state('CreateConfigMap').Parameters.RequestBody as { metadata: Json }).metadata.ownerReferences).toEqual([
      { apiVersion: 'batch/v1', kind: 'Job', 'name.$': '$.prepared.runSpec.names.job', 'uid.$': '$.createdJob.uid', blockOwnerDeletion: true },
    ]);
  });

  it('gives each Lambda task its function\'s timeout', () => {
    expect([state('PrepareRun').TimeoutSeconds, state('Aggregate').TimeoutSeconds, state('Publish').TimeoutSeconds]).toEqual([60, 600, 120]);
  });
});

describe('the reaper', () => {
  it('starts on the workflow\'s FAILED, TIMED_OUT and ABORTED executions and deletes the run\'s Job with its dependents', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.states'], 'detail-type': ['Step Functions Execution Status Change'], detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [Match.anyValue()] } },
      Targets: [Match.objectLike({ Arn: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
    expect(Object.keys(reaper.States).sort()).toEqual(['ClaimNotReleased', 'ClaimReleased?', 'DescribeClaimNotReleased', 'DescribeReapFailed', 'NothingToReap', 'ReapConfigMap', 'ReapFailed', 'ReapJob', 'Reaped', 'ResolveRun', 'RunObjects?']);
    // ResolveRun's failure is the reaper's (alarmed), never silent; the claim is checked after the deletes.
    expect((reaper.States.ResolveRun as { Catch: Json[] }).Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'DescribeReapFailed' })]);
    expect((reaper.States.ReapConfigMap as { Next: string }).Next).toBe('ClaimReleased?');
    expect((reaper.States.ReapJob as { Parameters: Json }).Parameters).toMatchObject({ Method: 'DELETE', QueryParameters: { propagationPolicy: ['Background'] }, 'Endpoint.$': '$.reap.cluster.endpoint' });
  });

  it('runs under the workflow\'s role (the stack\'s one EKS access entry covers it), created after that role', () => {
    const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Array<{ Properties: { RoleArn: unknown } }>;
    expect(machines[0]!.Properties.RoleArn).toEqual(machines[1]!.Properties.RoleArn);
    const entries = Object.values(template.findResources('AWS::EKS::AccessEntry')) as Array<{ DependsOn?: string[]; Properties: { PrincipalArn: unknown } }>;
    expect(entries).toHaveLength(1);
    expect(entries[0]!.Properties.PrincipalArn).toEqual(machines[0]!.Properties.RoleArn);
    const roleId = (machines[0]!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    expect(entries[0]!.DependsOn).toEqual(expect.arrayContaining([roleId]));
  });
});

describe('IAM least privilege', () => {
  it('grants no wildcard actions', () => {
    for (const s of statements()) {
      for (const action of [s.Action].flat()) expect(action, JSON.stringify(s)).not.toMatch(/\*/);
    }
  });

  it('scopes Resource "*" to actions without resource-level permissions', () => {
    const allowedOnStar = new Set([
      'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
      'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries',
      'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
      'ec2:DescribeInstances',
    ]);
    for (const s of statements().filter((x) => x.Resource === '*')) {
      for (const a of [s.Action].flat()) {
        // The bundle's presigned URL needs kms:Decrypt on the CDK bootstrap bucket's key (unknown at
        // synth): only through S3, only in this account.
        if (a === 'kms:Decrypt') expect(s.Condition).toEqual({ StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com', 'kms:CallerAccount': '111111111111' } });
        else expect(allowedOnStar, a).toContain(a);
      }
    }
  });

  it('gives Publish read access to run files only (metrics go out as EMF log lines)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ METRICS_NAMESPACE: 'InferenceBaseline' }) },
    });
    expect(statements().some((x) => [x.Action].flat().includes('cloudwatch:PutMetricData'))).toBe(false);
  });

  it('lets PrepareRun describe only the configured cluster', () => {
    const s = statements().find((x) => [x.Action].flat().includes('eks:DescribeCluster'));
    expect(JSON.stringify(s?.Resource)).toContain(':cluster/demo');
  });

  it('lets the runner (Pod Identity) write only under runs/', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Action: ['sts:AssumeRole', 'sts:TagSession'], Principal: { Service: 'pods.eks.amazonaws.com' } })],
      },
    });
    const writes = statements().filter((x) => [x.Action].flat().includes('s3:PutObject'));
    expect(writes.length).toBeGreaterThan(0);
    // Run files under runs/; history entries under history/ (Aggregate only); the exclusive-run
    // claims under claims/ (PrepareRun and ReleaseRun only).
    for (const w of writes) {
      for (const r of [w.Resource].flat()) expect(JSON.stringify(r)).toMatch(/\/(runs|claims|history)\/\*"\]\]\}$/);
    }
    const historyWriters = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p).includes('/history/*'))
      .map(([id]) => id);
    expect(historyWriters).toHaveLength(1);
    expect(historyWriters[0]).toMatch(/Aggregate/);
    const runner = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.includes('RunnerRole'));
    expect(runner).toHaveLength(1);
    const runnerWrites = (runner[0]![1] as { Properties: { PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown }> } } }).Properties.PolicyDocument.Statement.filter((x) => [x.Action].flat().includes('s3:PutObject'));
    for (const w of runnerWrites) expect(JSON.stringify(w.Resource)).toMatch(/\/runs\/\*"\]\]\}$/);
    // Listing is always by prefix: runs/ (the runner, Aggregate), history/ (Aggregate), claims/ (PrepareRun and ReleaseRun:
    // without it S3 answers a released claim's GetObject with 403, not 404).
    const list = statements().filter((x) => [x.Action].flat().includes('s3:ListBucket'));
    for (const l of list) expect((l.Condition as { StringLike: { 's3:prefix': string[] } }).StringLike['s3:prefix'].every((p) => /^(runs|history|claims)\//.test(p))).toBe(true);
    expect(list.filter((l) => JSON.stringify(l.Condition).includes('claims/*'))).toHaveLength(2);
  });
});

describe('cluster access', () => {
  it('one access entry for the state machine role: edit on the benchmark namespace, view on the target', () => {
    const entries = template.findResources('AWS::EKS::AccessEntry');
    expect(Object.keys(entries)).toHaveLength(1);
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'demo',
      Type: 'STANDARD',
      PrincipalArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkflowRole'), 'Arn'] },
      AccessPolicies: [
        {
          PolicyArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks::aws:cluster-access-policy/AmazonEKSEditPolicy']] },
          AccessScope: { Type: 'namespace', Namespaces: ['benchmarking'] },
        },
        {
          PolicyArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks::aws:cluster-access-policy/AmazonEKSViewPolicy']] },
          AccessScope: { Type: 'namespace', Namespaces: ['default'] },
        },
      ],
    });
  });

  it('associates the runner ServiceAccount with its role through EKS Pod Identity', () => {
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      ClusterName: 'demo',
      Namespace: 'benchmarking',
      ServiceAccount: 'inference-baseline-runner',
      RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RunnerRole'), 'Arn'] },
    });
  });
});

describe('results bucket', () => {
  it('is encrypted, private, versioned and retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    });
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('nightly schedule', () => {
  it('starts the workflow with {} at 02:00 UTC, with retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: { Ref: Match.stringLikeRegexp('StateMachine') },
        Input: '{}',
        RetryPolicy: { MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 3 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetters'), 'Arn'] } },
      }),
    });
  });
});

describe('dashboard and alarms', () => {
  const alarm = (metricName: string) =>
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => (a as { Properties: Json }).Properties).filter((p) => p.MetricName === metricName);

  it('alarm on the SLA thresholds of ttft_p99 and itl_p99', () => {
    expect(alarm('ttft_p99')[0]).toMatchObject({ Namespace: 'InferenceBaseline', Threshold: 1000, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Maximum' });
    expect(alarm('itl_p99')[0]).toMatchObject({ Threshold: 100, ComparisonOperator: 'GreaterThanThreshold' });
    expect(alarm('ttft_p99')[0]?.Dimensions).toEqual([{ Name: 'Model', Value: 'qwen3-8b' }, { Name: 'Scenario', Value: 'baseline' }]);
  });

  it('alarm on an invalid run, and on a missing nightly run as a heartbeat: silent from the deploy until the first night, then notified when 26 h pass without a run', () => {
    const runValid = alarm('RunValid');
    expect(runValid).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Statistic: 'Minimum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'notBreaching' }),
        // Missing data keeps it INSUFFICIENT_DATA after the deploy (no transition, no notice); OK once a
        // night has published; back to INSUFFICIENT_DATA — which notifies — when the nights stop.
        expect.objectContaining({ Statistic: 'SampleCount', Period: 26 * 3600, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'missing', InsufficientDataActions: [{ Ref: expect.stringMatching(/NotificationsAlarms/) }] }),
      ]),
    );
    const heartbeat = runValid.find((a) => a.Statistic === 'SampleCount') as { AlarmActions?: unknown };
    expect(heartbeat.AlarmActions).toBeUndefined();
  });

  it('alarm on failed executions, all to one SNS topic with the e-mail subscription', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)' })]),
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: { AlarmActions?: unknown[]; InsufficientDataActions?: unknown[] } }>;
    expect(alarms).toHaveLength(8);
    for (const a of alarms) expect(a.Properties.AlarmActions ?? a.Properties.InsufficientDataActions).toEqual([{ Ref: expect.stringMatching(/NotificationsAlarms/) }]);
    // The reaper's failures alarm too (a Job or a claim may be left behind); a schedule dead letter
    // alarms for the period it arrived in, not for the 14 days the queue keeps it.
    const reaper = template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmDescription: Match.stringLikeRegexp('^The reaper') } });
    expect(Object.keys(reaper)).toHaveLength(1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'NumberOfMessagesSent', Namespace: 'AWS/SQS', Statistic: 'Sum' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    // The regression notice goes to the same topic the alarms notify.
    expect(Object.keys(template.findResources('AWS::SNS::Topic'))).toHaveLength(1);
    expect(JSON.stringify(state('NotifyRegression').Parameters)).toMatch(/NotificationsAlarms/);
  });

  it('alarms on a regression against the baseline window: RegressionCount ≥ 1, missing data (short history) not breaching', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'RegressionCount',
      Namespace: 'InferenceBaseline',
      Dimensions: Match.arrayWith([{ Name: 'Model', Value: 'qwen3-8b' }, { Name: 'Scenario', Value: 'baseline' }]),
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmDescription: Match.stringLikeRegexp('regression notice on this topic names the metrics'),
    });
  });

  it('graphs every published metric, under the stack\'s Model × Scenario, with its definition', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardBody: unknown } }>;
    expect(dashboards).toHaveLength(1);
    const body = JSON.parse(resolveJoin(dashboards[0]!.Properties.DashboardBody)) as { widgets: Array<{ type: string; properties: { metrics?: unknown[][]; markdown?: string } }> };
    // Each graphed metric: [namespace, name, "Model", model, "Scenario", scenario, {options}].
    const graphed = body.widgets.flatMap((w) => w.properties.metrics ?? []).map((m) => m.filter((x) => typeof x === 'string').join(' '));
    for (const m of publishedMetrics) expect(graphed).toContain(`InferenceBaseline ${m.name} Model qwen3-8b Scenario baseline`);
    const text = body.widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown).join('\n');
    for (const def of Object.values(metricDefinitions)) expect(text).toContain(def);
    for (const m of publishedMetrics.filter((x) => x.group !== 'latency')) expect(text).toContain(`| ${m.name} |`);
  });
});

/** A dashboard body is an Fn::Join of literal text and tokens; the tokens are not metric names. */
function resolveJoin(node: unknown): string {
  if (typeof node === 'string') return node;
  const join = (node as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return join[1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(join[0]);
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged error or warning', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  it('every acknowledgment carries its reason', () => {
    const acks = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.values(m.data as Record<string, string>));
    expect(acks.length).toBeGreaterThan(0);
    for (const reason of acks) expect(String(reason).length).toBeGreaterThan(30);
  });

  it('does flag what it should (a bare bucket)', async () => {
    const other = new App({ outdir: await tempDir() });
    const s = new Stack(other, 'Bare');
    new s3.Bucket(s, 'Bare');
    const report = new AwsSolutionsChecks(other).validateScope(other);
    expect(report.violations.map((v) => v.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });
});

describe('the runner bundle\'s presigned URL', () => {
  it('is signed by a session of BundleReader (assumed by PrepareRun alone, for up to an hour), not by PrepareRun\'s own credentials', () => {
    const roles = template.findResources('AWS::IAM::Role') as Record<string, { Properties: { AssumeRolePolicyDocument: { Statement: Array<{ Principal: { AWS?: unknown } }> }; MaxSessionDuration?: number } }>;
    const [readerId, reader] = Object.entries(roles).find(([id]) => id.includes('BundleReader'))!;
    expect(reader.Properties.MaxSessionDuration).toBe(3600);
    expect(JSON.stringify(reader.Properties.AssumeRolePolicyDocument.Statement[0]!.Principal.AWS)).toMatch(/FunctionsPrepareRunServiceRole/);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Array<{ Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> }; Roles: unknown[] } }>;
    const of = (roleId: string) => policies.filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId)).flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(of(readerId).some((st) => [st.Action].flat().includes('s3:GetObject') && JSON.stringify(st.Resource).includes('cdk-hnb659fds-assets'))).toBe(true);
    const prepare = of('FunctionsPrepareRunServiceRole');
    expect(prepare.some((st) => JSON.stringify(st.Resource).includes('cdk-hnb659fds-assets'))).toBe(false);
    expect(prepare.find((st) => [st.Action].flat().includes('sts:AssumeRole'))?.Resource).toEqual({ 'Fn::GetAtt': [readerId, 'Arn'] });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ INFERENCE_BASELINE_BUNDLE_READER: { 'Fn::GetAtt': [readerId, 'Arn'] } }) } });
  });
});

describe('the results bucket', () => {
  it('refuses a raw file\'s write without If-None-Match, whoever sends it (multipart steps that cannot carry the header exempted)', () => {
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')) as Array<{ Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }>;
    const statement = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).find((st) => st.Sid === 'RawFilesAreWrittenOnce')!;
    expect(statement).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject', Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } } });
    const resources = JSON.stringify(statement.Resource);
    for (const raw of ['/runs/*/requests/*', '/runs/*/run.json', '/runs/*/run-spec.json', '/runs/*/config.yml']) expect(resources).toContain(raw);
    // Derived files are recomputed (Aggregate replaces them): not in the list.
    for (const derived of ['summary.json', 'histograms.json', 'report.html', 'history/']) expect(resources).not.toContain(derived);
  });
});

describe('no hard-coded physical names', () => {
  it('names no bucket, function, role, topic, queue or schedule; the state machines are named by the stack (its role trusts them by name)', () => {
    const named = {
      'AWS::S3::Bucket': 'BucketName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::IAM::Role': 'RoleName',
      'AWS::SNS::Topic': 'TopicName',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::Scheduler::Schedule': 'Name',
      'AWS::CloudWatch::Dashboard': 'DashboardName',
    };
    for (const [type, prop] of Object.entries(named)) {
      for (const r of Object.values(template.findResources(type))) expect((r as { Properties?: Json }).Properties?.[prop], type).toBeUndefined();
    }
    for (const m of Object.values(template.findResources('AWS::StepFunctions::StateMachine'))) {
      expect(String((m as { Properties: { StateMachineName: string } }).Properties.StateMachineName).startsWith(stack.stackName)).toBe(true);
    }
  });
});
