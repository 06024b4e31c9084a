import { DescribeExecutionCommand, ListStateMachinesCommand, ListTagsForResourceCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Job } from 'kubernetes-models/batch/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderCommand } from '../../runtime/cli/commands/render.ts';
import { executionConsoleUrl, startCommand } from '../../runtime/cli/commands/start.ts';
import { InputError } from '../../runtime/core/errors.ts';
import { cli } from '../support/cli.ts';

const SM = 'arn:aws:states:us-west-2:111111111111:stateMachine:WorkflowStateMachine-abc';
const EXEC = 'arn:aws:states:us-west-2:111111111111:execution:WorkflowStateMachine-abc:e1';

function fakeSfn(statuses: Array<{ status: string; output?: unknown; error?: string; cause?: string }>) {
  const sent: Array<{ name: string; input: Record<string, unknown> }> = [];
  let describes = 0;
  return {
    sent,
    client: {
      send: async (cmd: { input: Record<string, unknown> }) => {
        sent.push({ name: cmd.constructor.name, input: cmd.input });
        if (cmd instanceof ListStateMachinesCommand) return { stateMachines: [{ stateMachineArn: 'arn:other' }, { stateMachineArn: SM }] };
        if (cmd instanceof ListTagsForResourceCommand) {
          return { tags: cmd.input.resourceArn === SM ? [{ key: 'inference-baseline:stack', value: 'InferenceBaseline' }] : [] };
        }
        if (cmd instanceof StartExecutionCommand) return { executionArn: EXEC, startDate: new Date(0) };
        if (cmd instanceof DescribeExecutionCommand) {
          const s = statuses[Math.min(describes++, statuses.length - 1)]!;
          return { status: s.status, output: s.output === undefined ? undefined : JSON.stringify(s.output), error: s.error, cause: s.cause };
        }
        throw new Error(`unexpected ${cmd.constructor.name}`);
      },
    },
  };
}

function sink() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, text: () => text };
}

describe('start', () => {
  it('finds the stack state machine by tag, starts it with {} and prints the console link', async () => {
    const sfn = fakeSfn([]);
    const out = sink();
    const r = await startCommand({}, { sfn: sfn.client as never, stdout: out.stream, sleep: async () => {} });
    expect(r).toEqual({ exitCode: 0, executionArn: EXEC });
    const start = sfn.sent.find((s) => s.name === 'StartExecutionCommand');
    expect(start?.input).toEqual({ stateMachineArn: SM, input: '{}' });
    expect(out.text()).toContain(executionConsoleUrl(EXEC));
    expect(executionConsoleUrl(EXEC)).toBe(`https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/${EXEC}`);
  });

  it('with --wait polls until the end and prints the verdict', async () => {
    const output = { runId: 'r1', scenario: 'baseline', model: 'qwen3-8b', zone: 'us-west-2a', valid: false, reasons: ['schedule delay p99 12.3 ms ≥ 10 ms: give the runner more CPU'], results: 's3://b/runs/r1/' };
    const sfn = fakeSfn([{ status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'SUCCEEDED', output }]);
    const out = sink();
    const sleeps: number[] = [];
    const r = await startCommand({ stateMachine: SM, wait: true, pollSeconds: 5 }, { sfn: sfn.client as never, stdout: out.stream, sleep: async (ms) => void sleeps.push(ms) });
    expect(r.exitCode).toBe(3);
    expect(sleeps).toEqual([5000, 5000]);
    expect(out.text()).toMatch(/INVALID: run r1 \(baseline, qwen3-8b, zone us-west-2a\) is not a baseline:\n {2}- schedule delay p99/);
    expect(sfn.sent.some((s) => s.name === 'ListStateMachinesCommand')).toBe(false);
  });

  it('with --wait prints the comparison the execution carries', async () => {
    const output = { runId: 'r2', scenario: 'baseline', model: 'qwen3-8b', zone: 'us-west-2a', valid: true, reasons: [], results: 's3://b/runs/r2/', comparison: 'regressed against 7 earlier runs: ttft_p50 +15.0 % (±3.0 %); what changed since the previous run: image vllm/vllm-openai:v0.11.0 → vllm/vllm-openai:v0.12.0' };
    const sfn = fakeSfn([{ status: 'SUCCEEDED', output }]);
    const out = sink();
    const r = await startCommand({ stateMachine: SM, wait: true, pollSeconds: 5 }, { sfn: sfn.client as never, stdout: out.stream, sleep: async () => undefined });
    expect(r.exitCode).toBe(0);
    expect(out.text()).toContain(`VALID baseline: run r2 (baseline, qwen3-8b, zone us-west-2a)\ncomparison: ${output.comparison}\nresults: s3://b/runs/r2/`);
  });

  it('prints the failure cause of a failed execution and exits 1', async () => {
    const sfn = fakeSfn([{ status: 'FAILED', error: 'NoRunningTargetPod', cause: 'No Running pod matches …' }]);
    const out = sink();
    const r = await startCommand({ stateMachine: SM, wait: true }, { sfn: sfn.client as never, stdout: out.stream, sleep: async () => {} });
    expect(r.exitCode).toBe(1);
    expect(out.text()).toContain('FAILED: NoRunningTargetPod\nNo Running pod matches');
  });

  it('rejects bad --input before calling AWS', async () => {
    const sfn = fakeSfn([]);
    await expect(startCommand({ input: '{nope' }, { sfn: sfn.client as never, stdout: sink().stream, sleep: async () => {} })).rejects.toThrow(/--input: is not valid JSON/);
    await expect(startCommand({ input: '{"runner":"x","colour":1}' }, { sfn: sfn.client as never, stdout: sink().stream, sleep: async () => {} })).rejects.toThrow(InputError);
    expect(sfn.sent).toEqual([]);
  });

  it('explains a stack it cannot find', async () => {
    const sfn = fakeSfn([]);
    await expect(startCommand({ stack: 'Other' }, { sfn: sfn.client as never, stdout: sink().stream, sleep: async () => {} })).rejects.toThrow(/no state machine tagged inference-baseline:stack=Other/);
  });
});

