import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { claimKey } from '../../runtime/core/claims.ts';
import { Summary } from '../../runtime/core/summary/schema.ts';
import { HistoryEntry } from '../../runtime/core/history/entry.ts';
import { getObjectText, putObject } from '../../runtime/aws/s3.ts';
import { RESULTS_BUCKET } from '../../runtime/local/environment.ts';
import { exportExecution } from '../../runtime/local/export.ts';
import { resolveDefinition } from '../../infra/local-stack.ts';
import { VirtualClock } from '../../runtime/local/clock.ts';
import { LocalWorkflow, type ExecutionRecord } from '../../runtime/local/workflow.ts';
import { synthStack } from '../infra/stack-fixture.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';

/**
 * The synthesized workflow, run locally end to end: the real PrepareRun / Aggregate / Publish /
 * ReleaseRun handlers over the local S3 (S3's conditional writes), the runner bundle fetched by the
 * Job's bootstrap through a presigned URL and run as the Job's pod by the Kubernetes stand-in,
 * Pod Identity credentials. Only CloudWatch (EMF is collected) and EKS itself are stand-ins. The
 * cloud's time is virtual (runtime/local/clock.ts): the Job is polled as soon as it is done.
 */

const tempDir = useTempDirs();
let wf: LocalWorkflow;
let first: ExecutionRecord;
/**
 * 100 requests (a TTFT p99 needs 100 samples to be published, and the seam test below reads it) of
 * 32 output tokens: light enough for a machine running other test files at the same time. The
 * load-fidelity rules are loosened for the same reason (schedule delay 1 s, rate 50 %: with both
 * cores busy a short run's largest send delay reached 58 ms) — this file tests the workflow; the
 * runner's timing is measured alone (the timing suite, bench/).
 */
const SHORT = {
  overrides: {
    load: { stages: [{ rate: 50, duration: 2 }] },
    data: { output_distribution: { mean: 32, std_dev: 0, min: 32, max: 32 } },
    validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5 },
  },
};

beforeAll(async () => {
  wf = await LocalWorkflow.start({ stack: testStack, bundleFile: runnerBundle(), clock: new VirtualClock(), config: {} });
  first = await wf.execute({ input: SHORT });
}, 120_000);
afterAll(() => wf?.stop());

