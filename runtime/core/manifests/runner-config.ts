import { stringify } from 'yaml';
import type { RunSpec } from '../run-spec/index.ts';
import type { ScenarioConfig } from '../scenario/index.ts';

/**
 * The `config.yml` the runner reads. The native runner gets the project's config unchanged.
 * inference-perf gets the keys it knows: `validity` and `load.arrival` are this project's own and
 * are dropped (inference-perf after v0.6.1 rejects unknown keys; v0.6.1 ignores them silently).
 */
export function runnerConfigYaml(spec: RunSpec): string {
  if (spec.runner.kind === 'native') {
    return `# inference-baseline run ${spec.runId} (${spec.scenario}, native runner)\n${stringify(spec.config)}`;
  }
  return [
    `# inference-baseline run ${spec.runId} (${spec.scenario}) for inference-perf.`,
    `# Raw results go to s3://${spec.s3.bucket}/${spec.s3.rawPrefix}; per_request is forced so every request is kept.`,
    "# Note: inference-perf's load.type constant draws exponential gaps rescaled to the stage.",
    stringify(inferencePerfConfig(spec.config)),
  ].join('\n');
}

/** The `server.type` values inference-perf v0.6.1 knows; its `vllm` client is its generic OpenAI one. */
const INFERENCE_PERF_SERVER_TYPES = ['vllm', 'sglang', 'tgi'];

export function inferencePerfConfig(config: ScenarioConfig): Record<string, unknown> {
  const { validity: _validity, ...rest } = structuredClone(config);
  const { arrival: _arrival, ...load } = rest.load;
  // Our other dialects (trtllm, llamacpp, ollama, openai) are OpenAI-compatible servers to
  // inference-perf, which would refuse their names: it talks to them as `vllm`.
  const type = rest.server.type;
  const server = type !== undefined && !INFERENCE_PERF_SERVER_TYPES.includes(type) ? { ...rest.server, type: 'vllm' } : rest.server;
  return { ...rest, load, server };
}
