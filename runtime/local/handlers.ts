import { buildEmf, type EmfDocument } from '../aws/emf.ts';
import { acquireClaim, releaseClaim } from '../aws/claims.ts';
import type { ClusterInfo } from '../aws/eks.ts';
import { presignGetUrl, writeRunFiles } from '../aws/run-files.ts';
import { loadBundleBootstrap } from '../bootstrap/index.ts';
import { LOCAL_ENV, type Definition, type LocalStack, type SynthesizedWorkflow, type WorkflowFunction } from '../core/ports/local-stack.ts';
import { POD_IDENTITY_AGENT_ADDON, RunDefaults } from '../core/run-spec/index.ts';
import { randomSuffix } from '../core/run-spec/naming.ts';
import { aggregateForRun } from '../lambda/aggregate.ts';
import { prepareRun, type PrepareRunDeps, type PreparedRun } from '../lambda/prepare-run.ts';
import { publishRun } from '../lambda/publish.ts';
import { kubeCall } from '../lambda/kube-call.ts';
import { releaseRun } from '../lambda/release-run.ts';
import type { EksCallInput } from './kubernetes/cluster.ts';
import { LOCAL_REGION } from './local-s3.ts';
import { LOCAL_CLUSTER, RESULTS_BUCKET, type LocalEnvironment } from './environment.ts';

/**
 * Each Task of the synthesized definitions bound to local code, by its `Resource`: the Lambda
 * handlers run in-process with real SDK clients pointed at the local S3; `eks:call` goes to the
 * Kubernetes stand-in; EC2 DescribeInstances answers with the local zone. What PrepareRun gets as
 * the stack's defaults is what the stack would give it (LocalStack.runDefaults), with local
 * references; the times it is given are the cloud's clock's.
 */

export interface Bound {
  handlers: Record<string, (input: never) => unknown>;
  /** EMF documents Publish wrote (CloudWatch's side cannot run here). */
  emf: EmfDocument[];
  /** What PrepareRun was asked (the execution's own start time, for the reaper's event). */
  prepareEvents: Array<{ startTime?: string; executionId?: string }>;
  /** What PrepareRun returned, the latest last (the Wait states' seconds are read from it). */
  prepared: PreparedRun[];
  /** Messages the workflow published to SNS (the regression notice): SNS cannot run here. */
  notices: Array<{ TopicArn?: string; Subject?: string; Message?: string }>;
}

export function localDefaults(env: LocalEnvironment, stack: Pick<LocalStack, 'runDefaults'>, stackOverrides: Record<string, unknown> = {}): RunDefaults {
  const runnerRoleArn = env.synth.iam.principals.runner;
  return RunDefaults.parse(stack.runDefaults({ ...env.config, ...stackOverrides }, { region: LOCAL_REGION, bucket: RESULTS_BUCKET, ...(runnerRoleArn ? { runnerRoleArn } : {}), bundle: env.bundle }));
}

/** An AWS API refusal as the SDK throws it (AccessDeniedException, 403). */
function accessDenied(message: string, name = 'AccessDeniedException'): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 403 } });
}

