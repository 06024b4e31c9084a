import { InputError } from '../errors.ts';
import { DEFAULT_Z, estimatePercentile, normalQuantile, studentTQuantile } from './quantile.ts';

/**
 * Is tonight's run different from the nights before it? Each key metric of a run is compared with
 * the same metric over its trailing window of earlier valid runs. The uncertainty of the difference
 * has two parts: how much the metric moves from night to night (read from the window's spread) and
 * how precisely each run measured it (its order-statistic standard error: a p99 over 300 requests
 * is loose, a p50 over 38,100 ITL gaps is tight). Pure: estimates in, verdicts out.
 */

/** The distributions a key metric is read from (the run's histograms of the same names). */
export type MetricSource = 'ttft' | 'itl' | 'tpot' | 'e2e';

export interface KeyMetricSpec {
  name: string;
  source: MetricSource;
  percentile: number;
}

/**
 * The metrics a run is judged on. Tails only where a night has the samples for them: TTFT and e2e
 * have one sample per request (300), so p99 is their furthest trustworthy tail; ITL pools every gap.
 */
export const KEY_METRICS = [
  { name: 'ttft_p50', source: 'ttft', percentile: 50 },
  { name: 'ttft_p90', source: 'ttft', percentile: 90 },
  { name: 'ttft_p99', source: 'ttft', percentile: 99 },
  { name: 'itl_p50', source: 'itl', percentile: 50 },
  { name: 'itl_p99', source: 'itl', percentile: 99 },
  { name: 'tpot_p50', source: 'tpot', percentile: 50 },
  { name: 'e2e_p50', source: 'e2e', percentile: 50 },
  { name: 'e2e_p99', source: 'e2e', percentile: 99 },
] as const satisfies readonly KeyMetricSpec[];
export type KeyMetric = (typeof KEY_METRICS)[number]['name'];

/** One run's value of one key metric (ms) with its standard error; see `estimatePercentile`. */
export interface MetricEstimate {
  /** null when the run had no sample of the metric. */
  value: number | null;
  /** null when unsupported. */
  se: number | null;
  n: number;
  /** False when the run had too few samples for this percentile (`minSamplesForPercentile`). */
  supported: boolean;
}

export type RunEstimates = Record<KeyMetric, MetricEstimate>;

/** Anything that reads percentiles of recorded samples; a LatencyHistogram is one. */
export interface PercentileSource {
  readonly count: number;
  percentileMs(percentile: number): number;
}

export interface CompareOptions {
  /** The baseline is drawn from at most this many most recent valid runs. Default 7 (one week of nights). */
  windowSize: number;
  /** Fewer usable earlier runs than this: no verdict ("insufficient-history"). Default 3. */
  minWindow: number;
  /**
   * Smallest relative change ever flagged, whatever the statistics say. Default 0.05 (5 %): with a
   * quiet window even a 1 % move is "significant", and nobody acts on a 1 % move.
   */
  minEffect: number;
  /**
   * Chance that a run with no real change is called regressed on at least one key metric. Split
   * evenly over the key metrics (Bonferroni), each tested one-sided. Default 0.01 (1 % of nights).
   */
  falseAlarmRate: number;
  /**
   * Relative resolution of the measurement: HDR histograms with 3 significant digits cannot tell
   * values within ~0.1 % apart, so no difference is claimed more precise than that. Default 0.001.
   */
  resolution: number;
}

export const DEFAULT_COMPARE_OPTIONS: Readonly<CompareOptions> = Object.freeze({
  windowSize: 7,
  minWindow: 3,
  minEffect: 0.05,
  falseAlarmRate: 0.01,
  resolution: 0.001,
});

export type MetricVerdict = 'regressed' | 'improved' | 'unchanged' | 'insufficient-samples' | 'insufficient-history';
export type RunVerdict = 'regressed' | 'improved' | 'unchanged' | 'insufficient-history';

export interface MetricComparison {
  metric: KeyMetric;
  /** The run's value (ms). */
  value: number | null;
  /** Mean of the window's values (ms). */
  baseline: number | null;
  /** (value − baseline) / baseline: 0.12 is 12 % slower. */
  change: number | null;
  /**
   * Half-width of the interval a change must leave to be significant, as a fraction of the
   * baseline (critical t × standard deviation of the difference / baseline). A change is flagged
   * when it exceeds both this and `minEffect`.
   */
  uncertainty: number | null;
  /** (value − baseline) / standard deviation of the difference. */
  statistic: number | null;
  /** The Student t the statistic is held against. */
  critical: number | null;
  verdict: MetricVerdict;
  /** Earlier runs the baseline of this metric was drawn from (those with enough samples). */
  windowSize: number;
}

