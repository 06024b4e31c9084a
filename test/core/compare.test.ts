import { describe, expect, it } from 'vitest';
import {
  compareMetric,
  compareRun,
  compareToReference,
  detectableChange,
  normalQuantile,
  estimateKeyMetrics,
  estimatePercentile,
  hasEnoughSamples,
  KEY_METRICS,
  minSamplesForPercentile,
  perMetricAlpha,
  resolveCompareOptions,
  studentTQuantile,
  studentTUpperTail,
  type KeyMetric,
  type MetricEstimate,
  type RunEstimates,
} from '../../runtime/core/compare/index.ts';
import { InputError } from '../../runtime/core/errors.ts';
import { LatencyHistogram } from '../../runtime/core/metrics/latency-histogram.ts';
import { mulberry32 } from '../../runtime/core/random.ts';

/** Nearest-rank reader over sorted samples: the rule HDR's getValueAtPercentile follows. */
function nearestRank(sorted: readonly number[]): (p: number) => number {
  return (p) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

function uniformSamples(n: number, seed: number): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => rng()).sort((a, b) => a - b);
}

function est(value: number, se: number, n = 300): MetricEstimate {
  return { value, se, n, supported: true };
}

/** A run whose every key metric has this value and standard error. */
function runOf(value: number, se: number): RunEstimates {
  return Object.fromEntries(KEY_METRICS.map((m) => [m.name, est(value, se)])) as RunEstimates;
}

describe('percentile estimate with an order-statistic interval', () => {
  it('reads the interval at ranks n·q ∓ z·√(n·q·(1 − q)), widened to whole ranks', () => {
    // 1..100: rank r has value r. p50: 50 ∓ 1.96 × 5 = 40.2 .. 59.8 → ranks 40 and 60.
    const ranks = Array.from({ length: 100 }, (_, i) => i + 1);
    const e = estimatePercentile(nearestRank(ranks), 100, 50);
    expect(e).toMatchObject({ value: 50, lower: 40, upper: 60, supported: true });
    // 20 values over 20 ranks, times the rank's sd of 5: (upper − lower)/(2z) up to whole ranks.
    expect(e.se).toBeCloseTo(5, 12);
  });

  it('clamps the interval at the maximum and keeps the standard error per rank', () => {
    // p99 of 100: ranks 99 ∓ 1.95 → 97 .. 101, clamped to 100; se = 3 values / 3 ranks × √0.99.
    const ranks = Array.from({ length: 100 }, (_, i) => i + 1);
    const e = estimatePercentile(nearestRank(ranks), 100, 99);
    expect(e).toMatchObject({ value: 99, lower: 97, upper: 100 });
    expect(e.se).toBeCloseTo(Math.sqrt(0.99), 12);
  });

  it('contains the value, and narrows as 1/√n (uniform samples, seeds 1–3)', () => {
    const widths = [100, 1_000, 10_000].map((n, i) => {
      const e = estimatePercentile(nearestRank(uniformSamples(n, i + 1)), n, 90);
      expect(e.lower!).toBeLessThanOrEqual(e.value!);
      expect(e.upper!).toBeGreaterThanOrEqual(e.value!);
      // Theory for U(0, 1): se = √(q(1 − q)/n) / density, density 1.
      expect(e.se! / Math.sqrt(0.09 / n)).toBeGreaterThan(0.6);
      expect(e.se! / Math.sqrt(0.09 / n)).toBeLessThan(1.5);
      return e.upper! - e.lower!;
    });
    expect(widths[1]!).toBeLessThan(widths[0]!);
    expect(widths[2]!).toBeLessThan(widths[1]!);
    expect(widths[2]! / widths[0]!).toBeGreaterThan(0.05);
    expect(widths[2]! / widths[0]!).toBeLessThan(0.2);
  });

  it('reads a LatencyHistogram through percentileMs', () => {
    const h = LatencyHistogram.empty();
    for (let ms = 1; ms <= 1000; ms++) h.recordMs(ms);
    const e = estimatePercentile((p) => h.percentileMs(p), h.count, 50);
    expect(e.value).toBe(h.percentileMs(50));
    // Ranks 469 and 531 (500 ∓ 1.96 × 15.8). HDR reports a bucket's highest value; its buckets are
    // 256 µs wide below 524.288 ms and 512 µs above.
    expect(e.lower! - 469).toBeGreaterThanOrEqual(0);
    expect(e.lower! - 469).toBeLessThan(0.256);
    expect(e.upper! - 531).toBeGreaterThanOrEqual(0);
    expect(e.upper! - 531).toBeLessThan(0.512);
  });
});

