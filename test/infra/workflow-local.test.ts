import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBundleBootstrap } from '../../runtime/bootstrap/index.ts';
import { renderJob } from '../../runtime/core/manifests/index.ts';
import type { RunSpec } from '../../runtime/core/run-spec/index.ts';
import { prepareRun, runIdSuffix, type PrepareRunDeps } from '../../runtime/lambda/prepare-run.ts';
import { seedDefaults } from '../core/run-spec-fixture.ts';
import { synthesizedDefinition } from './definition.ts';
import { FakeKubernetes, targetPod, type FakeClusterOptions } from './fake-kubernetes.ts';
import { synthStack } from './stack-fixture.ts';
import { useTempDirs } from '../support/temp-dir.ts';

// aws-local-stepfunctions uses Promise.withResolvers (Node 22); this machine may run Node 20.
if (!('withResolvers' in Promise)) {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/**
 * The synthesized state machine, run by aws-local-stepfunctions. Task states are overridden by
 * name: PrepareRun runs the real handler logic (with fake AWS clients), every eks:call goes to an
 * emulated Kubernetes API, LocateZone answers like EC2 DescribeInstances, Aggregate/Publish answer
 * per their contract.
 */

let definition: Record<string, unknown>;
const tempDir = useTempDirs();
beforeAll(async () => {
  definition = synthesizedDefinition(synthStack(await tempDir()).template);
}, 60_000);

const EKS_STATES = [
  'FindTargetPods',
  'EnsureServiceAccount',
  'CreateConfigMap',
  'CreateJob',
  'GetJob',
  'InspectRunnerPods',
  'DeleteJob',
  'DeleteConfigMap',
];

interface RunOptions {
  input?: unknown;
  cluster?: FakeClusterOptions;
  /** Instances DescribeInstances finds for the pod's host IP (empty: Fargate). */
  zone?: string | null;
  aggregate?: 'ok' | 'no-results';
}

interface RunResult {
  states: string[];
  output?: Record<string, unknown>;
  error?: { name: string; message: string };
  k8s: FakeKubernetes;
  written: string[];
  aggregateEvents: unknown[];
  publishEvents: unknown[];
}

async function runWorkflow(opts: RunOptions = {}): Promise<RunResult> {
  const k8s = new FakeKubernetes({ pods: { default: [targetPod()] }, ...opts.cluster });
  const written: string[] = [];
  const aggregateEvents: unknown[] = [];
  const publishEvents: unknown[] = [];
  const deps: PrepareRunDeps = {
    defaults: seedDefaults(),
    bootstrap: loadBundleBootstrap(),
    describeCluster: async (name) => ({
      name,
      status: 'ACTIVE',
      endpoint: 'https://ABCDEF.gr7.us-west-2.eks.amazonaws.com',
      certificateAuthority: 'LS0tLS1CRUdJTi==',
      endpointPublicAccess: true,
      authenticationMode: 'API_AND_CONFIG_MAP',
      version: '1.33',
    }),
    presignBundle: async (bucket, key) => `https://${bucket}.s3.us-west-2.amazonaws.com/${key}?X-Amz-Signature=test`,
    writeFiles: async (_bucket, files) => {
      written.push(...files.map((f) => f.key));
    },
    now: () => Date.UTC(2025, 0, 1, 2),
    randomSuffix: () => 'abcdef',
  };
  const handlers: Record<string, (input: never) => unknown> = {
    PrepareRun: (event) => prepareRun(event, deps) as never,
    LocateZone: (input: { Filters: Array<{ Name: string; Values: string[] }> }) => {
      expect(input.Filters).toEqual([{ Name: 'private-ip-address', Values: ['10.0.1.23'] }]);
      const zone = opts.zone === undefined ? 'us-west-2b' : opts.zone;
      return { Reservations: zone ? [{ Instances: [{ InstanceId: 'i-1', Placement: { AvailabilityZone: zone } }] }] : [] };
    },
    Aggregate: (event: { runSpec: RunSpec }) => {
      aggregateEvents.push(event);
      if (opts.aggregate === 'no-results') {
        const err = new Error(`no results under s3://${event.runSpec.s3.bucket}/${event.runSpec.s3.prefix}`);
        err.name = 'NoResults';
        throw err;
      }
      return { summaryKey: event.runSpec.s3.summaryKey, valid: true, reasons: [], succeeded: 300 };
    },
    Publish: (event) => {
      publishEvents.push(event);
      return { published: 23 };
    },
  };
  for (const name of EKS_STATES) handlers[name] = k8s.call as never;

  const machine = new StateMachine(definition as never);
  const input = opts.input ?? {};
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: { WaitForJob: 0 } },
    context: { Execution: { Id: EXECUTION_ID, Input: input as never } },
  });
  const states: string[] = [];
  const consume = (async () => {
    for await (const event of execution.eventLogs) if (event.type === 'StateEntered') states.push(event.state.name);
  })();
  const result: RunResult = { states, k8s, written, aggregateEvents, publishEvents };
  try {
    result.output = (await execution.result) as Record<string, unknown>;
  } catch (err) {
    const cause = (err as { cause?: { name: string; message: string } }).cause;
    result.error = { name: cause?.name ?? (err as Error).name, message: cause?.message ?? (err as Error).message };
  }
  await consume;
  return result;
}