export function bindHandlers(env: LocalEnvironment, stack: Pick<LocalStack, 'runDefaults'>, synth: SynthesizedWorkflow, o: { metricNamespace: string; stackOverrides?: Record<string, unknown> }): Bound {
  const defaults = localDefaults(env, stack, o.stackOverrides);
  const roles = synth.iam.principals;
  const as = (fn: WorkflowFunction) => {
    const roleArn = roles[fn];
    if (!roleArn) throw new Error(`the synthesized stack has no ${fn} function`);
    const principal = env.iam.principalOf(env.iam.credentialsFor(roleArn).accessKeyId)!;
    return {
      s3: env.s3ClientAs(roleArn),
      credentials: principal.credentials,
      /** A call the function makes to another AWS API, authorized against its role first. */
      async authorize(action: string, resource: string): Promise<void> {
        const d = await env.iam.authorize(principal, action, resource);
        if (!d.allowed) throw accessDenied(d.message);
      },
    };
  };
  const clusterArn = (name: string): string => `arn:aws:eks:${LOCAL_REGION}:${LOCAL_ENV.account}:cluster/${name}`;
  const describeCluster = (who: ReturnType<typeof as>) => async (name: string): Promise<ClusterInfo> => {
    await who.authorize('eks:DescribeCluster', clusterArn(name));
    if (name !== LOCAL_CLUSTER) throw Object.assign(new Error(`No cluster found for name: ${name}.`), { name: 'ResourceNotFoundException' });
    return env.clusterInfo;
  };
  const prepare = as('PrepareRun');
  const reaper = as('ReleaseRun');
  const prepareDeps: PrepareRunDeps = {
    defaults,
    bootstrap: loadBundleBootstrap(),
    describeCluster: describeCluster(prepare),
    describeRunnerAccess: async (cluster, namespace, sa) => {
      await prepare.authorize('eks:ListPodIdentityAssociations', clusterArn(cluster));
      await prepare.authorize('eks:DescribeAddon', `arn:aws:eks:${LOCAL_REGION}:${LOCAL_ENV.account}:addon/${cluster}/${POD_IDENTITY_AGENT_ADDON}/local`);
      // The local node is an EC2 node: no Fargate profile exists to list.
      await prepare.authorize('eks:ListFargateProfiles', clusterArn(cluster));
      return { roleArn: env.cluster.podIdentityRole(namespace, sa), agentInstalled: true, fargateProfiles: [] };
    },
    // As on AWS: a session of the bundle reader role (assumed: PrepareRun's policy and the reader's trust) signs the URL.
    presignBundle: async (bucket, key, expiresInSeconds) => {
      const reader = roles.bundleReader;
      if (!reader) throw new Error('the synthesized stack has no bundle reader role for PrepareRun to presign with');
      await prepare.authorize('sts:AssumeRole', reader);
      return presignGetUrl({ credentials: env.iam.credentialsFor(reader), region: LOCAL_REGION, bucket, key, expiresInSeconds, endpoint: env.s3.endpoint });
    },
    writeFiles: (bucket, files) => writeRunFiles(prepare.s3, bucket, files),
    claims: { acquire: (r) => acquireClaim(prepare.s3, r), release: (bucket, target, id) => releaseClaim(prepare.s3, bucket, target, id) },
    now: () => env.clock.now(),
    randomSuffix: () => randomSuffix(Math.random),
  };
  const emf: EmfDocument[] = [];
  const prepareEvents: Bound['prepareEvents'] = [];
  const prepared: Bound['prepared'] = [];
  const notices: Bound['notices'] = [];
  const lambdas: Record<WorkflowFunction, (event: never) => Promise<unknown>> = {
    PrepareRun: async (event: { startTime?: string; executionId?: string }) => {
      // The interpreter stamps the execution's start in real time; the cloud's clock may be virtual.
      const onClock = event.startTime !== undefined && Number.isFinite(Date.parse(event.startTime)) ? { ...event, startTime: new Date(env.clock.fromReal(Date.parse(event.startTime))).toISOString() } : event;
      prepareEvents.push(onClock);
      const out = await prepareRun(onClock, prepareDeps);
      prepared.push(out);
      return out;
    },
    Aggregate: (event: unknown) => aggregateForRun(event, { s3: as('Aggregate').s3 }),
    Publish: (event: unknown) =>
      publishRun(event, {
        s3: as('Publish').s3,
        namespace: o.metricNamespace,
        publish: (summary, p) => {
          const doc = buildEmf(summary, { namespace: p.namespace, dimensions: p.dimensions });
          emf.push(doc);
          return doc._aws.CloudWatchMetrics[0]?.Metrics.length ?? 0;
        },
      }),
    ReleaseRun: (event: unknown) => releaseRun(event, { defaults, describeCluster: describeCluster(reaper), release: (bucket, target, id) => releaseClaim(reaper.s3, bucket, target, id) }),
    // In the VPC: real HTTPS to the local API server, with an EKS token signed by the function's role.
    KubeCall: (event: unknown) => {
      const { credentials } = as('KubeCall');
      return kubeCall(event, { region: LOCAL_REGION, credentials: async () => credentials, now: () => env.clock.now() });
    },
  };
  const handlers: Bound['handlers'] = {};
  for (const [definition, roleArn] of [[synth.definition, roles.workflow], [synth.reaperDefinition, roles.reaper]] as const) {
    const machine = env.iam.principalOf(env.iam.credentialsFor(roleArn).accessKeyId)!;
    // What the state machine's role must be allowed to do for each kind of Task; denied, the Task fails as Step Functions reports it.
    const allowed = async (action: string, resource: string, errorName: string): Promise<void> => {
      const d = await env.iam.authorize(machine, action, resource);
      if (!d.allowed) throw accessDenied(d.message, errorName);
    };
    for (const [name, state] of Object.entries(tasksOf(definition))) {
      const resource = String(state.Resource);
      const lambda = synth.functionArns[resource];
      if (lambda) {
        handlers[name] = (async (input: never) => {
          await allowed('lambda:InvokeFunction', resource, 'Lambda.AWSLambdaException');
          return lambdas[lambda](input);
        }) as never;
      } else if (resource.endsWith(':states:::eks:call')) handlers[name] = ((input: EksCallInput) => env.cluster.call(input)) as never;
      else if (resource.endsWith(':states:::aws-sdk:ec2:describeInstances')) {
        handlers[name] = (async (input: never) => {
          await allowed('ec2:DescribeInstances', '*', 'Ec2.Ec2Exception');
          return describeInstances(input, env.zone);
        }) as never;
      } else if (resource.endsWith(':states:::sns:publish')) {
        handlers[name] = (async (input: { TopicArn?: string; Subject?: string; Message?: string }) => {
          if (!input.TopicArn || typeof input.Message !== 'string' || input.Message.length === 0) throw Object.assign(new Error('Invalid parameter: Message (SNS needs a non-empty message)'), { name: 'SNS.InvalidParameterException' });
          await allowed('sns:Publish', input.TopicArn, 'SNS.AuthorizationErrorException');
          notices.push(input);
          return { MessageId: `local-${notices.length}` };
        }) as never;
      } else throw new Error(`the local workflow has no stand-in for Task ${name} (${resource})`);
    }
  }
  return { handlers, emf, prepareEvents, prepared, notices };
}

/** Every Task state of a definition by name (Map/Parallel branches included). */
function tasksOf(d: Definition): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, state] of Object.entries(d.States)) {
    if (state.Type === 'Task') out[name] = state;
    for (const branch of (state.Branches as Definition[] | undefined) ?? []) Object.assign(out, tasksOf(branch));
    const iterator = (state.ItemProcessor ?? state.Iterator) as Definition | undefined;
    if (iterator) Object.assign(out, tasksOf(iterator));
  }
  return out;
}

/** EC2 DescribeInstances for the target pod's host IP: the one local node, in the local zone. */
function describeInstances(input: { Filters?: Array<{ Name: string; Values: string[] }> }, zone: string | null): unknown {
  const ip = input.Filters?.find((f) => f.Name === 'private-ip-address')?.Values?.[0];
  if (ip !== '127.0.0.1' || zone === null) return { Reservations: [] };
  return { Reservations: [{ Instances: [{ InstanceId: 'i-local', InstanceType: 'local', PrivateIpAddress: ip, Placement: { AvailabilityZone: zone } }] }] };
}