describe('the local workflow: success (native runner through the bootstrap and the bundle)', () => {
  it('runs every step and ends Succeeded with a valid run', () => {
    expect(first.error).toBeUndefined();
    expect(first.status).toBe('SUCCEEDED');
    const names = first.states.map((s) => s.name);
    expect(names.slice(0, 12)).toEqual([
      'PrepareRun', 'FindTargetPods', 'TargetPodRunning?', 'DescribeTarget', 'ListTargetReplicas', 'LocateZone', 'ZoneKnown?', 'PinToZone', 'RecordZone',
      'FindServiceAccount', 'ServiceAccountFound?', 'CreateServiceAccount',
    ]);
    // Not regressed (nothing to compare with yet): no notice.
    expect(names.slice(-12)).toEqual(['JobState?', 'JobSucceeded', 'Aggregate', 'Publish', 'Regressed?', 'DeleteJob', 'DeleteConfigMap', 'ReleaseRun', 'CleanedUp', 'Outcome?', 'RunSummary', 'Succeeded']);
    expect(first.output).toMatchObject({ scenario: 'baseline', model: 'qwen3-8b', runner: 'native', zone: 'local-1a', valid: true, reasons: [], succeeded: 100, published: 28 });
    expect(first.reaper).toBeUndefined();
  });

  it('leaves nothing in the cluster (the ConfigMap went with its Job) and releases its claim on the target', async () => {
    expect(wf.env.cluster.existing('jobs')).toEqual([]);
    expect(wf.env.cluster.existing('configmaps')).toEqual([]);
    expect(wf.env.cluster.existing('serviceaccounts').map((s) => s.metadata.name)).toEqual(['inference-baseline-runner']);
    await expect(wf.env.s3Client.send(new GetObjectCommand({ Bucket: RESULTS_BUCKET, Key: claimKey(wf.env.targetUrl) }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('under IAM as the stack declares it, raw results cannot be replaced, not even by the role that wrote them; derived files can be, by Aggregate', async () => {
    const prefix = first.runSpec!.s3.prefix;
    const part = `${prefix}requests/shard-0000-0000.ndjson.gz`;
    const runner = wf.env.s3ClientAs(wf.synth.iam.principals.runner!);
    const plain = await runner.send(new PutObjectCommand({ Bucket: RESULTS_BUCKET, Key: part, Body: 'replaced' })).then(() => null, (err: Error) => err);
    expect(plain).toMatchObject({ name: 'AccessDenied', message: expect.stringMatching(/not authorized to perform: s3:PutObject .* with an explicit deny/) });
    const conditional = await runner.send(new PutObjectCommand({ Bucket: RESULTS_BUCKET, Key: part, Body: 'replaced', IfNoneMatch: '*' })).then(() => null, (err: Error) => err);
    expect(conditional).toMatchObject({ name: 'PreconditionFailed' });
    const aggregate = wf.env.s3ClientAs(wf.synth.iam.principals.Aggregate);
    const summary = await getObjectText(wf.env.s3Client, RESULTS_BUCKET, `${prefix}summary.json`);
    await aggregate.send(new PutObjectCommand({ Bucket: RESULTS_BUCKET, Key: `${prefix}summary.json`, Body: summary }));
  });

  it('exports the run: its whole S3 prefix, execution.json and the EMF lines Publish wrote', async () => {
    const out = await tempDir();
    const dir = await exportExecution(wf.env, first, out);
    expect(dir).toBe(join(out, first.runSpec!.runId));
    expect((await readdir(dir)).sort()).toEqual(['config.yml', 'execution.json', 'histograms.json', 'metrics.emf.ndjson', 'report.html', 'requests', 'run-spec.json', 'run.json', 'server-metrics.ndjson', 'summary.json']);
    // One shard per worker thread of the one pod: the baseline keeps the seed's num_workers: 4 (and
    // the bundle is the threads' entry point, as in a pod).
    const shards = [0, 1, 2, 3].map((i) => `shard-000${i}`);
    expect((await readdir(join(dir, 'requests'))).sort()).toEqual(shards.flatMap((s) => [`${s}-0000.ndjson.gz`, `${s}.json`]));
    const summary = Summary.parse(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')));
    expect(summary.validity).toEqual({ valid: true, reasons: [], notes: [] });
    // The run's identity is the RunSpec's (what the alarms watch), the zone the one the workflow located.
    expect(summary.run).toMatchObject({ scenario: 'baseline', model: 'qwen3-8b', zone: 'local-1a', runId: first.runSpec!.runId });
    // The replicas' metrics, at the pod IPs ListTargetReplicas put in the ConfigMap and the stack's
    // metrics port (the local target pod's address is the simulator's): every request the server
    // finished in the window was the run's.
    expect(summary.server?.scraped).toMatchObject({ endpoints: [`http://127.0.0.1:${new URL(wf.env.targetUrl).port}/metrics`], complete: true });
    expect(summary.server?.requests).toMatchObject({ ours: 100, seen: 100, foreign: 0 });
    expect(summary.server?.ttft?.count).toBe(100);
    const execution = JSON.parse(await readFile(join(dir, 'execution.json'), 'utf8')) as { status: string; definitionSha256: string; overrides: Record<string, unknown> };
    expect(execution).toMatchObject({ status: 'SUCCEEDED', definitionSha256: first.definitionSha256, overrides: { retryIntervalMs: 100, clock: 'virtual' } });
    const emf = (await readFile(join(dir, 'metrics.emf.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ Model: 'qwen3-8b', Scenario: 'baseline', RunValid: 1 });
  });

  it('executes the definition of the synthesized template, and that template is what the stack synthesizes', async () => {
    const machines = Object.values(wf.synth.template.Resources as Record<string, { Type: string; Properties: { DefinitionString: unknown } }>).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    const texts = machines.map((m) => resolveDefinition(m.Properties.DefinitionString, wf.synth.template as never));
    expect(texts.map((t) => createHash('sha256').update(t).digest('hex'))).toContain(first.definitionSha256);
    expect(JSON.parse(texts.find((t) => createHash('sha256').update(t).digest('hex') === first.definitionSha256)!)).toEqual(wf.synth.definition);
    // An independent synthesis of the stack with the same settings gives the same states.
    const { template } = synthStack(await tempDir(), wf.env.config);
    const independent = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((m) => JSON.parse(resolveDefinition((m as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString, template.toJSON() as never)) as unknown);
    expect(independent).toContainEqual(wf.synth.definition);
  });

  it('a second run finds the ServiceAccount by listing (no create) and, with no EC2 instance behind the pod (Fargate), uses podAffinity', async () => {
    wf.env.zone = null;
    try {
      // A smaller run of one worker: placement is this test's subject.
      const r = await wf.execute({ input: { overrides: { ...SHORT.overrides, load: { stages: [{ rate: 20, duration: 1 }], num_workers: 1 } } } });
      expect(r.status).toBe('SUCCEEDED');
      const names = r.states.map((s) => s.name);
      expect(names).toContain('ServiceAccountReady');
      expect(names).not.toContain('CreateServiceAccount');
      expect(names).toContain('AffinityToTargetPods');
      expect(r.output).toMatchObject({ zone: 'unknown', valid: true });
    } finally {
      wf.env.zone = 'local-1a';
    }
  }, 60_000);
});

let compared: ExecutionRecord | undefined;

describe('the series on the cloud path: history entries, the comparison, its metrics and the regression notice', () => {
  it("Aggregate wrote the run's history entry at history/<scenario>/<model>/<runId>.json, with its context", async () => {
    const entry = HistoryEntry.parse(JSON.parse(await getObjectText(wf.env.s3Client, RESULTS_BUCKET, `history/baseline/qwen3-8b/${first.runSpec!.runId}.json`)));
    expect(entry).toMatchObject({ runId: first.runSpec!.runId, valid: true, verdict: 'insufficient-history', location: `s3://${RESULTS_BUCKET}/${first.runSpec!.s3.prefix}` });
    // The target pod the workflow found, its node and instance type; the simulator's settings from /version.
    expect(entry.context.pod).toMatchObject({ instanceType: 'local', images: [expect.stringMatching(/^inference-baseline\/simulator:/)] });
    expect(entry.context.server?.settings).toMatchObject({ ttftMs: '40', itlMs: '12', tokenizer: 'qwen3' });
    expect(entry.metrics.ttft_p50).toMatchObject({ n: 100, supported: true });
  });

  it('against a window of three earlier valid runs (execution input compare.windowSize; their TTFT 40 % lower) a run is compared: regressed, published as RegressionCount and change_*, and the notice is sent', async () => {
    const base = HistoryEntry.parse(JSON.parse(await getObjectText(wf.env.s3Client, RESULTS_BUCKET, `history/baseline/qwen3-8b/${first.runSpec!.runId}.json`)));
    // 40 % lower, not 20: two real runs' TTFT differ by a few per cent on a loaded machine, and the
    // change below is computed from what this run measured, not assumed to be 1/0.8 − 1.
    const FASTER = 0.6;
    for (let i = 0; i < 3; i++) {
      const faster = Object.fromEntries(Object.entries(base.metrics).map(([k, e]) => [k, k.startsWith('ttft') && e.value !== null ? { ...e, value: e.value * FASTER, se: 0.01 } : e]));
      // Just before the next run, after the two real ones: with `compare.windowSize` 3 the window is these three.
      const earlier = { ...base, runId: `20200101T00000${i}Z-seeded`, startedAt: new Date(Date.now() - (3 - i) * 1000).toISOString(), metrics: faster };
      await putObject(wf.env.s3Client, RESULTS_BUCKET, `history/baseline/qwen3-8b/${earlier.runId}.json`, JSON.stringify(earlier));
    }
    compared = await wf.execute({ input: { ...SHORT, compare: { windowSize: 3 } } });
    expect(compared.status).toBe('SUCCEEDED');
    expect(compared.states.map((s) => s.name).slice(-11)).toEqual(['Aggregate', 'Publish', 'Regressed?', 'NotifyRegression', 'DeleteJob', 'DeleteConfigMap', 'ReleaseRun', 'CleanedUp', 'Outcome?', 'RunSummary', 'Succeeded']);
    const measured = HistoryEntry.parse(JSON.parse(await getObjectText(wf.env.s3Client, RESULTS_BUCKET, `history/baseline/qwen3-8b/${compared.runSpec!.runId}.json`)));
    const baseline = base.metrics.ttft_p50!.value! * FASTER;
    const change = (measured.metrics.ttft_p50!.value! - baseline) / baseline;
    expect(compared.output).toMatchObject({ regressed: expect.arrayContaining(['ttft_p50']), comparison: expect.stringMatching(/^regressed against 3 earlier runs: ttft_p50 \+\d+\.\d %/) });
    const said = Number(/ttft_p50 \+(\d+\.\d) %/.exec((compared.output as { comparison: string }).comparison)![1]);
    expect(said).toBeCloseTo(change * 100, 0);
    const emf = compared.emf[0] as Record<string, unknown>;
    expect(emf.RegressionCount).toBeGreaterThanOrEqual(1);
    expect(emf.change_ttft_p50).toBeCloseTo(change * 100, 1);
    // The notice: to the alarms' topic, with the metrics and what changed (here: nothing recorded).
    expect(compared.notices).toHaveLength(1);
    const topics = Object.entries(wf.synth.template.Resources as Record<string, { Type: string }>).filter(([, r]) => r.Type === 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    expect(compared.notices[0]!.Subject).toBe('inference-baseline: baseline / qwen3-8b regressed');
    expect(compared.notices[0]!.Message).toMatch(/^inference-baseline: baseline \/ qwen3-8b regressed in run \S+\nAgainst 3 earlier valid run\(s\)[^\n]*\n {2}ttft_p50 [\s\S]*Nothing the run records changed since the previous run/);
  }, 120_000);
});

describe('what Publish emits is what the stack watches (the synthesized template and the EMF of a local run)', () => {
  it('every metric and dimension set the alarms and the dashboard read is emitted, and every emitted metric is on the dashboard', () => {
    const namespace = 'InferenceBaseline';
    const key = (name: string, dims: Record<string, string>): string => `${name} ${Object.entries(dims).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;
    const emitted = new Set<string>();
    // The first run (no history yet) and a compared one: together every metric a run can publish.
    expect(compared).toBeDefined();
    for (const doc of [...first.emf, ...compared!.emf]) {
      for (const d of (doc._aws as { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics) {
        expect(d.Namespace).toBe(namespace);
        for (const set of d.Dimensions) for (const m of d.Metrics) emitted.add(key(m.Name, Object.fromEntries(set.map((k) => [k, String(doc[k])]))));
      }
    }
    const resources = Object.values(wf.synth.template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
    const alarms = resources
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.Namespace === namespace)
      .map((r) => key(String(r.Properties.MetricName), Object.fromEntries((r.Properties.Dimensions as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value]))));
    expect(alarms.length).toBeGreaterThanOrEqual(4);
    const board = resources.find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    const body = JSON.parse(joinText(board.Properties.DashboardBody)) as { widgets: Array<{ properties: { metrics?: unknown[][] } }> };
    const graphed = body.widgets
      .flatMap((w) => w.properties.metrics ?? [])
      .filter((m) => m[0] === namespace)
      .map((m) => {
        const strings = m.filter((x) => typeof x === 'string') as string[];
        const dims: Record<string, string> = {};
        for (let i = 2; i + 1 < strings.length; i += 2) dims[strings[i]!] = strings[i + 1]!;
        return key(strings[1]!, dims);
      });
    for (const read of [...alarms, ...graphed]) expect(emitted, `${read} is read but never emitted`).toContain(read);
    for (const sent of emitted) expect(graphed, `${sent} is emitted but not on the dashboard`).toContain(sent);
  });
});

/** A DashboardBody (Fn::Join of text and tokens; the tokens are alarm ARNs, never metric names). */
function joinText(node: unknown): string {
  if (typeof node === 'string') return node;
  const [sep, parts] = (node as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(sep);
}
