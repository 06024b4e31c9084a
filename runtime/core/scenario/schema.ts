import { z } from 'zod';
import { VALIDITY_DEFAULTS } from './validity-rules.ts';
import { serverTypes } from './servers.ts';

/**
 * The scenario config: the inference-perf YAML keys this project supports, so an existing
 * inference-perf `config.yml` (the seed's ConfigMap) parses unchanged. Objects are strict: an
 * unknown or unsupported key is an error naming its path and the supported keys (silently ignored
 * keys are how benchmark configs go wrong). `validity` is this project's own addition.
 */

const positiveInt = z.number().int().positive();

/**
 * Why `value` is not a server's base URL, or null when it is one. The one rule for every input that
 * names a server (config `server.base_url`, `--target`, the execution input's `target.baseUrl`, the
 * stack's default): http(s); a path only as a prefix the server is mounted under (an ingress's
 * `http://gateway/qwen`), never ending in the `/v1` the runner adds itself; no query or fragment
 * (nothing would send them); no user:password (it would be printed and stored with the results —
 * the key goes in server.api_key).
 */
export function baseUrlProblem(value: string): string | null {
  const url = URL.parse(value);
  const port = /^https?:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/.exec(value)?.[1];
  if (!url && port !== undefined && Number(port) > 65535) return `port ${port} is out of range: a TCP port is 1 to 65535`;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return 'must be an http(s) URL such as http://qwen3-vllm.default:8000';
  if (url.pathname.replace(/\/+$/, '').endsWith('/v1')) return `give the server's base URL without /v1 (e.g. ${url.origin}${url.pathname.replace(/\/+$/, '').slice(0, -3)})`;
  if (url.search || url.hash || value.includes('#') || /\?/.test(value)) return `must not carry a query or fragment (${url.search}${url.hash}): give the server's base URL, e.g. ${url.origin}`;
  if (url.username || url.password) return `must not carry a user or password (they would be printed and stored with the results): put the API key in server.api_key, e.g. ${url.protocol}//${url.host}`;
  return null;
}

export const ServerBaseUrl = z.string().superRefine((v, ctx) => {
  const problem = baseUrlProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Worker threads one runner may start (`load.num_workers`, `--workers`): the same bound for the
 * flag and the config, since a config is as easy to mistype as a flag (99 workers on a 2-CPU
 * machine hung a 3 s run for minutes). More than a machine's cores only adds switching.
 */
export const MAX_WORKERS = 64;

/** How requests are spaced in time (`load.arrival`, this project's addition). */
export const arrivals = ['even', 'normalized-exponential', 'poisson'] as const;

export const Distribution = z.strictObject({
  /** inference-perf ≥ 0.5 names the shape; older configs imply it from std_dev. */
  type: z.enum(['fixed', 'normal', 'uniform']).optional(),
  min: positiveInt.optional(),
  max: positiveInt.optional(),
  mean: positiveInt,
  std_dev: z.number().nonnegative().optional(),
  variance: z.number().nonnegative().optional(),
  total_count: positiveInt.optional(),
});
export type Distribution = z.infer<typeof Distribution>;

export const Stage = z.strictObject({
  rate: z.number().positive(),
  duration: z.number().positive(),
});

export const ScenarioConfig = z.strictObject({
  api: z
    .strictObject({
      type: z.enum(['completion', 'chat']).default('completion'),
      streaming: z.boolean().default(false),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .default({ type: 'completion', streaming: false }),
  data: z
    .strictObject({
      type: z.enum(['synthetic', 'random', 'mock']).default('synthetic'),
      input_distribution: Distribution.optional(),
      output_distribution: Distribution.optional(),
    })
    .default({ type: 'synthetic' }),
  load: z.strictObject({
    type: z.enum(['constant', 'poisson']).default('constant'),
    /**
     * This project's addition. `even` = evenly spaced (what "constant" means to a reader, and the
     * default for constant); `normalized-exponential` = inference-perf's "constant" (exponential gaps
     * rescaled to the stage duration); `poisson` = exponential gaps at the rate (default for poisson).
     */
    arrival: z.enum(arrivals).optional(),
    stages: z.array(Stage).min(1),
    interval: z.number().nonnegative().default(1),
    num_workers: positiveInt.max(MAX_WORKERS, `at most ${MAX_WORKERS} worker threads per runner (more than a machine's cores only adds switching); use --shard over several runners for more`).optional(),
    worker_max_concurrency: positiveInt.optional(),
    worker_max_tcp_connections: positiveInt.optional(),
    request_timeout: z.number().positive().optional(),
    base_seed: z.number().int().nonnegative().optional(),
  }),
  server: z.strictObject({
    /**
     * The server's dialect (runtime/core/scenario/servers.ts). Unlike inference-perf (default vllm),
     * absent means "detect it": the runner asks the server and records what it found.
     */
    type: z.enum(serverTypes).optional(),
    base_url: ServerBaseUrl,
    model_name: z.string().min(1).optional(),
    ignore_eos: z.boolean().default(true),
    api_key: z.string().optional(),
  }),
  tokenizer: z
    .strictObject({
      pretrained_model_name_or_path: z.string().min(1),
      trust_remote_code: z.boolean().optional(),
      token: z.string().optional(),
    })
    .optional(),
  storage: z
    .strictObject({
      local_storage: z
        .strictObject({ path: z.string().optional(), report_file_prefix: z.string().optional() })
        .optional(),
      simple_storage_service: z
        .strictObject({
          bucket_name: z.string().min(1),
          path: z.string().optional(),
          report_file_prefix: z.string().optional(),
          endpoint_url: z.string().optional(),
          region_name: z.string().optional(),
          addressing_style: z.enum(['auto', 'virtual', 'path']).optional(),
        })
        .optional(),
    })
    .optional(),
  report: z
    .strictObject({
      request_lifecycle: z
        .strictObject({
          summary: z.boolean().optional(),
          per_stage: z.boolean().optional(),
          per_request: z.boolean().optional(),
          percentiles: z.array(z.number().min(0).max(100)).optional(),
          use_server_output_tokens: z.boolean().optional(),
        })
        .optional(),
    })
    .optional(),
  /** This project's addition: the rules that make a run a valid baseline. */
  validity: z
    .strictObject({
      max_schedule_delay_p99_ms: z.number().positive().default(VALIDITY_DEFAULTS.maxScheduleDelayP99Ms),
      max_rate_deviation: z.number().positive().max(1).default(VALIDITY_DEFAULTS.maxRateDeviation),
      max_error_rate: z.number().min(0).max(1).default(VALIDITY_DEFAULTS.maxErrorRate),
      min_successes: z.number().int().positive().default(VALIDITY_DEFAULTS.minSuccesses),
      max_foreign_requests: z.number().int().nonnegative().default(VALIDITY_DEFAULTS.maxForeignRequests),
      max_prefix_cache_hit_rate: z.number().min(0).max(1).default(VALIDITY_DEFAULTS.maxPrefixCacheHitRate),
      require_server_metrics: z.boolean().default(VALIDITY_DEFAULTS.requireServerMetrics),
    })
    .optional(),
});
export type ScenarioConfig = z.infer<typeof ScenarioConfig>;
export type ScenarioConfigInput = z.input<typeof ScenarioConfig>;
