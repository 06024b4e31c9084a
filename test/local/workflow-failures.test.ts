import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimKey } from '../../runtime/core/claims.ts';
import { RESULTS_BUCKET } from '../../runtime/local/environment.ts';
import { VirtualClock } from '../../runtime/local/clock.ts';
import type { LocalEnvironment } from '../../runtime/local/environment.ts';
import type { AccessEntry } from '../../runtime/local/kubernetes/access.ts';
import { LocalWorkflow } from '../../runtime/local/workflow.ts';
import { LOCAL_SYNTH_SETTINGS } from '../support/local-build.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';

/**
 * The synthesized workflow run locally (as in workflow-success.test.ts) when things go wrong: each
 * ends in the failure a person can act on, and leaves nothing behind in the cluster or the claims.
 * The cloud's time is virtual (runtime/local/clock.ts): a Wait passes at once unless a runner
 * process is running, and a deadline or a timeout passes when a test moves the clock on.
 */

let wf: LocalWorkflow;
const clock = new VirtualClock();
let podLog: ((pod: string, line: string, env: LocalEnvironment) => void) | undefined;
/** The access entry the stack gives the workflow role (tests take rights from it, then give them back). */
let granted: AccessEntry;
beforeAll(async () => {
  wf = await LocalWorkflow.start({ stack: testStack, bundleFile: runnerBundle(), clock, config: {}, onPodLog: (pod, line, env) => podLog?.(pod, line, env) });
  granted = wf.env.cluster.access!;
}, 120_000);
afterAll(() => wf?.stop());
afterEach(() => {
  podLog = undefined;
  wf.env.cluster.faults = {};
  wf.env.cluster.access = granted;
});

/**
 * One worker thread (workers are not this file's subject: test/runner/workers.test.ts) and 16-token
 * answers (the warm-up and a draining request take a fifth of a second, not one and a half).
 */
const load = (duration: number, rate = 2) => ({
  overrides: {
    load: { stages: [{ rate, duration }], num_workers: 1 },
    data: { output_distribution: { mean: 16, std_dev: 0, min: 16, max: 16 } },
    // A handful of requests is all these failures need; PrepareRun refuses fewer than min_successes.
    validity: { min_successes: 1 },
  },
});
const posts = (): number => wf.env.cluster.calls.filter((c) => c.method === 'POST').length;
/** Moves the cloud's clock on by `ms` once the runner reports that it is sending (the runner's own time stays real). */
function whileSending(ms: number): () => boolean {
  let moved = false;
  podLog = (_pod, line) => {
    if (!moved && line.startsWith('{"status":"running"')) {
      moved = true;
      clock.advance(ms);
    }
  };
  return () => moved;
}

async function nothingLeft(target = wf.env.targetUrl): Promise<void> {
  expect(wf.env.cluster.existing('jobs')).toEqual([]);
  expect(wf.env.cluster.existing('configmaps')).toEqual([]);
  await expect(wf.env.s3Client.send(new GetObjectCommand({ Bucket: RESULTS_BUCKET, Key: claimKey(target) }))).rejects.toMatchObject({ name: 'NoSuchKey' });
}

