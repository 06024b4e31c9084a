import { z } from 'zod';

/**
 * The rules that make a run a valid baseline, with their defaults: the one home of
 * these numbers. The scenario config spells them `validity.max_schedule_delay_p99_ms` etc.
 */
export const VALIDITY_DEFAULTS = {
  /** Schedule delay p99 must stay below this, else the load generator measured itself. */
  maxScheduleDelayP99Ms: 10,
  /** The achieved send rate may differ from the requested one by at most this fraction. */
  maxRateDeviation: 0.05,
  /** Fraction of sent requests allowed to fail. */
  maxErrorRate: 0,
  /** Successful requests a baseline needs at least: enough for p90 (p99 needs 100; core/metrics minSamples). */
  minSuccesses: 10,
  /** Requests the server finished during the run that were not the run's (from its metrics): any is other load on the baseline. */
  maxForeignRequests: 0,
  /**
   * The share of the run's prompt tokens the server's prefix cache served: fresh prompts share at
   * most a chat template's first tokens, under one 16-token block, so a baseline sees ~0; a rate above
   * this means prompts were cached (a repeated seed, a shared prefix) and TTFT measured the cache.
   */
  maxPrefixCacheHitRate: 0.05,
  /** Whether a run whose server metrics could not be scraped is invalid (default: a note, the checks not made). */
  requireServerMetrics: false,
} as const;

export const ValidityRules = z.object({
  maxScheduleDelayP99Ms: z.number(),
  maxRateDeviation: z.number(),
  maxErrorRate: z.number(),
  minSuccesses: z.number().int().positive().default(VALIDITY_DEFAULTS.minSuccesses),
  maxForeignRequests: z.number().int().nonnegative().default(VALIDITY_DEFAULTS.maxForeignRequests),
  maxPrefixCacheHitRate: z.number().min(0).max(1).default(VALIDITY_DEFAULTS.maxPrefixCacheHitRate),
  requireServerMetrics: z.boolean().default(VALIDITY_DEFAULTS.requireServerMetrics),
});
export type ValidityRules = z.infer<typeof ValidityRules>;

/** The scenario config's `validity` section (snake case, any key may be absent) as the rules, defaults filled in. */
export function validityRules(v: Partial<Record<'max_schedule_delay_p99_ms' | 'max_rate_deviation' | 'max_error_rate' | 'min_successes' | 'max_foreign_requests' | 'max_prefix_cache_hit_rate', number> & { require_server_metrics: boolean }> | undefined): ValidityRules {
  const d = VALIDITY_DEFAULTS;
  return {
    maxScheduleDelayP99Ms: v?.max_schedule_delay_p99_ms ?? d.maxScheduleDelayP99Ms,
    maxRateDeviation: v?.max_rate_deviation ?? d.maxRateDeviation,
    maxErrorRate: v?.max_error_rate ?? d.maxErrorRate,
    minSuccesses: v?.min_successes ?? d.minSuccesses,
    maxForeignRequests: v?.max_foreign_requests ?? d.maxForeignRequests,
    maxPrefixCacheHitRate: v?.max_prefix_cache_hit_rate ?? d.maxPrefixCacheHitRate,
    requireServerMetrics: v?.require_server_metrics ?? d.requireServerMetrics,
  };
}