describe('render', () => {
  const deps = { readFile: () => '', now: () => Date.UTC(2025, 0, 1, 2), randomSuffix: () => 'ab12cd' };

  it('prints ServiceAccount, ConfigMap and Job for kubectl (inference-perf, podAffinity)', () => {
    const text = renderCommand({ runner: 'inference-perf', bucket: 'my-results' }, deps);
    const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string });
    expect(docs.map((d) => d.kind)).toEqual(['ServiceAccount', 'ConfigMap', 'Job']);
    const job = docs[2] as never as { spec: { template: { spec: { affinity: unknown; containers: Array<{ image: string }> } } } };
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(job.spec.template.spec.affinity).toBeDefined();
    expect(job.spec.template.spec.containers[0]?.image).toBe('quay.io/inference-perf/inference-perf:v0.6.1@sha256:e29328cc223ebae58d9022d60ad651cc3c4cbd534885a78b28f54086aa4b9c9e');
    expect(text).toMatch(/^# inference-baseline run 20250101T020000Z-ab12cd: kubectl apply/);
    expect(text).toContain('bucket_name: my-results');
  });

  it('renders a config file and a zone for the native runner image', () => {
    const yaml = 'load:\n  stages: [{rate: 2, duration: 60}]\nserver:\n  base_url: http://llm.models:8000\n  model_name: m\n';
    const text = renderCommand({ config: 'c.yml', image: 'repo/ib:1', zone: 'us-west-2c' }, { ...deps, readFile: () => yaml });
    const job = parseAllDocuments(text)[2]!.toJS() as { spec: { activeDeadlineSeconds: number; template: { spec: { nodeSelector: unknown; containers: Array<{ args: string[] }> } } } };
    expect(job.spec.template.spec.nodeSelector).toEqual({ 'topology.kubernetes.io/zone': 'us-west-2c' });
    expect(job.spec.activeDeadlineSeconds).toBe(660);
    expect(job.spec.template.spec.containers[0]?.args).toEqual(expect.arrayContaining(['--target', 'http://llm.models:8000', '--model', 'm']));
  });

  it('lists every problem in the options', () => {
    expect(() => renderCommand({ runner: 'x', podSelector: 'a in (b)', scenario: 'nope' }, deps)).toThrow(/render: 3 problems/);
    expect(() => renderCommand({}, deps)).toThrow(/needs --image/);
  });

  it('names a misspelt bucket, region or image before printing anything kubectl would accept', () => {
    const err = (() => {
      try {
        renderCommand({ runner: 'inference-perf', bucket: 'My_Results', region: 'us-west2', inferencePerfTag: 'v0.6.1 ' }, deps);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected render to refuse');
    })();
    expect(err.message).toContain('--region: "us-west2" is not an AWS region name (like us-west-2)');
    expect(err.message).toContain('--bucket: "My_Results" is not an S3 bucket name');
    expect(err.message).toContain('--inference-perf-tag: "quay.io/inference-perf/inference-perf:v0.6.1 " is not a container image reference');
  });

  it.each(['usw2-az1', 'us-west-2', 'us west 2a'])('refuses --zone %s (a zone ID, a region, a typo) with exit 2', async (zone) => {
    const r = await cli(['render', '--runner', 'inference-perf', '--zone', zone]);
    expect(r.stderr).toContain(`option '--zone <az>' argument '${zone}' is invalid. must be an availability zone name like us-west-2a`);
    expect(r.code).toBe(2);
  });

  it('--rbac prints a Role and a RoleBinding to the workflow group per namespace, with exactly the rules the workflow uses', () => {
    const text = renderCommand({ rbac: true, namespace: 'bench', targetNamespace: 'models' }, deps);
    expect(text).toMatch(/^# inference-baseline workflow RBAC: kubectl apply -f <this file>\n# For a stack deployed with -c workflowKubernetesAccess=rbac/);
    const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { namespace: string }; rules?: unknown; subjects?: unknown });
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace}`)).toEqual(['Role/bench', 'RoleBinding/bench', 'Role/models', 'RoleBinding/models']);
    expect(docs[1]!.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'inference-baseline:workflow' }]);
    // The target namespace: listing pods, nothing else.
    expect(docs[2]!.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    expect(() => renderCommand({ rbac: true, namespace: 'Bench_1' }, deps)).toThrow(/--namespace: "Bench_1" is not a Kubernetes namespace name/);
  });

  it('--rbac from the command line: the stack defaults\' namespaces, no runner options needed', async () => {
    const r = await cli(['render', '--rbac']);
    expect(r.code).toBe(0);
    expect(parseAllDocuments(r.stdout).map((d) => (d.toJS() as { metadata: { namespace: string } }).metadata.namespace)).toEqual(['benchmarking', 'benchmarking', 'default', 'default']);
  });

  it('accepts Local Zone names', () => {
    expect(() => renderCommand({ runner: 'inference-perf', zone: 'us-west-2-lax-1a' }, deps)).not.toThrow();
  });
});