describe('the local workflow when things go wrong', () => {
  it('invalid input: fails in PrepareRun listing every problem; nothing is created, in the cluster or S3', async () => {
    const before = wf.env.cluster.calls.length;
    const r = await wf.execute({ input: { runner: 'locust', target: { baseUrl: 'not a url' }, extra: true } });
    expect(r.status).toBe('FAILED');
    expect(r.error?.error).toBe('InvalidInput');
    expect(r.error?.cause).toMatch(/^The execution input was rejected and nothing was created in the cluster\. execution input: 3 problems:/);
    expect(r.states.map((s) => s.name)).toEqual(['PrepareRun', 'DescribeInvalidInput', 'RunFailed']);
    expect(wf.env.cluster.calls.length).toBe(before);
    const objects = await wf.env.s3Client.send(new ListObjectsV2Command({ Bucket: RESULTS_BUCKET }));
    expect((objects.Contents ?? []).filter((o) => o.LastModified! > new Date(Date.parse(r.startedAt) - 1000))).toEqual([]);
    // FAILED is among the statuses the stack's rule reaps: the reaper finds nothing to delete.
    expect(r.reaper).toMatchObject({ status: 'SUCCEEDED', states: ['ResolveRun', 'RunObjects?', 'NothingToReap'] });
  });

  it('target down: the Job fails and the cause quotes the runner\'s last lines', async () => {
    const down = 'http://127.0.0.1:9';
    const r = await wf.execute({ input: { ...load(2), target: { baseUrl: down } } });
    expect(r.error?.error).toBe('JobFailed');
    // The last lines may begin with the runner's notes (e.g. more workers than this machine's CPUs); the error is among them.
    expect(r.error?.cause).toMatch(/failed: the runner exited with code 2\. Last log lines: (?:(?:target: |run \d{8}T\d{6}Z-[a-z0-9]+: results go to |\{"note":)[^\n]*\n)*error: --target: cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
    expect(r.states.map((s) => s.name)).toEqual(expect.arrayContaining(['InspectRunnerPods', 'RunnerLogKept?', 'DescribeJobFailedWithLog', 'DeleteJob', 'DeleteConfigMap', 'ReleaseRun', 'RunFailed']));
    // FAILED starts the reaper (the stack's rule), after Cleanup released the claim and deleted the
    // Job: under IAM as the stack declares it, it finds both gone (S3's 404 needs s3:ListBucket) and succeeds.
    expect(r.reaper).toMatchObject({ status: 'SUCCEEDED', states: ['ResolveRun', 'RunObjects?', 'ReapJob', 'ReapConfigMap', 'ClaimReleased?', 'Reaped'] });
    expect((r.reaper!.output as { reap: { claim: string } }).reap.claim).toBe('not-held');
    await nothingLeft(down);
  }, 60_000);

  it('runner crash (SIGKILL mid-run): the Job fails with exit code 137 and the runner\'s last lines; what it measured stays in S3', async () => {
    let killed = false;
    podLog = (_pod, line, env) => {
      if (!killed && line.startsWith('{"status":"running"')) {
        killed = true;
        env.cluster.jobRuns()[0]!.kill(0, 'SIGKILL');
      }
    };
    const r = await wf.execute({ input: load(6) });
    expect(killed).toBe(true);
    expect(r.error?.error).toBe('JobFailed');
    expect(r.error?.cause).toMatch(/the runner exited with code 137\. Last log lines: .*"status":"running"/s);
    const raw = await wf.env.s3Client.send(new ListObjectsV2Command({ Bucket: RESULTS_BUCKET, Prefix: r.runSpec!.s3.prefix }));
    expect((raw.Contents ?? []).map((o) => o.Key!.slice(r.runSpec!.s3.prefix.length))).toEqual(expect.arrayContaining(['config.yml', 'run.json', 'run-spec.json']));
    await nothingLeft();
  }, 60_000);

  it('deadline exceeded (21 s of the cloud\'s clock pass while the runner sends): Kubernetes stops the Job at activeDeadlineSeconds; the cause says what to check; cleanup follows', async () => {
    const moved = whileSending(21_000);
    const r = await wf.execute({ input: load(20, 1), stackOverrides: { deadlineMarginSeconds: 1 } });
    expect(moved()).toBe(true);
    expect(r.error?.error).toBe('JobDeadlineExceeded');
    expect(r.error?.cause).toMatch(/exceeded its activeDeadlineSeconds \(21 s = scenario duration \+ margin\)\. Check that its pods were scheduled/);
    expect(r.states.map((s) => s.name)).toEqual(expect.arrayContaining(['DescribeJobDeadlineExceeded', 'DeleteJob', 'ReleaseRun', 'RunFailed']));
    await nothingLeft();
  }, 90_000);

  it('a runner pod no node can take (4 CPU for four workers; a 4-vCPU node allocates 3.92): after the scheduling grace the run fails quoting the scheduler, not at the deadline; cleanup follows', async () => {
    wf.env.cluster.faults = { allocatableCpu: 3.92 };
    // schedulingGraceSeconds 10 at the local 5 s poll interval: the second poll looks. The seed's four workers (it never runs).
    const r = await wf.execute({ input: { overrides: { load: { stages: [{ rate: 1, duration: 20 }], num_workers: 4 } } }, stackOverrides: { schedulingGraceSeconds: 10 } });
    expect(r.error?.error).toBe('RunnerUnschedulable');
    expect(r.error?.cause).toMatch(
      /^Runner pod \S+-0-[0-9a-f]{5} of Job \S+ could not be scheduled within 10 s \(the stack's schedulingGraceSeconds\)\. The scheduler says: 0\/1 nodes are available: 1 Insufficient cpu\. .* The pod asks for 4 CPU and 4Gi of memory \(requests = limits, at least one CPU per load\.num_workers\)/,
    );
    expect(r.states.filter((s) => s.name === 'GetJob')).toHaveLength(2);
    expect(r.states.map((s) => s.name)).toEqual(expect.arrayContaining(['InspectPendingPods', 'RunnerUnschedulable?', 'DescribeRunnerUnschedulable', 'DeleteJob', 'DeleteConfigMap', 'ReleaseRun', 'RunFailed']));
    await nothingLeft();
  }, 60_000);

  it('a runner pod that is only slow to start (its image pulling for 12 s) is looked at, not failed: past a 5 s grace the run still succeeds', async () => {
    wf.env.cluster.faults = { imagePullMs: 12_000 };
    // schedulingPolls 1: every poll while no pod is ready looks at the Pending pods (at 5 and 10 s).
    const r = await wf.execute({ input: load(1), stackOverrides: { schedulingGraceSeconds: 5 } });
    expect(r.status).toBe('SUCCEEDED');
    const names = r.states.map((s) => s.name);
    // At 5 and 10 s (the pull ends at 12 s; at 15 s the pod may still be starting).
    expect(names.filter((n) => n === 'InspectPendingPods').length).toBeGreaterThanOrEqual(2);
    // Each look found a scheduled pod (PodScheduled True, ContainerCreating) and went back to waiting.
    names.forEach((n, i) => {
      if (n === 'RunnerUnschedulable?') expect(names[i + 1]).toBe('WaitForJob');
    });
    expect(names).not.toContain('DescribeRunnerUnschedulable');
    await nothingLeft();
  }, 60_000);

  it('a second run against the same target while one is in progress fails before creating anything, naming the run in progress', async () => {
    const a = wf.execute({ input: load(1) });
    for (let i = 0; i < 300 && wf.env.cluster.existing('jobs').length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    const postsBefore = posts();
    const b = await wf.execute({ input: load(2) });
    expect(b.error?.error).toBe('RunInProgress');
    expect(b.error?.cause).toMatch(/^Another benchmark run is measuring this target, .*nothing was created in the cluster\. Run \d{8}T\d{6}Z-[0-9a-f]{6} \(execution arn:aws:states:[^)]+\) has been measuring http:\/\/127\.0\.0\.1:\d+ since /);
    expect(b.states.map((s) => s.name)).toEqual(['PrepareRun', 'DescribeRunInProgress', 'RunFailed']);
    expect(posts()).toBe(postsBefore);
    const first = await a;
    expect(first.status).toBe('SUCCEEDED');
    expect(b.error?.cause).toContain(first.runSpec!.runId);
    await nothingLeft();
  }, 90_000);

  it('a timed-out execution (its 8 s pass on the cloud\'s clock while the runner sends): the reaper (the stack\'s rule on status changes) deletes the Job and releases the claim', async () => {
    const moved = whileSending(8_000);
    const r = await wf.execute({ input: load(30, 1), timeoutSeconds: 8 });
    expect(moved()).toBe(true);
    expect(r.status).toBe('TIMED_OUT');
    expect(r.states.map((s) => s.name)).not.toContain('DeleteJob');
    expect(r.reaper).toMatchObject({ status: 'SUCCEEDED', states: ['ResolveRun', 'RunObjects?', 'ReapJob', 'ReapConfigMap', 'ClaimReleased?', 'Reaped'] });
    expect((r.reaper!.output as { reap: { released: boolean; runId: string } }).reap).toMatchObject({ released: true, runId: r.runSpec!.runId });
    await nothingLeft();
  }, 90_000);

  it('inference-perf: the workflow goes as far as its Job, whose image cannot run here — and says so', async () => {
    const r = await wf.execute({ input: { ...load(2), runner: 'inference-perf' } });
    expect(r.error?.error).toBe('JobFailed');
    expect(r.error?.cause).toMatch(/runs only stock Node images; quay\.io\/inference-perf\/inference-perf:v0\.6\.1@sha256:[0-9a-f]{64} cannot run on this machine \(run it on EKS\)/);
    const config = await wf.env.s3Client.send(new GetObjectCommand({ Bucket: RESULTS_BUCKET, Key: r.runSpec!.s3.configKey }));
    expect(await config.Body!.transformToString()).toMatch(/per_request: true/);
    await nothingLeft();
  }, 60_000);

  it('access denied (403): a call outside the access entry\'s rights is refused with the API server\'s Status; the cause names the entry and its scopes; cleanup is attempted', async () => {
    // The entry as if its edit policy were scoped to another namespace: listing ServiceAccounts in benchmarking is refused.
    wf.env.cluster.access = { ...granted, accessPolicies: granted.accessPolicies.filter((a) => a.policy !== 'AmazonEKSEditPolicy') };
    const r = await wf.execute({ input: load(2) });
    expect(r.error?.error).toBe('AccessDenied');
    expect(r.error?.cause).toMatch(/^The Kubernetes API refused the state machine role \(EKS\.403\)\. .*AmazonEKSEditPolicy on namespace benchmarking and AmazonEKSViewPolicy on namespace default/);
    expect(r.error?.cause).toMatch(/serviceaccounts is forbidden: User \\?"arn:aws:sts::\d{12}:assumed-role\/[^/]+\/\{\{SessionName\}\}\\?" cannot list resource \\?"serviceaccounts\\?" in API group \\?"\\?" in the namespace \\?"benchmarking/);
    expect(r.states.map((s) => s.name)).toEqual(expect.arrayContaining(['FindTargetPods', 'FindServiceAccount', 'DescribeAccessDenied', 'DeleteJob', 'ReleaseRun', 'RunFailed']));
    wf.env.cluster.access = granted;
    await nothingLeft();
  });

  it('no access entry for the role (401): AccessDenied before anything is created', async () => {
    wf.env.cluster.access = null;
    const postsBefore = posts();
    const r = await wf.execute({ input: load(2) });
    expect(r.error?.error).toBe('AccessDenied');
    expect(r.error?.cause).toMatch(/^The Kubernetes API refused the state machine role \(EKS\.401\)/);
    expect(posts()).toBe(postsBefore);
    wf.env.cluster.access = granted;
    await nothingLeft();
  });

  it('failures named otherwise than EKS.<status> (no AWS document states the shape) are classified by the Status in their Cause: 403 → AccessDenied, 404 → NamespaceMissing', async () => {
    wf.env.cluster.faults = { errorName: 'States.TaskFailed' };
    wf.env.cluster.access = { ...granted, accessPolicies: granted.accessPolicies.filter((a) => a.policy !== 'AmazonEKSEditPolicy') };
    const denied = await wf.execute({ input: load(2) });
    wf.env.cluster.access = granted;
    expect(denied.error?.error).toBe('AccessDenied');
    expect(denied.states.map((s) => s.name)).toContain('KubernetesRefusedOrNamespaceMissing?');
    expect(denied.error?.cause).toMatch(/\(States\.TaskFailed\)\. Check the EKS access entry/);
    wf.env.cluster.faults = { errorName: 'States.TaskFailed', missingNamespaces: ['benchmarking'] };
    const missing = await wf.execute({ input: load(2) });
    expect(missing.error?.error).toBe('NamespaceMissing');
    await nothingLeft();
  }, 60_000);

  it('a runner pod admission refuses (a ResourceQuota of 1 CPU; the pod asks for 2): no pod exists, and the first poll fails the run quoting the Job controller, not the deadline; cleanup follows', async () => {
    wf.env.cluster.faults = { cpuQuota: { benchmarking: 1 } };
    const r = await wf.execute({ input: load(2) });
    expect(r.error?.error).toBe('RunnerPodRefused');
    expect(r.error?.cause).toMatch(/^The Kubernetes API refused to create the runner pods of Job \S+ in namespace benchmarking; nothing ran\. The Job controller says: Error creating: pods "\S+-0-[0-9a-f]{5}" is forbidden: exceeded quota: compute, requested: requests\.cpu=2, used: requests\.cpu=0, limited: requests\.cpu=1 /);
    expect(r.states.filter((s) => s.name === 'GetJob')).toHaveLength(1);
    expect(r.states.map((s) => s.name)).toEqual(expect.arrayContaining(['InspectJobEvents', 'RunnerPodRefused?', 'DescribeRunnerPodRefused', 'DeleteJob', 'DeleteConfigMap', 'ReleaseRun', 'RunFailed']));
    await nothingLeft();
  }, 60_000);

  it('benchmark namespace missing (404): says how to create it', async () => {
    wf.env.cluster.faults = { missingNamespaces: ['benchmarking'] };
    const r = await wf.execute({ input: load(2) });
    expect(r.error?.error).toBe('NamespaceMissing');
    expect(r.error?.cause).toMatch(/^Namespace benchmarking does not exist in cluster local \(EKS\.404\)\. Create it \(kubectl create namespace benchmarking\)/);
  });

  it('no Running target pod: fails with the selector and the namespace; nothing created', async () => {
    wf.env.cluster.faults = { noTargetPods: true };
    const postsBefore = posts();
    const r = await wf.execute({ input: load(2) });
    expect(r.error?.error).toBe('NoRunningTargetPod');
    expect(r.error?.cause).toContain('No Running pod matches labelSelector app.kubernetes.io/component=qwen3-vllm in namespace default.');
    expect(posts()).toBe(postsBefore);
    await nothingLeft();
  });

  it('a Job that outlives the poll bound stops at it', async () => {
    // pollIntervalSeconds 600 bounds the polls at 3; while the runner runs, each Wait takes half a real second, not 600.
    const r = await wf.execute({ input: load(20, 1), stackOverrides: { pollIntervalSeconds: 600 } });
    expect(r.error?.error).toBe('JobPollLimit');
    expect(r.states.filter((s) => s.name === 'GetJob')).toHaveLength(3);
    await nothingLeft();
  }, 60_000);
});

describe('the same workflow with one permission taken from a synthesized role (IAM as AWS evaluates it)', () => {
  let strict: LocalWorkflow;
  beforeAll(async () => {
    // ReleaseRun's role without s3:ListBucket: S3 then answers a released claim's GetObject with 403, not 404.
    const synth = testStack.synthesize(LOCAL_SYNTH_SETTINGS);
    const role = synth.iam.roles[synth.iam.principals.ReleaseRun]!;
    for (const p of role.policies) {
      const d = p.document as { Statement: Array<{ Action: string | string[] }> };
      d.Statement = d.Statement.filter((st) => ![st.Action].flat().includes('s3:ListBucket'));
    }
    strict = await LocalWorkflow.start({ stack: testStack, synthesized: synth, bundleFile: runnerBundle(), clock: new VirtualClock(), config: {} });
  }, 120_000);
  afterAll(() => strict?.stop());

  it('a failed run\'s reaper still deletes the Job, then fails as ClaimNotReleased quoting S3\'s AccessDenied and naming the claim (its alarm fires)', async () => {
    const r = await strict.execute({ input: { ...load(1), target: { baseUrl: 'http://127.0.0.1:9' } } });
    expect(r.error?.error).toBe('JobFailed');
    expect(r.reaper).toMatchObject({ status: 'FAILED', states: ['ResolveRun', 'RunObjects?', 'ReapJob', 'ReapConfigMap', 'ClaimReleased?', 'DescribeClaimNotReleased', 'ClaimNotReleased'] });
    expect(r.reaper!.error, JSON.stringify(r.reaper)).toMatchObject({ error: "ClaimNotReleased" });
    expect(r.reaper!.error!.cause).toMatch(/its Kubernetes objects were deleted, but its claim on the target could not be released \(AccessDenied: .*not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::inference-baseline-results".*\)\..* delete s3:\/\/inference-baseline-results\/claims\/127\.0\.0\.1-9\.json to release it now/);
    expect(strict.env.cluster.existing('jobs')).toEqual([]);
  }, 60_000);
});
