import { arrivals, type Distribution, type ScenarioConfig } from './schema.ts';
import { validityRules, type ValidityRules } from './validity-rules.ts';
import type { ServerType } from './servers.ts';

/** A token-count distribution with its shape decided (inference-perf leaves it implicit). */
export type TokenDistribution =
  | { kind: 'fixed'; value: number }
  | { kind: 'normal'; mean: number; stdDev: number; min: number; max: number }
  | { kind: 'uniform'; min: number; max: number };

export type Arrival = (typeof arrivals)[number];

/** The scenario in the form the runner and the metrics use: defaults applied, shapes decided. */
export interface ResolvedScenario {
  api: { type: 'completion' | 'chat'; streaming: boolean; headers: Record<string, string> };
  input: TokenDistribution;
  output: TokenDistribution;
  load: {
    arrival: Arrival;
    stages: Array<{ rate: number; duration: number }>;
    /** Seconds of idle between stages (inference-perf's `load.interval`). */
    intervalS: number;
    /** `load.base_seed`: reproduces a run's prompts and schedule; null = derived from the run id (schedule.ts runSeed). */
    seed: number | null;
    /** In-flight cap; requests it delays show up in schedule delay. null = pure open loop. */
    maxInFlight: number | null;
    /** Connections per worker (inference-perf's `worker_max_tcp_connections`). */
    maxConnections: number;
    /**
     * `load.num_workers`: event loops (worker threads) in one runner, each sending its own slice of
     * the pod's schedule. Default 1, not inference-perf's "CPU count of the node": a baseline's load
     * generator uses the cores it was given, and the Job's CPU request follows this number.
     */
    numWorkers: number;
    /** Longest silence allowed on a response before it is failed as `timeout`. */
    requestTimeoutMs: number;
  };
  server: {
    baseUrl: string;
    model: string | undefined;
    /** `server.type`; null = detect from the server's answers. */
    type: ServerType | null;
    ignoreEos: boolean;
    apiKey: string | undefined;
  };
  /** `tokenizer.pretrained_model_name_or_path`: counts prompt tokens client-side when the server cannot. */
  tokenizer: { source: string; token: string | undefined } | null;
  validity: ValidityRules;
}

/** inference-perf's defaults where the config is silent (mock data is 10..1024, mean 512). */
const defaultInput: Distribution = { min: 10, max: 1024, mean: 512, std_dev: 200 };
const defaultOutput: Distribution = { min: 10, max: 1024, mean: 512, std_dev: 200 };

export function resolveDistribution(d: Distribution): TokenDistribution {
  const min = d.min ?? 1;
  const max = d.max ?? Number.MAX_SAFE_INTEGER;
  const stdDev = d.std_dev ?? (d.variance !== undefined ? Math.sqrt(d.variance) : 0);
  if (d.type === 'fixed' || (d.type === undefined && (stdDev === 0 || min === max))) {
    return { kind: 'fixed', value: d.type === 'fixed' ? d.mean : min === max ? min : d.mean };
  }
  if (d.type === 'uniform') return { kind: 'uniform', min, max };
  return { kind: 'normal', mean: d.mean, stdDev, min, max };
}

export function resolveScenario(config: ScenarioConfig): ResolvedScenario {
  const load = config.load;
  const arrival: Arrival = load.arrival ?? (load.type === 'poisson' ? 'poisson' : 'even');
  const maxInFlight =
    load.worker_max_concurrency !== undefined ? load.worker_max_concurrency * (load.num_workers ?? 1) : null;
  const v = config.validity;
  return {
    api: { type: config.api.type, streaming: config.api.streaming, headers: config.api.headers ?? {} },
    input: resolveDistribution(config.data.input_distribution ?? defaultInput),
    output: resolveDistribution(config.data.output_distribution ?? defaultOutput),
    load: {
      arrival,
      stages: load.stages.map((s) => ({ rate: s.rate, duration: s.duration })),
      intervalS: load.interval,
      seed: load.base_seed ?? null,
      maxInFlight,
      maxConnections: load.worker_max_tcp_connections ?? 2500,
      numWorkers: load.num_workers ?? 1,
      requestTimeoutMs: (load.request_timeout ?? 300) * 1000,
    },
    server: {
      baseUrl: config.server.base_url.replace(/\/+$/, ''),
      model: config.server.model_name,
      type: config.server.type ?? null,
      ignoreEos: config.server.ignore_eos,
      apiKey: config.server.api_key,
    },
    tokenizer: config.tokenizer ? { source: config.tokenizer.pretrained_model_name_or_path, token: config.tokenizer.token } : null,
    validity: validityRules(v),
  };
}