const CLEANUP = ['DeleteJob', 'DeleteConfigMap', 'CleanedUp'];
const EXECUTION_ID = 'arn:aws:states:us-west-2:111111111111:execution:Baseline:test-1';
// The run id is the execution's start (the emulator always uses "now") + a suffix from the execution id.
const RUN_ID = new RegExp(`^\\d{8}T\\d{6}Z-${runIdSuffix(EXECUTION_ID)}$`);
const JOB = new RegExp(`ib-baseline-\\d{8}t\\d{6}z-${runIdSuffix(EXECUTION_ID)}`);

describe('the synthesized definition', () => {
  it('passes asl-validator', () => {
    const { isValid, errorsText } = aslValidator(structuredClone(definition) as never);
    expect(isValid, errorsText('\n')).toBe(true);
  });
});

describe('the workflow (Kubernetes API emulated)', () => {
  it('success: creates the run objects, waits for the Job, aggregates, publishes, cleans up (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { activePolls: 2 } });
    expect(r.error).toBeUndefined();
    expect(r.states).toEqual([
      'PrepareRun', 'FindTargetPods', 'TargetPodRunning?', 'LocateZone', 'ZoneKnown?', 'PinToZone', 'RecordZone',
      'EnsureServiceAccount', 'CreateConfigMap', 'ComposePodTemplate', 'CreateJob', 'InitPoll',
      'WaitForJob', 'GetJob', 'CountPoll', 'JobState?',
      'WaitForJob', 'GetJob', 'CountPoll', 'JobState?',
      'WaitForJob', 'GetJob', 'CountPoll', 'JobState?', 'JobSucceeded',
      'Aggregate', 'Publish', ...CLEANUP, 'Outcome?', 'RunSummary', 'Succeeded',
    ]);
    expect(r.output).toEqual({
      runId: expect.stringMatching(RUN_ID),
      scenario: 'baseline',
      model: 'qwen3-8b',
      runner: 'native',
      zone: 'us-west-2b',
      results: `s3://results-bucket/runs/baseline/qwen3-8b/${String(r.output?.runId)}/`,
      summaryKey: expect.stringMatching(/summary\.json$/),
      valid: true,
      reasons: [],
      succeeded: 300,
      published: 23,
    });
    expect(r.written.map((k) => k.split('/').pop())).toEqual(['run-spec.json']);
    // The objects and the order they were created in, and everything deleted at the end.
    expect(r.k8s.paths('POST')).toEqual([
      '/api/v1/namespaces/benchmarking/serviceaccounts',
      '/api/v1/namespaces/benchmarking/configmaps',
      '/apis/batch/v1/namespaces/benchmarking/jobs',
    ]);
    const runSpec = (r.aggregateEvents[0] as { runSpec: RunSpec }).runSpec;
    expect(r.k8s.paths('DELETE')).toEqual([
      `/apis/batch/v1/namespaces/benchmarking/jobs/${runSpec.names.job}`,
      `/api/v1/namespaces/benchmarking/configmaps/${runSpec.names.configMap}`,
    ]);
    expect(r.k8s.calls.find((c) => c.method === 'DELETE')?.query).toEqual({ propagationPolicy: ['Background'] });
    expect(r.k8s.calls[0]?.query).toEqual({
      labelSelector: ['app.kubernetes.io/component=qwen3-vllm'],
      fieldSelector: ['status.phase=Running'],
      limit: ['1'],
    });
    // The Job the workflow assembled is exactly the rendered one, pinned to the zone.
    const posted = r.k8s.calls.find((c) => c.path.endsWith('/jobs') && c.method === 'POST')?.body;
    const url = `https://cdk-assets.s3.us-west-2.amazonaws.com/abc.mjs?X-Amz-Signature=test`;
    expect(posted).toEqual(renderJob({ ...runSpec, placement: { zone: null } }, 'us-west-2b', { bundle: { url, bootstrap: loadBundleBootstrap() } }));
    // Aggregate and Publish get the contract's events, the RunSpec carrying the zone.
    expect(runSpec.placement).toEqual({ zone: 'us-west-2b' });
    expect(Object.keys(r.aggregateEvents[0] as object)).toEqual(['runSpec']);
    expect(r.publishEvents[0]).toEqual({ runSpec, aggregate: { summaryKey: runSpec.s3.summaryKey, valid: true, reasons: [], succeeded: 300 } });
  });

  it('an existing ServiceAccount (409) is reused (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { serviceAccountExists: true } });
    expect(r.error).toBeUndefined();
    expect(r.states).toContain('ServiceAccountExists');
    expect(r.output?.valid).toBe(true);
  });

  it('zone unknown (Fargate): the Job gets podAffinity to the target pods and zone "unknown" (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ zone: null });
    expect(r.error).toBeUndefined();
    expect(r.states).toContain('AffinityToTargetPods');
    const job = r.k8s.calls.find((c) => c.path.endsWith('/jobs') && c.method === 'POST')?.body as {
      spec: { template: { spec: Record<string, unknown> } };
    };
    expect(job.spec.template.spec.nodeSelector).toBeUndefined();
    expect(job.spec.template.spec.affinity).toMatchObject({
      podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ namespaces: ['default'], topologyKey: 'topology.kubernetes.io/zone' }] },
    });
    expect(r.output?.zone).toBe('unknown');
    expect((r.aggregateEvents[0] as { runSpec: RunSpec }).runSpec.placement.zone).toBe('unknown');
  });

  it('Job failed: cleans up and fails with the runner\'s last log lines (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { jobOutcome: 'fails', failureLog: 'Error: connect ECONNREFUSED 10.100.0.12:8000' } });
    expect(r.error?.name).toBe('JobFailed');
    expect(r.error?.message).toMatch(new RegExp(`^Job ${JOB.source} failed: the runner exited with code 2\\. Last log lines: Error: connect ECONNREFUSED`));
    expect(r.error?.message).toMatch(/kubectl logs -n benchmarking job\/ib-baseline-/);
    expect(r.states).toEqual(expect.arrayContaining(['InspectRunnerPods', 'RunnerLogKept?', 'DescribeJobFailedWithLog', ...CLEANUP, 'RunFailed']));
    expect(r.states).not.toContain('Aggregate');
    expect(r.k8s.paths('DELETE')).toHaveLength(2);
    expect(r.k8s.objects.size).toBe(1); // only the shared ServiceAccount remains
  });

  it('Job failed without a kept log: the generic cause (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { jobOutcome: 'fails' } });
    expect(r.error?.name).toBe('JobFailed');
    expect(r.error?.message).toMatch(/failed: the runner exited with an error\. Check its logs/);
    expect(r.states).toEqual(expect.arrayContaining(['DescribeJobFailed', ...CLEANUP, 'RunFailed']));
  });

  it('Job deadline exceeded: cleans up and says what to check (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { jobOutcome: 'deadline' } });
    expect(r.error?.name).toBe('JobDeadlineExceeded');
    expect(r.error?.message).toMatch(/exceeded its activeDeadlineSeconds \(900 s = scenario duration \+ margin\)/);
    expect(r.error?.message).toMatch(/kubectl get events -n benchmarking/);
    expect(r.states).toEqual(expect.arrayContaining(['DescribeJobDeadlineExceeded', ...CLEANUP, 'RunFailed']));
    expect(r.k8s.objects.size).toBe(1);
  });

  it('a Job that never finishes stops at the poll bound (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { jobOutcome: 'never' } });
    expect(r.error?.name).toBe('JobPollLimit');
    const polls = r.states.filter((s) => s === 'GetJob').length;
    const runSpec = seedDefaults();
    expect(polls).toBe(Math.ceil((300 + runSpec.job.deadlineMarginSeconds + 120) / runSpec.job.pollIntervalSeconds) + 1);
    expect(r.states.slice(-6)).toEqual(['DescribeJobPollLimit', ...CLEANUP, 'Outcome?', 'RunFailed']);
  });

  it('no Running target pod: fails with the selector and the namespace, nothing created (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { pods: { default: [] } } });
    expect(r.error?.name).toBe('NoRunningTargetPod');
    expect(r.error?.message).toBe(
      'No Running pod matches labelSelector app.kubernetes.io/component=qwen3-vllm in namespace default. Check that the inference server is up (kubectl get pods -n default -l app.kubernetes.io/component=qwen3-vllm) and that the target pod selector (stack context targetPodSelector, or input target.podSelector) matches its labels.',
    );
    expect(r.k8s.paths('POST')).toEqual([]);
    expect(r.states).toEqual(expect.arrayContaining(['DescribeNoRunningTargetPod', ...CLEANUP, 'RunFailed']));
  });

  it('invalid input: fails in PrepareRun listing every problem, no cluster call at all (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ input: { runner: 'locust', target: { baseUrl: 'not a url' }, extra: true } });
    expect(r.error?.name).toBe('InvalidInput');
    expect(r.error?.message).toMatch(/^The execution input was rejected and nothing was created in the cluster\. execution input: 3 problems:/);
    expect(r.error?.message).toMatch(/runner: /);
    expect(r.error?.message).toMatch(/target\.baseUrl: must be an http\(s\) URL/);
    expect(r.error?.message).toMatch(/extra: unknown or unsupported key; supported keys at \(top level\): scenario, overrides, target, runner, runId/);
    expect(r.k8s.calls).toEqual([]);
    expect(r.states).toEqual(['PrepareRun', 'DescribeInvalidInput', 'RunFailed']);
  });

  it('access denied (EKS.403): names the access entry and its scopes (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { deny: true } });
    expect(r.error?.name).toBe('AccessDenied');
    expect(r.error?.message).toMatch(/^The Kubernetes API refused the state machine role \(EKS\.403\)\. Check the EKS access entry/);
    expect(r.error?.message).toMatch(/AmazonEKSEditPolicy on namespace benchmarking and AmazonEKSViewPolicy on namespace default/);
    expect(r.states).toEqual(expect.arrayContaining(['DescribeAccessDenied', ...CLEANUP, 'RunFailed']));
  });

  it('benchmark namespace missing (EKS.404): says how to create it, after cleanup (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ cluster: { namespaces: ['default'] } });
    expect(r.error?.name).toBe('NamespaceMissing');
    expect(r.error?.message).toMatch(/^Namespace benchmarking does not exist in cluster demo \(EKS\.404\)\. Create it \(kubectl create namespace benchmarking\)/);
    expect(r.states).toEqual(expect.arrayContaining(['EnsureServiceAccount', 'DescribeNamespaceMissing', ...CLEANUP, 'RunFailed']));
  });

  it('no results: cleans up and points at the Pod Identity association (Kubernetes API emulated)', async () => {
    const r = await runWorkflow({ aggregate: 'no-results' });
    expect(r.error?.name).toBe('NoResults');
    expect(r.error?.message).toMatch(/holds no results\. Check the runner logs and that the EKS Pod Identity association \(namespace benchmarking, service account inference-baseline-runner\)/);
    expect(r.states).toEqual(expect.arrayContaining(['Aggregate', 'DescribeNoResults', ...CLEANUP, 'RunFailed']));
    expect(r.k8s.objects.size).toBe(1);
  });
});
