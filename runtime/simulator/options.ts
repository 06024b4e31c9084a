import { z } from 'zod';
import { InputError, validate } from '../core/errors.ts';
import { SEED_MODEL } from '../core/scenario/presets.ts';
import { VERSION } from '../core/version.ts';
import { dialectNames } from './dialects/dialect.ts';

/** How an injected failure shows itself to the client. */
export const failureModes = ['status', 'abort', 'stall', 'in-band'] as const;
export const FailureMode = z.enum(failureModes);
export type FailureMode = z.infer<typeof FailureMode>;

const nonNegativeMs = z.number().finite().nonnegative();

/**
 * The simulator's options. Every field is optional; the defaults describe a small, quiet GPU:
 * TTFT = `ttftMs + prefillMsPerToken × uncached prompt tokens`, then one token every `itlMs ± jitterMs`.
 * Prefill cost is opt-in (default 0) so that `--ttft-ms 200` means a TTFT of 200 ms.
 * Strict: an unknown option is an error (a misspelt `itlMS` would otherwise silently do nothing).
 */
export const SimulatorOptionsSchema = z.strictObject({
  /** Interface to listen on. Tests and local mode keep it on loopback. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 = any free port (read it back from `RunningSimulator.port`). */
  port: z.number().int().min(0).max(65535).default(0),
  /** Served model names; the first is the default when a request names none. */
  models: z.array(z.string().min(1)).min(1).default([SEED_MODEL.servedName]),
  maxModelLen: z.number().int().positive().default(32768),
  /** Fixed part of the time to first token. */
  ttftMs: nonNegativeMs.default(40),
  /** Each request's TTFT varies uniformly by ± this much (0: every TTFT is the same). */
  ttftJitterMs: nonNegativeMs.default(0),
  /** Prefill cost per prompt token not served from the prefix cache, added to `ttftMs`. */
  prefillMsPerToken: nonNegativeMs.default(0),
  /**
   * vLLM's automatic prefix caching (prefix-cache.ts): this many 16-token blocks of computed prompts
   * are kept, least recently used evicted first; a prompt's leading cached blocks are not prefilled
   * again (`prefillMsPerToken` is charged only for the uncached tokens). The default, 16384 blocks
   * (262,144 tokens), is about the KV cache of an 8B model on one 80 GB GPU. 0 disables caching
   * (vLLM's `--no-enable-prefix-caching`). Per process: each `--workers` worker has its own.
   */
  prefixCacheBlocks: z.number().int().nonnegative().default(16_384),
  /** Mean gap between consecutive output tokens. */
  itlMs: nonNegativeMs.default(12),
  /** Each gap is uniform in [itlMs − jitterMs, itlMs + jitterMs], clamped at 0. */
  jitterMs: nonNegativeMs.default(1),
  /** Tokens per streamed chunk; > 1 models `--stream-interval` / speculative decoding. */
  tokensPerChunk: z.number().int().positive().default(1),
  /** At most this many requests generate at once; the rest wait FIFO (the wait adds to TTFT). */
  maxConcurrency: z.number().int().positive().nullable().default(null),
  /** Probability that a generation request fails, decided per request with the seeded PRNG. */
  errorRate: z.number().min(0).max(1).default(0),
  /** One of these is picked uniformly at random for each failing request. */
  failureModes: z.array(FailureMode).min(1).default([...failureModes]),
  /** The HTTP status of a `status` failure. */
  errorStatus: z.number().int().min(400).max(599).default(500),
  /** `abort`, `stall` and `in-band` strike after this many tokens (capped at max_tokens). */
  abortAfterTokens: z.number().int().nonnegative().default(8),
  /** How long a `stall` holds the connection silent before ending it without `[DONE]`. */
  stallMs: nonNegativeMs.default(30_000),
  seed: z.number().int().default(1),
  /** When set, `/v1*` requires `Authorization: Bearer <apiKey>` (vLLM's `--api-key`). */
  apiKey: z.string().min(1).optional(),
  /** Also append every ground-truth entry to this NDJSON file. */
  groundTruthFile: z.string().min(1).optional(),
  /**
   * Keep every ground-truth entry in memory for `groundTruth()` (tests, benchmarks). Off for
   * `simulate` and the `run` command's own simulator: memory then holds only requests in flight.
   */
  keepGroundTruth: z.boolean().default(true),
  /** What `GET /version` answers (vLLM answers its own version). */
  version: z.string().min(1).default(`${VERSION}-simulator`),
  /**
   * How prompts are counted (usage.prompt_tokens, `/tokenize`, prefill cost): `words` (one token
   * per word), `qwen3` (Qwen3's real tokenizer) or the path of a `tokenizer.json`. Default: `qwen3`
   * when the first served model is the seed model (`qwen3-8b`), else `words`.
   */
  tokenizer: z.string().min(1).optional(),
  /** Whose wire format to speak (runtime/simulator/dialects/): vLLM's by default. */
  dialect: z.enum(dialectNames).default('vllm'),
});

export type SimulatorOptions = z.input<typeof SimulatorOptionsSchema>;
export type ResolvedSimulatorOptions = Omit<z.output<typeof SimulatorOptionsSchema>, 'tokenizer'> & { tokenizer: string };

/** The tokenizer used when none is named: the seed model's real one for the seed model. */
export function defaultTokenizer(models: readonly string[]): string {
  return models[0] === SEED_MODEL.servedName ? 'qwen3' : 'words';
}

/** Applies defaults; every problem is listed in one `InputError` naming the option's path. */
export function resolveSimulatorOptions(options: SimulatorOptions = {}): ResolvedSimulatorOptions {
  const parsed = validate(SimulatorOptionsSchema, options, { supportedKeys: () => Object.keys(SimulatorOptionsSchema.shape) });
  if (parsed.ok) return { ...parsed.data, tokenizer: parsed.data.tokenizer ?? defaultTokenizer(parsed.data.models) };
  throw new InputError('simulator options', parsed.problems, 'fix or remove the listed options; `inference-baseline simulate --help` lists them with their defaults.');
}
