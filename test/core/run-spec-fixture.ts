import { buildRunSpec, RunDefaults, type RunDefaultsInput, type RunSpec } from '../../runtime/core/run-spec/index.ts';

/** Stack defaults as the seed describes them (qwen3-8b in `default`, runner in `benchmarking`). */
export function seedDefaults(over: Partial<RunDefaultsInput> = {}): RunDefaults {
  return RunDefaults.parse({
    clusterName: 'demo',
    region: 'us-west-2',
    bucket: 'results-bucket',
    scenario: 'baseline',
    runner: 'native',
    runnerDelivery: 'bundle',
    target: {
      baseUrl: 'http://qwen3-vllm.default:8000',
      modelName: 'qwen3-8b',
      tokenizer: 'Qwen/Qwen3-8B',
      namespace: 'default',
      podSelector: { 'app.kubernetes.io/component': 'qwen3-vllm' },
    },
    benchmarkNamespace: 'benchmarking',
    serviceAccountName: 'inference-baseline-runner',
    images: {
      node: 'public.ecr.aws/docker/library/node:22-slim',
      inferencePerf: 'quay.io/inference-perf/inference-perf:v0.6.1',
    },
    bundle: { bucket: 'cdk-assets', key: 'abc.mjs', sha256: 'a'.repeat(64) },
    ...over,
  });
}

/** 2025-01-01T02:00:00Z, the nightly run. */
export const NIGHT = Date.UTC(2025, 0, 1, 2, 0, 0);

export function seedRunSpec(input: unknown = {}, over: Partial<RunDefaultsInput> = {}): RunSpec {
  return buildRunSpec({ input, defaults: seedDefaults(over), now: NIGHT, suffix: 'ab12cd', executionId: 'arn:aws:states:us-west-2:111111111111:execution:sm:exec-1' });
}
