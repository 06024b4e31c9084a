/**
 * Config layering — the one way configs are combined: the preset or file, then the stack's
 * defaults, the execution input's overrides, the target, the command-line flags, each a partial
 * inference-perf config deep-merged onto the last.
 */

/**
 * Deep-merges `overrides` (a partial inference-perf config) onto `base`. Arrays are replaced, not
 * merged: `load.stages` given in an override is the whole stage list (Helm's list-override trap,
 * where `stages[0].duration` silently dropped `rate`, is exactly what this avoids).
 */
export function layerConfig(base: unknown, ...layers: unknown[]): unknown {
  return layers.reduce(mergeTwo, base);
}

function mergeTwo(base: unknown, overrides: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(overrides)) return overrides === undefined ? base : overrides;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) out[key] = mergeTwo(base[key], value);
  return out;
}

/** Command-line flags that override a config: rate and duration apply to every load stage. */
export interface ConfigFlags {
  rate?: number;
  duration?: number;
  model?: string;
  baseUrl?: string;
  /** `load.base_seed`. */
  seed?: number;
  /** `load.num_workers`. */
  workers?: number;
}

/** The layer the flags make over `raw` (rate and duration apply to each of its stages). */
export function flagLayer(raw: unknown, flags: ConfigFlags): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  const stages = isPlainObject(raw) && isPlainObject(raw.load) ? raw.load.stages : undefined;
  if ((flags.rate !== undefined || flags.duration !== undefined) && Array.isArray(stages)) {
    overrides.load = {
      stages: stages.map((st: unknown) => ({
        ...(isPlainObject(st) ? st : {}),
        ...(flags.rate !== undefined ? { rate: flags.rate } : {}),
        ...(flags.duration !== undefined ? { duration: flags.duration } : {}),
      })),
    };
  }
  if (flags.seed !== undefined) overrides.load = { ...((overrides.load as Record<string, unknown> | undefined) ?? {}), base_seed: flags.seed };
  if (flags.workers !== undefined) overrides.load = { ...((overrides.load as Record<string, unknown> | undefined) ?? {}), num_workers: flags.workers };
  const server: Record<string, unknown> = {};
  if (flags.model !== undefined) server.model_name = flags.model;
  if (flags.baseUrl !== undefined) server.base_url = flags.baseUrl;
  if (Object.keys(server).length > 0) overrides.server = server;
  return overrides;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The config as stored beside the results (config.yml, uploaded with --out s3://): the same, but
 * server.api_key and tokenizer.token replaced, since results are shared more widely than keys.
 */
export function withoutSecrets(config: unknown): unknown {
  const c = structuredClone(config) as { server?: Record<string, unknown>; tokenizer?: Record<string, unknown> };
  if (c?.server && typeof c.server.api_key === 'string') c.server.api_key = '<redacted>';
  if (c?.tokenizer && typeof c.tokenizer.token === 'string') c.tokenizer.token = '<redacted>';
  return c;
}
