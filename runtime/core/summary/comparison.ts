import { z } from 'zod';
import { KEY_METRICS, type KeyMetric } from '../compare/compare.ts';

/**
 * The comparison a run carries in summary.json (core/history/comparison.ts computes it): its key
 * metrics against the trailing window of earlier valid runs of the same workload and target (or
 * against runs a person named), what changed since the previous run, and one line that says it all.
 */

const keyMetricNames = KEY_METRICS.map((m) => m.name) as [KeyMetric, ...KeyMetric[]];

export const MetricChange = z.object({
  metric: z.enum(keyMetricNames),
  value: z.number().nullable(),
  baseline: z.number().nullable(),
  /** (value − baseline) / baseline: 0.12 is 12 % slower. */
  change: z.number().nullable(),
  /** The change a metric must exceed to be significant, as a fraction of the baseline. */
  uncertainty: z.number().nullable(),
  statistic: z.number().nullable(),
  critical: z.number().nullable(),
  verdict: z.enum(['regressed', 'improved', 'unchanged', 'insufficient-samples', 'insufficient-history']),
  windowSize: z.number().int().nonnegative(),
});

export const comparisonVerdicts = ['regressed', 'improved', 'unchanged', 'insufficient-history', 'not-a-baseline'] as const;
export type ComparisonVerdict = (typeof comparisonVerdicts)[number];

export const Comparison = z.object({
  verdict: z.enum(comparisonVerdicts),
  against: z.enum(['window', 'reference']),
  /** The runs the baseline was drawn from, oldest first. */
  baselineRuns: z.array(z.string()),
  method: z.object({ windowSize: z.number().int(), minWindow: z.number().int(), minEffect: z.number(), falseAlarmRate: z.number() }),
  metrics: z.array(MetricChange),
  /** The series as this run found it: why earlier runs were or were not baselines. */
  series: z.object({
    earlierRuns: z.number().int().nonnegative(),
    usable: z.number().int().nonnegative(),
    otherWorkload: z.number().int().nonnegative(),
    otherTarget: z.number().int().nonnegative(),
    invalid: z.number().int().nonnegative(),
  }),
  previousRunId: z.string().nullable(),
  /** What differs from the previous run ("image a → b", "node type x → y", "server setting k a → b"). */
  changes: z.array(z.string()),
  /** Whose a TTFT p50 change is, the server's or the path's, from the server's own TTFT (history/attribution.ts); null when not said. */
  ttftAttribution: z.string().nullable().default(null),
  headline: z.string(),
});
export type Comparison = z.infer<typeof Comparison>;
