import type { ScenarioConfigInput } from './schema.ts';

/**
 * Presets are inference-perf configs. `baseline` is the seed's ConfigMap (AI on EKS "Scenario 1:
 * Baseline performance") exactly: 512 input / 128 output tokens, streaming completions, a constant
 * 1 request/s for 300 s against the docs' qwen3-8b service.
 */
export const presets = {
  baseline: {
    api: { type: 'completion', streaming: true },
    data: {
      type: 'synthetic',
      input_distribution: { mean: 512, std_dev: 0, min: 512, max: 512 },
      output_distribution: { mean: 128, std_dev: 0, min: 128, max: 128 },
    },
    load: { type: 'constant', stages: [{ rate: 1, duration: 300 }], num_workers: 4 },
    server: {
      type: 'vllm',
      model_name: 'qwen3-8b',
      base_url: 'http://qwen3-vllm.default:8000',
      ignore_eos: true,
    },
    tokenizer: { pretrained_model_name_or_path: 'Qwen/Qwen3-8B' },
    storage: {
      simple_storage_service: { bucket_name: 'inference-perf-results', path: 'baseline-test/results' },
    },
  },
} as const satisfies Record<string, ScenarioConfigInput>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];