export interface RunComparison {
  /** Regressed if any key metric regressed; improved if none regressed and one improved. */
  verdict: RunVerdict;
  metrics: MetricComparison[];
  /** Earlier runs compared against (the trailing window). */
  windowSize: number;
  /**
   * `window`: the trailing window, night-to-night spread estimated from it. `reference`: fewer
   * named runs than a window needs, so only sampling error is known (see compareToReference).
   */
  against: 'window' | 'reference';
}

/** Defaults under the given options, checked together: every problem is reported at once. */
export function resolveCompareOptions(options: Partial<CompareOptions> = {}): CompareOptions {
  const o = { ...DEFAULT_COMPARE_OPTIONS, ...options };
  const problems: string[] = [];
  if (!Number.isInteger(o.minWindow) || o.minWindow < 2) problems.push(`minWindow: must be an integer ≥ 2 (a spread needs two runs), got ${o.minWindow}`);
  if (!Number.isInteger(o.windowSize) || o.windowSize < o.minWindow) problems.push(`windowSize: must be an integer ≥ minWindow (${o.minWindow}), got ${o.windowSize}`);
  if (!(o.minEffect >= 0)) problems.push(`minEffect: must be ≥ 0, got ${o.minEffect}`);
  if (!(o.falseAlarmRate > 0 && o.falseAlarmRate < 1)) problems.push(`falseAlarmRate: must be in (0, 1), got ${o.falseAlarmRate}`);
  if (!(o.resolution >= 0)) problems.push(`resolution: must be ≥ 0, got ${o.resolution}`);
  if (problems.length > 0) throw new InputError('compare options', problems);
  return o;
}

/** One-sided significance level of one key metric: the run-level rate shared by all of them. */
export function perMetricAlpha(options: Pick<CompareOptions, 'falseAlarmRate'>): number {
  return options.falseAlarmRate / KEY_METRICS.length;
}

/** A key metric's estimate from one run's distribution. */
export function estimateMetric(source: PercentileSource, percentile: number, z = DEFAULT_Z): MetricEstimate {
  const e = estimatePercentile((p) => source.percentileMs(p), source.count, percentile, z);
  return { value: e.value, se: e.se, n: e.n, supported: e.supported };
}

/** Every key metric's estimate from a run's histograms. */
export function estimateKeyMetrics(dists: Record<MetricSource, PercentileSource>, z = DEFAULT_Z): RunEstimates {
  return Object.fromEntries(KEY_METRICS.map((m) => [m.name, estimateMetric(dists[m.source], m.percentile, z)])) as RunEstimates;
}

/** Below a microsecond nothing is measured (the histograms' unit), so no baseline is taken as smaller. */
const MIN_MS = 0.001;

/**
 * One key metric of a run against its trailing window (oldest first; the last `windowSize` are
 * used, skipping runs that had too few samples for this percentile).
 *
 * Baseline b = mean of the k window values. Night-to-night variance σ²_b = max(0, s² − mean(se²)):
 * the window's spread beyond what its runs' own sampling explains. Var(run − b) = σ²_b·(1 + 1/k)
 * + se_run² + mean(se²)/k, floored at the measurement's resolution. The statistic
 * (run − b)/√Var is held against Student's t with k − 1 degrees of freedom at the per-metric α:
 * exact when the night-to-night spread dominates (the classic prediction interval for one new
 * night), conservative when sampling error dominates. Welch–Satterthwaite degrees of freedom were
 * tried for more power: with a night-to-night wobble of a few per cent they called more unchanged
 * runs regressed than the 1 % promised (BENCHMARKS.md has the figures), so k − 1 stays.
 */
export function compareMetric(metric: KeyMetric, run: MetricEstimate, window: readonly MetricEstimate[], options: Partial<CompareOptions> = {}): MetricComparison {
  const o = resolveCompareOptions(options);
  const usable = window.slice(-o.windowSize).filter(isUsable);
  const k = usable.length;
  const baseline = k > 0 ? mean(usable.map((e) => e.value)) : null;
  const none = { metric, value: run.value, baseline, change: null, uncertainty: null, statistic: null, critical: null, windowSize: k };
  if (!isUsable(run)) return { ...none, verdict: 'insufficient-samples' };
  if (k < o.minWindow || baseline === null) return { ...none, verdict: 'insufficient-history' };

  const values = usable.map((e) => e.value);
  const meanSe2 = mean(usable.map((e) => e.se * e.se));
  const betweenNights = Math.max(0, sampleVariance(values) - meanSe2);
  const scale = Math.max(baseline, MIN_MS);
  const floor = Math.max(o.resolution * scale, MIN_MS) ** 2;
  const sd = Math.sqrt(Math.max(floor, betweenNights * (1 + 1 / k) + run.se * run.se + meanSe2 / k));

  const diff = run.value - baseline;
  const statistic = diff / sd;
  const critical = studentTQuantile(1 - perMetricAlpha(o), k - 1);
  const change = diff / scale;
  const uncertainty = (critical * sd) / scale;
  let verdict: MetricVerdict = 'unchanged';
  if (statistic > critical && change >= o.minEffect) verdict = 'regressed';
  else if (statistic < -critical && change <= -o.minEffect) verdict = 'improved';
  return { metric, value: run.value, baseline, change, uncertainty, statistic, critical, verdict, windowSize: k };
}