describe('minimum samples for a percentile', () => {
  it('needs one expected sample beyond the percentile: p50 2, p90 10, p99 100, p99.9 1,000', () => {
    expect([50, 90, 95, 99, 99.9, 10, 1].map(minSamplesForPercentile)).toEqual([2, 10, 20, 100, 1000, 10, 100]);
  });

  it('reports too few samples instead of an interval, and still gives the value', () => {
    const sorted = uniformSamples(99, 4);
    expect(hasEnoughSamples(99, 99)).toBe(false);
    expect(estimatePercentile(nearestRank(sorted), 99, 99)).toEqual({ percentile: 99, n: 99, value: sorted[98], supported: false, lower: null, upper: null, se: null });
    expect(estimatePercentile(nearestRank(uniformSamples(100, 4)), 100, 99).supported).toBe(true);
  });

  it('has no value without samples, and no percentile at 0 or 100', () => {
    expect(estimatePercentile(() => 1, 0, 50)).toMatchObject({ value: null, supported: false, se: null });
    expect(() => minSamplesForPercentile(100)).toThrow(RangeError);
    expect(() => minSamplesForPercentile(0)).toThrow(RangeError);
  });
});

describe("Student's t", () => {
  it('matches table values', () => {
    expect(studentTQuantile(0.999, 6)).toBeCloseTo(5.208, 3);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228, 3);
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(studentTQuantile(0.995, 30)).toBeCloseTo(2.75, 3);
    expect(studentTQuantile(0.9995, 3)).toBeCloseTo(12.924, 3);
    expect(studentTQuantile(0.975, 100)).toBeCloseTo(1.984, 3);
  });

  it('matches the closed forms of 1 and 2 degrees of freedom, odd and even series alike', () => {
    for (const p of [0.6, 0.9, 0.99, 0.99875]) {
      expect(studentTQuantile(p, 1)).toBeCloseTo(Math.tan(Math.PI * (p - 0.5)), 6);
      expect(studentTQuantile(p, 2)).toBeCloseTo((2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 6);
    }
  });

  it('is symmetric, and its tail inverts its quantile', () => {
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-studentTQuantile(0.975, 10), 10);
    expect(studentTUpperTail(studentTQuantile(0.99875, 6), 6)).toBeCloseTo(0.00125, 10);
    expect(studentTUpperTail(-1, 5)).toBeCloseTo(1 - studentTUpperTail(1, 5), 12);
  });
});

