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
} as const;

export const ValidityRules = z.object({
  maxScheduleDelayP99Ms: z.number(),
  maxRateDeviation: z.number(),
  maxErrorRate: z.number(),
  minSuccesses: z.number().int().positive().default(VALIDITY_DEFAULTS.minSuccesses),
});
export type ValidityRules = z.infer<typeof ValidityRules>;
