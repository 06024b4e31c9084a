/**
 * How much one run's percentile can be trusted, from its own samples: a distribution-free
 * confidence interval from order statistics (the rank of the p-th percentile in n samples is
 * Binomial(n, q), whatever the latency distribution), and Student's t quantiles for the comparison
 * with earlier runs. Pure arithmetic: the samples are read through a callback, never copied.
 */

/**
 * Reads the value (ms) at a percentile (0..100) with the nearest-rank rule: the sample of rank
 * ceil(p/100 · n). `h => h.percentileMs(p)` of a LatencyHistogram is one (HDR's own rule).
 */
export type ValueAtPercentile = (percentile: number) => number;

/** z of a two-sided 95 % interval: the interval reported beside each percentile. */
export const DEFAULT_Z = 1.959963984540054;

/**
 * The fewest samples for which percentile p means something: at least one sample expected on each
 * side of it, n·min(q, 1 − q) ≥ 1 (q = p/100). So p50 needs 2, p90 10, p99 100, p99.9 1,000. Below
 * that the "p99" is just the maximum, and its interval would be invented, not measured.
 */
export function minSamplesForPercentile(percentile: number): number {
  if (!(percentile > 0 && percentile < 100)) throw new RangeError(`percentile must be in (0, 100), got ${percentile}`);
  const q = percentile / 100;
  // The epsilon absorbs 1 − 0.999 ≠ 0.001 in binary, so p99.9 asks for 1,000 samples, not 1,001.
  return Math.max(1, Math.ceil(1 / Math.min(q, 1 - q) - 1e-9));
}

/** Whether n samples are enough for percentile p (see `minSamplesForPercentile`). */
export function hasEnoughSamples(n: number, percentile: number): boolean {
  return n >= minSamplesForPercentile(percentile);
}

/** One run's percentile with its sampling uncertainty; the interval and se are null when unsupported. */
export interface PercentileEstimate {
  percentile: number;
  /** Samples the percentile was read from. */
  n: number;
  /** The percentile itself, as the summary reports it; null when there are no samples. */
  value: number | null;
  /** False when n < minSamplesForPercentile(percentile): no interval is claimed. */
  supported: boolean;
  lower: number | null;
  upper: number | null;
  /** Standard error of `value` (ms). */
  se: number | null;
}

/**
 * The p-th percentile of n samples and its distribution-free confidence interval: the samples of
 * ranks n·q ∓ z·√(n·q·(1 − q)) (the normal approximation of the binomial rank, widened to whole
 * ranks and clamped to [1, n]). The standard error is the interval's width per rank times the
 * rank's standard deviation, which equals (upper − lower)/(2z) when neither end is clamped, and
 * stays honest when one is (a p99 over a few hundred samples reaches the maximum).
 */
export function estimatePercentile(valueAt: ValueAtPercentile, n: number, percentile: number, z = DEFAULT_Z): PercentileEstimate {
  const supported = hasEnoughSamples(n, percentile);
  if (n <= 0) return { percentile, n, value: null, supported: false, lower: null, upper: null, se: null };
  const value = valueAt(percentile);
  if (!supported) return { percentile, n, value, supported, lower: null, upper: null, se: null };
  const q = percentile / 100;
  const rankSd = Math.sqrt(n * q * (1 - q));
  const lowRank = clampRank(Math.floor(n * q - z * rankSd), n);
  const highRank = clampRank(Math.ceil(n * q + z * rankSd), n);
  const lower = valueAt(rankPercentile(lowRank, n));
  const upper = valueAt(rankPercentile(highRank, n));
  const se = highRank > lowRank ? ((upper - lower) / (highRank - lowRank)) * rankSd : 0;
  return { percentile, n, value, supported, lower, upper, se };
}

function clampRank(rank: number, n: number): number {
  return Math.min(n, Math.max(1, rank));
}

/** A percentile whose nearest rank is exactly `rank`: mid-rank, so float error cannot tip the ceil. */
function rankPercentile(rank: number, n: number): number {
  return (100 * (rank - 0.5)) / n;
}

/**
 * P(T > t) for Student's t with an integer number of degrees of freedom, by the finite series of
 * Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df): exact up to rounding, no special
 * functions, and the comparison only ever needs integer df (window size − 1).
 */
export function studentTUpperTail(t: number, df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  if (Number.isNaN(t)) return Number.NaN;
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const c2 = Math.cos(theta) ** 2;
  let inside: number; // A(|t| | df) = P(−|t| < T < |t|)
  if (df % 2 === 1) {
    let term = Math.cos(theta);
    let sum = df > 1 ? term : 0;
    for (let k = 3; k <= df - 2; k += 2) {
      term *= (c2 * (k - 1)) / k;
      sum += term;
    }
    inside = (2 / Math.PI) * (theta + Math.sin(theta) * sum);
  } else {
    let term = 1;
    let sum = 1;
    for (let k = 2; k <= df - 2; k += 2) {
      term *= (c2 * (k - 1)) / k;
      sum += term;
    }
    inside = Math.sin(theta) * sum;
  }
  const tail = Math.max(0, (1 - inside) / 2);
  return t >= 0 ? tail : 1 - tail;
}

/** The t with P(T ≤ t) = probability for Student's t with integer df, by bisection of the tail. */
export function studentTQuantile(probability: number, df: number): number {
  if (!(probability > 0 && probability < 1)) throw new RangeError(`probability must be in (0, 1), got ${probability}`);
  if (probability < 0.5) return -studentTQuantile(1 - probability, df);
  const tail = 1 - probability;
  let lo = 0;
  let hi = 1;
  while (studentTUpperTail(hi, df) > tail) {
    lo = hi;
    hi *= 2;
  }
  // 200 halvings reach the resolution of a double long before they run out.
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTUpperTail(mid, df) > tail) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The standard normal quantile Φ⁻¹(p) (Acklam's rational approximation, relative error < 1.2e-9):
 * the critical value of a comparison whose variance is known from sampling alone.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}
