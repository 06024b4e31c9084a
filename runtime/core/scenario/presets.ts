import type { ScenarioConfigInput } from './schema.ts';

/**
 * The seed's model and service (AI on EKS "Scenario 1"): Qwen3-8B served by vLLM as `qwen3-8b`
 * behind the qwen3-vllm Service. The one home of these names: the preset, the stack's defaults, the
 * simulator and the CLI read them from here.
 */
export const SEED_MODEL = { servedName: 'qwen3-8b', tokenizer: 'Qwen/Qwen3-8B', baseUrl: 'http://qwen3-vllm.default:8000' } as const;

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
      model_name: SEED_MODEL.servedName,
      base_url: SEED_MODEL.baseUrl,
      ignore_eos: true,
    },
    tokenizer: { pretrained_model_name_or_path: SEED_MODEL.tokenizer },
    storage: {
      simple_storage_service: { bucket_name: 'inference-perf-results', path: 'baseline-test/results' },
    },
  },
} as const satisfies Record<string, ScenarioConfigInput>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];
