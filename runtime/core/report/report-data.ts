import type { TrendData } from '../history/trend.ts';
import type { LatencyHistogram } from '../metrics/latency-histogram.ts';
import type { RunResults } from '../summary/finalize.ts';
import type { Summary } from '../summary/schema.ts';
import type { TimelineSeries } from '../summary/timeline.ts';

/** A percentile curve: x = "nines" (−log10(1 − p/100)), so p50 = 0.3, p90 = 1, p99 = 2, p99.9 = 3. */
export interface PercentileCurve {
  percentiles: number[];
  nines: number[];
  valuesMs: number[];
}

/** Everything report.html draws; computed from the merged histograms, never from averaged percentiles. */
export interface ReportData {
  summary: Summary;
  curves: Partial<Record<'ttft' | 'itl' | 'tpot' | 'e2e' | 'schedule_delay', PercentileCurve>>;
  timeline: TimelineSeries;
  /** The key metrics over the comparison's baseline runs and this one; null when the run was not compared. */
  trend: TrendData | null;
}

const curveMetrics = ['ttft', 'itl', 'tpot', 'e2e', 'schedule_delay'] as const;

/** Percentiles from 0 to 99.99 in steps of 0.05 nines, then 100 (the max). */
export function curvePercentiles(): number[] {
  const ps: number[] = [];
  for (let k = 0; k <= 80; k++) ps.push(100 * (1 - 10 ** (-k / 20)));
  ps.push(100);
  return ps;
}

export function percentileCurve(d: LatencyHistogram): PercentileCurve | undefined {
  if (d.count === 0) return undefined;
  const percentiles = curvePercentiles();
  return {
    percentiles: percentiles.map((p) => Math.round(p * 1e4) / 1e4),
    nines: percentiles.map((p) => (p >= 100 ? 4.2 : Math.round(-Math.log10(1 - p / 100) * 1000) / 1000)),
    valuesMs: percentiles.map((p) => (p === 0 ? d.minUs / 1000 : d.percentileMs(p))),
  };
}

export function reportData(summary: Summary, agg: RunResults): ReportData {
  const curves: ReportData['curves'] = {};
  for (const name of curveMetrics) {
    const c = percentileCurve(agg.acc.dists[name]);
    if (c) curves[name] = c;
  }
  return { summary, curves, timeline: agg.timeline.series(), trend: null };
}
