import * as hdr from 'hdr-histogram-js';
import { z } from 'zod';
import { minSamplesForPercentile } from '../compare/quantile.ts';

/**
 * A latency histogram: an HDR histogram of integer microseconds (1 µs .. 1 h, 3 significant
 * digits) plus the exact count, sum, min and max, so the mean and extremes are exact and only the
 * percentiles carry HDR's 0.1 % quantization. Merging adds histograms; percentiles are never averaged.
 */
export class LatencyHistogram {
  private constructor(
    readonly histogram: hdr.Histogram,
    public count: number,
    public sumUs: number,
    public minUs: number,
    public maxUs: number,
  ) {}

  static empty(): LatencyHistogram {
    return new LatencyHistogram(newHistogram(), 0, 0, Number.POSITIVE_INFINITY, 0);
  }

  /** Records a duration given in milliseconds; negative values are clamped to 0 by the caller's contract. */
  recordMs(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    this.histogram.recordValue(Math.min(us, HIGHEST_US));
    this.count += 1;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /** Percentile in ms; HDR returns the highest value equivalent to the bucket, clamped to the exact max. */
  percentileMs(p: number): number {
    return Math.min(this.histogram.getValueAtPercentile(p), this.maxUs) / 1000;
  }

  stats(): DistributionStats {
    if (this.count === 0) return emptyStats();
    return withSampleCheck({
      count: this.count,
      mean: round3(this.sumUs / this.count / 1000),
      min: this.minUs / 1000,
      p50: this.percentileMs(50),
      p90: this.percentileMs(90),
      p95: this.percentileMs(95),
      p99: this.percentileMs(99),
      p999: this.percentileMs(99.9),
      max: this.maxUs / 1000,
    });
  }

  encode(): EncodedHistogram {
    return {
      hdr: hdr.encodeIntoCompressedBase64(this.histogram),
      count: this.count,
      sumUs: this.sumUs,
      minUs: this.count === 0 ? null : this.minUs,
      maxUs: this.count === 0 ? null : this.maxUs,
    };
  }

  static decode(e: EncodedHistogram): LatencyHistogram {
    const h = hdr.decodeFromCompressedBase64(e.hdr, 32, false);
    const d = new LatencyHistogram(newHistogram(), e.count, e.sumUs, e.minUs ?? Number.POSITIVE_INFINITY, e.maxUs ?? 0);
    d.histogram.add(h);
    return d;
  }
}

export const statPercentiles = [
  ['p50', 50],
  ['p90', 90],
  ['p95', 95],
  ['p99', 99],
  ['p999', 99.9],
] as const;
export type StatPercentile = (typeof statPercentiles)[number][0];

/**
 * The fewest samples a percentile needs before it says anything about the tail it names (one rule
 * for the summary, CloudWatch and the comparison: core/compare/quantile.ts). p50 needs 2, p90 10,
 * p99 100, p99.9 1,000; below that "p99" is the maximum of what was seen, so it is reported as
 * insufficient and never published as a baseline.
 */
export const minSamples = minSamplesForPercentile;

/** Marks the percentiles `count` samples cannot support. */
export function withSampleCheck(s: Omit<DistributionStats, 'insufficient'>): DistributionStats {
  return { ...s, insufficient: s.count === 0 ? [] : statPercentiles.filter(([, p]) => s.count < minSamples(p)).map(([name]) => name) };
}

/** Summary numbers of one distribution, in milliseconds; all null when nothing was recorded. */
export const DistributionStats = z.object({
  count: z.number().int().nonnegative(),
  mean: z.number().nullable(),
  min: z.number().nullable(),
  p50: z.number().nullable(),
  p90: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
  p999: z.number().nullable(),
  max: z.number().nullable(),
  /** Percentiles with fewer samples than they need (minSamples): shown as such, not published. */
  insufficient: z.array(z.enum(['p50', 'p90', 'p95', 'p99', 'p999'])),
});
export type DistributionStats = z.infer<typeof DistributionStats>;

export interface EncodedHistogram {
  /** `encodeIntoCompressedBase64`: interoperable with HdrHistogram's Java/Rust encodings. */
  hdr: string;
  count: number;
  sumUs: number;
  minUs: number | null;
  maxUs: number | null;
}

const HIGHEST_US = 3_600_000_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    // 32-bit counters: 4× faster to record than 'packed' (bench/aggregate-native.ts), ~200 KB each.
    bitBucketSize: 32,
    useWebAssembly: false,
  });
}

function emptyStats(): DistributionStats {
  return { count: 0, mean: null, min: null, p50: null, p90: null, p95: null, p99: null, p999: null, max: null, insufficient: [] };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Whether a shown column holds a percentile its samples cannot support (the table and report.html
 * star it): the value is the largest seen, not the percentile it names.
 */
export function unsupportedValue(d: DistributionStats, column: keyof DistributionStats): boolean {
  return (d.insufficient as string[]).includes(column) && d[column] !== null;
}
