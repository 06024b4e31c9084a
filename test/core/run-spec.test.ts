import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import {
  buildRunSpec,
  formatRunId,
  maxPolls,
  parseLabelSelector,
  resourceNames,
  RunSpec,
} from '../../runtime/core/run-spec/index.ts';
import { runPrefix } from '../../runtime/core/run-layout.ts';
import { NIGHT, seedDefaults, seedRunSpec } from './run-spec-fixture.ts';

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).name).toBe('InvalidInput');
    return (err as InputError).problems;
  }
  throw new Error('expected an InvalidInput error');
}

describe('buildRunSpec with {} (the stack default baseline)', () => {
  it('names the run by its UTC start time and suffix, and lays out the S3 prefix', () => {
    const spec = seedRunSpec({});
    expect(spec.runId).toBe('20250101T020000Z-ab12cd');
    expect(spec.s3.prefix).toBe('runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/');
    expect(spec.s3.runSpecKey).toBe('runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/run-spec.json');
    expect(spec.s3.configKey).toBe('runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/config.yml');
    expect(spec.s3.rawPrefix).toBe('runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/raw/');
    expect(spec.s3.uri).toBe('s3://results-bucket/runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/');
    expect(spec.s3.outUri).toBe('s3://results-bucket/runs/baseline/qwen3-8b/');
    expect(spec.createdAt).toBe('2025-01-01T02:00:00.000Z');
    expect(RunSpec.parse(spec)).toEqual(spec);
  });

  it('keeps the seed workload and targets the stack default service', () => {
    const spec = seedRunSpec({});
    expect(spec.config.load.stages).toEqual([{ rate: 1, duration: 300 }]);
    expect(spec.config.data.input_distribution).toMatchObject({ mean: 512, min: 512, max: 512 });
    expect(spec.config.server).toMatchObject({ base_url: 'http://qwen3-vllm.default:8000', model_name: 'qwen3-8b', ignore_eos: true });
    expect(spec.target.labelSelector).toBe('app.kubernetes.io/component=qwen3-vllm');
    expect(spec.config.storage?.simple_storage_service).toMatchObject({ bucket_name: 'results-bucket' });
  });

  it('sets the Job deadline from the scenario duration plus margin, and bounds polling by it', () => {
    const spec = seedRunSpec({});
    expect(spec.job.loadSeconds).toBe(300);
    expect(spec.job.activeDeadlineSeconds).toBe(900);
    expect(spec.job.parallelism).toBe(1);
    expect(spec.job.maxPolls).toBe(maxPolls(900, 30));
    expect(spec.job.maxPolls * spec.job.pollIntervalSeconds).toBeGreaterThan(spec.job.activeDeadlineSeconds);
  });

  it('gives DNS-1123 Job and ConfigMap names of at most 63 characters', () => {
    const spec = seedRunSpec({});
    expect(spec.names.job).toBe('ib-baseline-20250101t020000z-ab12cd');
    for (const name of [spec.names.job, spec.names.configMap]) {
      expect(name).toMatch(DNS_1123);
      expect(name.length).toBeLessThanOrEqual(63);
    }
    const long = resourceNames('A_Very/Long Scenario Name That Goes On And On Forever', '20250101T020000Z-abcdefabcdef');
    expect(long.job.length).toBeLessThanOrEqual(63);
    expect(long.configMap.length).toBeLessThanOrEqual(63);
    expect(long.configMap).toMatch(DNS_1123);
  });
});

