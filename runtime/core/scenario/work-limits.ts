import type { ResolvedScenario, TokenDistribution } from './resolve.ts';
import { scheduleSize } from './schedule.ts';

/**
 * How much one runner pod (shard) is allowed to prepare. Every prompt is built and calibrated
 * before the first request (so no tokenizer call lands inside the load loop) and held in memory for
 * the run: a typo like `rate: 100000` must be refused in a second, not discovered as an
 * out-of-memory kill an hour into calibration. The runner pod has 4 GiB; a prompt costs about six
 * bytes per token as a string.
 */
export const WORK_LIMITS = {
  requestsPerShard: 1_000_000,
  promptTokensPerShard: 100_000_000,
  /** Longer than any served context today (1M-token models are the longest in use). */
  promptTokens: 1_000_000,
} as const;

/** The expected tokens of one draw (the mean, clamped as sampleLength clamps). */
export function meanTokens(d: TokenDistribution): number {
  if (d.kind === 'fixed') return d.value;
  if (d.kind === 'uniform') return (d.min + d.max) / 2;
  return Math.min(d.max, Math.max(d.min, d.mean));
}

/** The longest draw possible (a normal without max: mean + 6σ, which no realistic seed exceeds). */
export function maxDrawTokens(d: TokenDistribution): number {
  if (d.kind === 'fixed') return d.value;
  if (d.kind === 'uniform') return d.max;
  return Math.min(d.max, Math.ceil(d.mean + 6 * d.stdDev));
}

/**
 * A run that cannot be a valid baseline whatever happens: fewer planned requests than the successes
 * validity needs (`--rate 0.0001`, `--duration 0.1` make a one-request run). Refused before
 * anything is measured, naming the minimum and how to reach it.
 */
export function tooFewRequestsProblems(sc: Pick<ResolvedScenario, 'load' | 'validity'>): string[] {
  const planned = scheduleSize(sc.load.stages);
  const needed = sc.validity.minSuccesses;
  if (planned >= needed) return [];
  // Keep the rate and lengthen the run: the rate is the workload asked for, the duration is how long it is watched.
  const only = sc.load.stages.length === 1 ? sc.load.stages[0]! : null;
  const how = !only
    ? "raise the stages' duration (or rate)"
    : only.rate >= 0.1
      ? `e.g. ${only.rate}/s for ${Math.ceil(needed / only.rate)} s`
      : `e.g. ${Math.ceil((needed / only.duration) * 1000) / 1000}/s over ${only.duration} s`;
  return [
    `load: rate × duration plans ${planned} request${planned === 1 ? '' : 's'} (${sc.load.stages.map((st) => `${st.rate}/s × ${st.duration} s`).join(' + ')}; a stage sends at least one), fewer than the ${needed} successful requests a valid baseline needs (validity.min_successes); plan at least ${needed}: ${how}, or lower validity.min_successes if you mean a smoke test`,
  ];
}

/** What makes a scenario too large to prepare in `shards` pods, naming the numbers and the fix. */
export function workLimitProblems(sc: Pick<ResolvedScenario, 'load' | 'input'>, shards: number): string[] {
  const requests = scheduleSize(sc.load.stages);
  const perShard = Math.ceil(requests / shards);
  const problems: string[] = [];
  if (perShard > WORK_LIMITS.requestsPerShard) {
    problems.push(
      `load: ${requests.toLocaleString('en-US')} requests (rate × duration over all stages) is ${perShard.toLocaleString('en-US')} per runner pod, over the limit of ${WORK_LIMITS.requestsPerShard.toLocaleString('en-US')}; lower load.stages[].rate or duration, or split the run over more pods (--shard, or the stack's maxRatePerPod)`,
    );
  }
  const tokens = perShard * meanTokens(sc.input);
  if (tokens > WORK_LIMITS.promptTokensPerShard) {
    problems.push(
      `data.input_distribution: about ${Math.round(tokens).toLocaleString('en-US')} prompt tokens per runner pod (${perShard.toLocaleString('en-US')} requests × ${Math.round(meanTokens(sc.input))} tokens), over the limit of ${WORK_LIMITS.promptTokensPerShard.toLocaleString('en-US')} that are prepared in memory before the run; shorten the prompts or the load, or split the run over more pods`,
    );
  }
  const longest = maxDrawTokens(sc.input);
  if (longest > WORK_LIMITS.promptTokens) {
    problems.push(
      `data.input_distribution: prompts of up to ${longest.toLocaleString('en-US')} tokens, over the limit of ${WORK_LIMITS.promptTokens.toLocaleString('en-US')} tokens per prompt; lower its max (or mean)`,
    );
  }
  return problems;
}