describe('compareMetric', () => {
  // Seven quiet nights around 100 ms, each measured to ±1 ms.
  const window = [100, 101, 99, 100.5, 99.5, 100.2, 99.8].map((v) => est(v, 1));
  const metric: KeyMetric = 'ttft_p99';

  it('calls a clear +30 % regressed and −30 % improved', () => {
    const up = compareMetric(metric, est(130, 1), window);
    expect(up).toMatchObject({ metric, verdict: 'regressed', windowSize: 7 });
    expect(up.baseline).toBeCloseTo(100, 10);
    expect(up.change).toBeCloseTo(0.3, 10);
    expect(up.statistic!).toBeGreaterThan(up.critical!);
    expect(compareMetric(metric, est(70, 1), window).verdict).toBe('improved');
  });

  it('never flags a change below the minimum effect, however significant', () => {
    const still = [100, 100, 100, 100, 100, 100, 100].map((v) => est(v, 0.01));
    const small = compareMetric(metric, est(101, 0.01), still);
    expect(small.statistic!).toBeGreaterThan(small.critical!);
    expect(small.verdict).toBe('unchanged');
    expect(compareMetric(metric, est(101, 0.01), still, { minEffect: 0 }).verdict).toBe('regressed');
  });

  it("widens with the window's night-to-night spread", () => {
    const noisy = [90, 110, 95, 105, 92, 108, 100].map((v) => est(v, 1));
    expect(compareMetric(metric, est(115, 1), window).verdict).toBe('regressed');
    const r = compareMetric(metric, est(115, 1), noisy);
    expect(r.verdict).toBe('unchanged');
    expect(r.uncertainty!).toBeGreaterThan(0.15);
  });

  it("widens with the run's own sampling uncertainty", () => {
    expect(compareMetric(metric, est(115, 1), window).verdict).toBe('regressed');
    expect(compareMetric(metric, est(115, 6), window).verdict).toBe('unchanged');
  });

  it('has no verdict with fewer than 3 usable earlier runs', () => {
    expect(compareMetric(metric, est(130, 1), window.slice(0, 2))).toMatchObject({ verdict: 'insufficient-history', windowSize: 2, statistic: null });
    expect(compareMetric(metric, est(130, 1), window.slice(0, 3)).verdict).toBe('regressed');
    const thin = [...window.slice(0, 2), { value: 250, se: null, n: 40, supported: false }];
    expect(compareMetric(metric, est(130, 1), thin)).toMatchObject({ verdict: 'insufficient-history', windowSize: 2 });
  });

  it('uses only the last 7 earlier runs', () => {
    const r = compareMetric(metric, est(100, 1), [est(1000, 1), ...window]);
    expect(r.windowSize).toBe(7);
    expect(r.baseline).toBeCloseTo(100, 10);
  });

  it('does not divide by zero when every run is identical', () => {
    const same = Array.from({ length: 7 }, () => est(100, 0));
    const flat = compareMetric(metric, est(100, 0), same);
    expect(flat).toMatchObject({ verdict: 'unchanged', statistic: 0, change: 0 });
    expect(Number.isFinite(flat.uncertainty!)).toBe(true);
    const up = compareMetric(metric, est(130, 0), same);
    expect(up.verdict).toBe('regressed');
    expect(Number.isFinite(up.statistic!)).toBe(true);
  });

  it('reports a run with too few samples as such', () => {
    const r = compareMetric(metric, { value: 500, se: null, n: 50, supported: false }, window);
    expect(r).toMatchObject({ verdict: 'insufficient-samples', value: 500, change: null });
  });
});

describe('compareRun', () => {
  const window = [100, 101, 99, 100.5, 99.5, 100.2, 99.8].map((v) => runOf(v, 1));

  it('judges every key metric, and is regressed when any one regressed', () => {
    const run = { ...runOf(100, 1), itl_p99: est(130, 1) };
    const r = compareRun(run, window);
    expect(r.metrics.map((m) => m.metric)).toEqual(KEY_METRICS.map((m) => m.name));
    expect(r).toMatchObject({ verdict: 'regressed', windowSize: 7 });
    expect(r.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric)).toEqual(['itl_p99']);
  });

  it('is improved only when nothing regressed', () => {
    expect(compareRun({ ...runOf(100, 1), e2e_p50: est(70, 1) }, window).verdict).toBe('improved');
    expect(compareRun({ ...runOf(100, 1), e2e_p50: est(70, 1), ttft_p50: est(130, 1) }, window).verdict).toBe('regressed');
    expect(compareRun(runOf(101, 1), window).verdict).toBe('unchanged');
  });

  it('has no verdict with fewer than 3 earlier runs, and still lists the metrics', () => {
    const r = compareRun(runOf(200, 1), window.slice(0, 2));
    expect(r).toMatchObject({ verdict: 'insufficient-history', windowSize: 2 });
    expect(r.metrics.every((m) => m.verdict === 'insufficient-history')).toBe(true);
  });

  it('lets a metric with too few samples neither raise nor clear the verdict', () => {
    const run = { ...runOf(100, 1), ttft_p99: { value: 500, se: null, n: 50, supported: false } };
    const r = compareRun(run, window);
    expect(r.verdict).toBe('unchanged');
    expect(r.metrics.find((m) => m.metric === 'ttft_p99')!.verdict).toBe('insufficient-samples');
  });

  it('splits the run-level false-alarm rate over the key metrics', () => {
    expect(perMetricAlpha(resolveCompareOptions())).toBeCloseTo(0.01 / 8, 15);
    const r = compareRun(runOf(100, 1), window);
    expect(r.metrics[0]!.critical).toBeCloseTo(studentTQuantile(1 - 0.01 / 8, 6), 12);
  });

  it('rejects impossible options, naming every problem at once', () => {
    const bad = () => compareRun(runOf(100, 1), window, { minWindow: 1, windowSize: 0, falseAlarmRate: 2 });
    expect(bad).toThrow(InputError);
    expect(bad).toThrow(/minWindow[\s\S]*windowSize[\s\S]*falseAlarmRate/);
  });
});