describe('buildRunSpec with execution input', () => {
  it('applies overrides, target and runner, with target winning over overrides', () => {
    const spec = seedRunSpec({
      overrides: { load: { stages: [{ rate: 120, duration: 60 }, { rate: 2, duration: 30 }], interval: 5 }, server: { base_url: 'http://x:1' } },
      target: { baseUrl: 'http://llama.models:8000', modelName: 'Meta/Llama-3', podSelector: 'app=llama,tier=gpu' },
    });
    expect(spec.config.server.base_url).toBe('http://llama.models:8000');
    expect(spec.model).toBe('Meta/Llama-3');
    expect(spec.s3.prefix).toBe('runs/baseline/Meta-Llama-3/20250101T020000Z-ab12cd/');
    expect(spec.target.podSelector).toEqual({ app: 'llama', tier: 'gpu' });
    expect(spec.job.loadSeconds).toBe(95);
    expect(spec.job.parallelism).toBe(3); // 120 req/s over 50 req/s per pod
  });

  it('points inference-perf at raw/ and forces per-request records', () => {
    const spec = seedRunSpec({ runner: 'inference-perf' });
    expect(spec.runner).toEqual({ kind: 'inference-perf', delivery: 'tool', image: 'quay.io/inference-perf/inference-perf:v0.6.1' });
    expect(spec.config.storage?.simple_storage_service).toMatchObject({
      bucket_name: 'results-bucket',
      path: 'runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/raw',
    });
    expect(spec.config.report?.request_lifecycle?.per_request).toBe(true);
    expect(spec.bundle).toBeNull();
    expect(spec.job.parallelism).toBe(1);
  });

  it('accepts a runId given in the input', () => {
    expect(seedRunSpec({ runId: '20240606T101010Z-manual' }).runId).toBe('20240606T101010Z-manual');
  });

  it('lists every problem at once, by path', () => {
    const problems = problemsOf(() =>
      seedRunSpec({ runner: 'locust', target: { baseUrl: 'ftp://nope', extra: 1 }, runId: 'yesterday', colour: 'red' }),
    );
    expect(problems.some((p) => p.startsWith('runner:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('target.baseUrl:'))).toBe(true);
    expect(problems.some((p) => p.includes('target.extra'))).toBe(true);
    expect(problems.some((p) => p.startsWith('runId:'))).toBe(true);
    expect(problems.some((p) => p.includes('colour'))).toBe(true);
  });

  it('reports scenario config problems from overrides with their path', () => {
    const problems = problemsOf(() =>
      seedRunSpec({ overrides: { load: { stages: [] }, data: { type: 'shareGPT' } }, target: { podSelector: 'app in (a,b)' } }),
    );
    expect(problems.some((p) => p.startsWith('overrides.load.stages'))).toBe(true);
    expect(problems.some((p) => p.startsWith('overrides.data.type'))).toBe(true);
    expect(problems.some((p) => p.startsWith('target.podSelector:'))).toBe(true);
  });

  it('rejects an unknown scenario naming the known ones', () => {
    expect(problemsOf(() => seedRunSpec({ scenario: 'nope' }))).toEqual(['scenario: unknown scenario "nope"; known: baseline']);
  });

  it('refuses a load too large to prepare before any Job exists, per runner pod', () => {
    // 2,000 requests/s for an hour of 4,096-token prompts: gigabytes of prompts held in memory per pod.
    const long = { mean: 4096, std_dev: 0, min: 4096, max: 4096 };
    const problems = problemsOf(() => seedRunSpec({ overrides: { load: { stages: [{ rate: 2000, duration: 3600 }] }, data: { input_distribution: long } } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^overrides\.data\.input_distribution: about [\d,]+ prompt tokens per runner pod \([\d,]+ requests × 4096 tokens\), over the limit of 100,000,000/);
  });

  it('refuses the native runner when the stack has neither bundle nor image', () => {
    const problems = problemsOf(() =>
      buildRunSpec({ input: {}, defaults: seedDefaults({ bundle: undefined }), now: NIGHT, suffix: 'ab12cd' }),
    );
    expect(problems[0]).toMatch(/no runner bundle/);
  });
});

describe('small pure helpers', () => {
  it('formats run ids in UTC', () => {
    expect(formatRunId(Date.UTC(2024, 11, 31, 23, 59, 58), 'zz99')).toBe('20241231T235958Z-zz99');
  });
  it('parses equality label selectors and refuses set-based ones', () => {
    expect(parseLabelSelector('app.kubernetes.io/component=qwen3-vllm, tier = gpu')).toEqual({
      labels: { 'app.kubernetes.io/component': 'qwen3-vllm', tier: 'gpu' },
    });
    expect(parseLabelSelector('app!=x')).toHaveProperty('problems');
    expect(parseLabelSelector('')).toHaveProperty('problems');
    expect(parseLabelSelector({ 'bad key!': 'v' })).toHaveProperty('problems');
  });
  it('keeps model names one S3 key segment', () => {
    expect(runPrefix('baseline', 'Qwen/Qwen3-8B', 'r')).toBe('runs/baseline/Qwen-Qwen3-8B/r/');
  });
});