/**
 * A run's key metrics against its trailing window of earlier valid runs (oldest first; the last
 * `windowSize` are used). Fewer than `minWindow` earlier runs: "insufficient-history", with each
 * metric still listed. A metric the run had too few samples for is "insufficient-samples" and
 * neither raises nor clears the run's verdict.
 */
export function compareRun(run: RunEstimates, window: readonly RunEstimates[], options: Partial<CompareOptions> = {}): RunComparison {
  const o = resolveCompareOptions(options);
  const recent = window.slice(-o.windowSize);
  const metrics = KEY_METRICS.map((m) =>
    compareMetric(
      m.name,
      run[m.name],
      recent.map((w) => w[m.name]),
      o,
    ),
  );
  let verdict: RunVerdict = 'unchanged';
  if (recent.length < o.minWindow) verdict = 'insufficient-history';
  else if (metrics.some((m) => m.verdict === 'regressed')) verdict = 'regressed';
  else if (metrics.some((m) => m.verdict === 'improved')) verdict = 'improved';
  return { verdict, metrics, windowSize: recent.length, against: 'window' };
}

/**
 * A run against one or two runs a person named (`compare <run> <reference>`), too few to estimate
 * how much the metric moves from night to night. The difference is judged against the two runs'
 * sampling error alone, Var = se_run² + mean(se_ref²)/k, with the normal quantile at the same
 * per-metric level and the same minimum effect. This answers "is this more than sampling noise?",
 * not "is this more than a normal night's wobble?" — the output says so. With minWindow or more
 * references, use compareRun: they are a window.
 */
export function compareToReference(run: RunEstimates, references: readonly RunEstimates[], options: Partial<CompareOptions> = {}): RunComparison {
  const o = resolveCompareOptions(options);
  if (references.length === 0) throw new RangeError('compareToReference needs at least one reference run');
  const critical = normalQuantile(1 - perMetricAlpha(o));
  const metrics = KEY_METRICS.map((m): MetricComparison => {
    const cur = run[m.name];
    const usable = references.map((r) => r[m.name]).filter(isUsable);
    const k = usable.length;
    const baseline = k > 0 ? mean(usable.map((e) => e.value)) : null;
    const none = { metric: m.name, value: cur.value, baseline, change: null, uncertainty: null, statistic: null, critical: null, windowSize: k };
    if (!isUsable(cur)) return { ...none, verdict: 'insufficient-samples' };
    if (k === 0 || baseline === null) return { ...none, verdict: 'insufficient-samples' };
    const scale = Math.max(baseline, MIN_MS);
    const floor = Math.max(o.resolution * scale, MIN_MS) ** 2;
    const sd = Math.sqrt(Math.max(floor, cur.se * cur.se + mean(usable.map((e) => e.se * e.se)) / k));
    const diff = cur.value - baseline;
    const statistic = diff / sd;
    const change = diff / scale;
    let verdict: MetricVerdict = 'unchanged';
    if (statistic > critical && change >= o.minEffect) verdict = 'regressed';
    else if (statistic < -critical && change <= -o.minEffect) verdict = 'improved';
    return { metric: m.name, value: cur.value, baseline, change, uncertainty: (critical * sd) / scale, statistic, critical, verdict, windowSize: k };
  });
  const verdict: RunVerdict = metrics.some((m) => m.verdict === 'regressed') ? 'regressed' : metrics.some((m) => m.verdict === 'improved') ? 'improved' : 'unchanged';
  return { verdict, metrics, windowSize: references.length, against: 'reference' };
}

/**
 * The smallest relative change a compared metric could have been flagged for: a change counts
 * only beyond both its uncertainty (± needed) and the minimum effect, so it is the larger of the
 * two. Null when the metric was not compared (too few samples or too little history).
 */
export function detectableChange(m: Pick<MetricComparison, 'uncertainty'>, options: Pick<CompareOptions, 'minEffect'>): number | null {
  return m.uncertainty === null ? null : Math.max(m.uncertainty, options.minEffect);
}

type UsableEstimate = MetricEstimate & { value: number; se: number };

function isUsable(e: MetricEstimate): e is UsableEstimate {
  return e.supported && e.value !== null && e.se !== null && Number.isFinite(e.value) && Number.isFinite(e.se);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sampleVariance(xs: readonly number[]): number {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}