describe('estimateKeyMetrics', () => {
  it('reads each key metric from its histogram, unsupported where samples are too few', () => {
    const h = (n: number, base: number) => {
      const d = LatencyHistogram.empty();
      for (let i = 0; i < n; i++) d.recordMs(base + i / 10);
      return d;
    };
    const e = estimateKeyMetrics({ ttft: h(50, 40), itl: h(5000, 12), tpot: h(50, 12), e2e: h(50, 1500) });
    expect(Object.keys(e)).toEqual(KEY_METRICS.map((m) => m.name));
    expect(e.ttft_p99).toMatchObject({ n: 50, supported: false, se: null });
    expect(e.ttft_p90).toMatchObject({ n: 50, supported: true });
    expect(e.itl_p99.value).toBe(h(5000, 12).percentileMs(99));
    expect(e.itl_p99.supported).toBe(true);
  });
});

describe('normalQuantile', () => {
  it('matches table values and is symmetric', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.99875)).toBeCloseTo(3.023341439739154, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326347874040841, 8);
    expect(normalQuantile(0.3)).toBeCloseTo(-normalQuantile(0.7), 12);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('compareToReference (one or two named runs: sampling error only)', () => {
  it('flags a change beyond both runs\' sampling error and the minimum effect, with the normal critical value', () => {
    const r = compareToReference({ ...runOf(100, 1), ttft_p50: est(110, 1) }, [runOf(100, 1)]);
    expect(r).toMatchObject({ verdict: 'regressed', against: 'reference', windowSize: 1 });
    const ttft = r.metrics.find((m) => m.metric === 'ttft_p50')!;
    expect(ttft.critical).toBeCloseTo(normalQuantile(1 - 0.01 / 8), 12);
    expect(ttft.uncertainty).toBeCloseTo((ttft.critical! * Math.sqrt(2)) / 100, 12);
    expect(r.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric)).toEqual(['ttft_p50']);
  });

  it('does not flag a change inside the sampling error, nor one below the minimum effect', () => {
    expect(compareToReference({ ...runOf(100, 3), ttft_p50: est(108, 3) }, [runOf(100, 3)]).verdict).toBe('unchanged');
    expect(compareToReference({ ...runOf(100, 0.01), ttft_p50: est(104, 0.01) }, [runOf(100, 0.01)]).verdict).toBe('unchanged');
  });

  it('needs at least one reference', () => {
    expect(() => compareToReference(runOf(100, 1), [])).toThrow(RangeError);
  });
});

describe('detectableChange (the smallest change a comparison could flag)', () => {
  it('is the larger of the uncertainty and the minimum effect: a window of 3 quiet runs (sd 5 %) cannot see 10 %', () => {
    const window = [runOf(95, 0.5), runOf(100, 0.5), runOf(105, 0.5)];
    const o = resolveCompareOptions();
    const m = compareRun(runOf(110, 0.5), window).metrics[0]!;
    expect(detectableChange(m, o)).toBe(Math.max(m.uncertainty!, o.minEffect));
    // t with 2 degrees of freedom at α = 0.125 %: ± is many times the window's 5 % spread.
    expect(detectableChange(m, o)!).toBeGreaterThan(0.5);
    expect(m.verdict).toBe('unchanged');
  });

  it('is the minimum effect when the uncertainty is below it, and null for a metric not compared', () => {
    expect(detectableChange({ uncertainty: 0.01 }, { minEffect: 0.05 })).toBe(0.05);
    expect(detectableChange({ uncertainty: null }, { minEffect: 0.05 })).toBeNull();
  });
});
