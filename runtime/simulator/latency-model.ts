import type { FailureMode } from './options.ts';

/**
 * The simulator's latency model and failure draw, as pure functions of the parameters and a seeded
 * random source (no clock, no I/O): the server turns the offsets into absolute deadlines.
 */

export { mulberry32, type Rng } from '../core/random.ts';
import { itemRng, type Rng } from '../core/random.ts';

/**
 * The random source of one request: derived from the server seed and the request's arrival number,
 * so request #n behaves the same whatever the other requests drew or when they ran.
 */
export function requestRng(seed: number, sequence: number): Rng {
  return itemRng(seed, sequence);
}

export interface LatencyParams {
  ttftMs: number;
  /** Each request's TTFT is uniform in [ttft − ttftJitterMs, ttft + ttftJitterMs], clamped at 0. */
  ttftJitterMs: number;
  prefillMsPerToken: number;
  itlMs: number;
  jitterMs: number;
  tokensPerChunk: number;
}

/**
 * TTFT from the start of generation (queueing excluded), i.e. the prefill as vLLM times it (first
 * scheduled → first token): base + prefill cost per prompt token computed, ± jitter.
 * `prefillTokens` are the prompt tokens the prefill computes: all of them, less those served from
 * the prefix cache (prefix-cache.ts), so a cache hit shortens only the per-token part.
 */
export function timeToFirstTokenMs(p: LatencyParams, prefillTokens: number, rng?: Rng): number {
  const jitter = p.ttftJitterMs > 0 && rng ? (2 * rng() - 1) * p.ttftJitterMs : 0;
  return Math.max(0, p.ttftMs + p.prefillMsPerToken * prefillTokens + jitter);
}

/** One inter-token gap: uniform in [itl − jitter, itl + jitter], clamped at 0. */
export function interTokenGapMs(p: LatencyParams, rng: Rng): number {
  const gap = p.itlMs + (p.jitterMs > 0 ? (2 * rng() - 1) * p.jitterMs : 0);
  return Math.max(0, gap);
}

/** One streamed chunk: written `offsetMs` after generation starts, carrying `tokens` tokens. */
export interface PlannedChunk {
  offsetMs: number;
  /** Index of the chunk's first token in the output. */
  firstToken: number;
  tokens: number;
}

/**
 * When each output token is generated (offsets from the start of generation) and how tokens group
 * into chunks (`prefillTokens`: as for {@link timeToFirstTokenMs}). Token 0 is at TTFT; token i at
 * TTFT + the first i gaps. A chunk holds up to `tokensPerChunk` consecutive tokens and is written
 * when its last token exists, so with `tokensPerChunk` k the first chunk lands at TTFT + (k − 1) gaps.
 */
export function planGeneration(
  p: LatencyParams,
  prefillTokens: number,
  completionTokens: number,
  rng: Rng,
): { tokenOffsetsMs: number[]; chunks: PlannedChunk[] } {
  const tokenOffsetsMs: number[] = [];
  let t = timeToFirstTokenMs(p, prefillTokens, rng);
  for (let i = 0; i < completionTokens; i++) {
    if (i > 0) t += interTokenGapMs(p, rng);
    tokenOffsetsMs.push(t);
  }
  const chunks: PlannedChunk[] = [];
  for (let first = 0; first < completionTokens; first += p.tokensPerChunk) {
    const tokens = Math.min(p.tokensPerChunk, completionTokens - first);
    chunks.push({ offsetMs: tokenOffsetsMs[first + tokens - 1]!, firstToken: first, tokens });
  }
  return { tokenOffsetsMs, chunks };
}

/** Whether this request fails, and how: one draw against `errorRate`, one to pick the mode. */
export function drawFailure(errorRate: number, modes: readonly FailureMode[], rng: Rng): FailureMode | null {
  const fails = rng() < errorRate;
  const pick = rng();
  if (!fails || modes.length === 0) return null;
  return modes[Math.min(modes.length - 1, Math.floor(pick * modes.length))]!;
}

/**
 * After how many output tokens an `abort` / `stall` / `in-band` failure strikes: `abortAfterTokens`,
 * capped at the request's max_tokens, and rounded up to a whole chunk (a chunk is never split).
 */
export function failurePointTokens(abortAfterTokens: number, completionTokens: number, tokensPerChunk: number): number {
  const k = Math.min(abortAfterTokens, completionTokens);
  return Math.min(completionTokens, Math.ceil(k / tokensPerChunk) * tokensPerChunk);
}
