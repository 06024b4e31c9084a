import { requestMetrics } from '../metrics/definitions.ts';
import type { RequestRecord } from '../records/record.ts';

interface Bucket {
  sent: number;
  failed: number;
  ttftN: number;
  ttftSum: number;
  ttftMax: number;
  e2eN: number;
  e2eSum: number;
  e2eMax: number;
  sdN: number;
  sdSum: number;
  sdMax: number;
}

/** Latency over the run, for the report: per-interval mean and max, indexed by seconds since the first send. */
export interface TimelineSeries {
  /** Width of one point in seconds (1 unless the run was long enough to need coarser points). */
  stepS: number;
  t: number[];
  sent: number[];
  failed: number[];
  ttftMean: Array<number | null>;
  ttftMax: Array<number | null>;
  e2eMean: Array<number | null>;
  e2eMax: Array<number | null>;
  scheduleDelayMean: Array<number | null>;
  scheduleDelayMax: Array<number | null>;
}

/**
 * Requests bucketed by the second they were sent (in the record's own clock), holding sums and maxima
 * only, so shards merge exactly and memory is one small object per second of run time.
 */
export class Timeline {
  private readonly buckets = new Map<number, Bucket>();

  add(r: RequestRecord): void {
    if (r.sentAt === null) return;
    const key = Math.floor(r.sentAt / 1000);
    let b = this.buckets.get(key);
    if (!b) {
      b = { sent: 0, failed: 0, ttftN: 0, ttftSum: 0, ttftMax: 0, e2eN: 0, e2eSum: 0, e2eMax: 0, sdN: 0, sdSum: 0, sdMax: 0 };
      this.buckets.set(key, b);
    }
    b.sent += 1;
    if (r.error !== null) b.failed += 1;
    const m = requestMetrics(r);
    if (m.ttft !== null) {
      b.ttftN += 1;
      b.ttftSum += m.ttft;
      b.ttftMax = Math.max(b.ttftMax, m.ttft);
    }
    if (m.e2e !== null) {
      b.e2eN += 1;
      b.e2eSum += m.e2e;
      b.e2eMax = Math.max(b.e2eMax, m.e2e);
    }
    if (m.scheduleDelay !== null) {
      const sd = Math.max(0, m.scheduleDelay);
      b.sdN += 1;
      b.sdSum += sd;
      b.sdMax = Math.max(b.sdMax, sd);
    }
  }

  merge(other: Timeline): void {
    for (const [k, o] of other.buckets) {
      const b = this.buckets.get(k);
      if (!b) this.buckets.set(k, { ...o });
      else addBucket(b, o);
    }
  }

  /** At most `maxPoints` points: seconds are merged into wider steps for long runs. */
  series(maxPoints = 600): TimelineSeries {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    const out: TimelineSeries = { stepS: 1, t: [], sent: [], failed: [], ttftMean: [], ttftMax: [], e2eMean: [], e2eMax: [], scheduleDelayMean: [], scheduleDelayMax: [] };
    if (keys.length === 0) return out;
    const first = keys[0]!;
    const span = keys[keys.length - 1]! - first + 1;
    const step = Math.max(1, Math.ceil(span / maxPoints));
    out.stepS = step;
    const merged = new Map<number, Bucket>();
    for (const k of keys) {
      const idx = Math.floor((k - first) / step);
      const b = merged.get(idx);
      if (!b) merged.set(idx, { ...this.buckets.get(k)! });
      else addBucket(b, this.buckets.get(k)!);
    }
    for (const idx of [...merged.keys()].sort((a, b) => a - b)) {
      const b = merged.get(idx)!;
      out.t.push(idx * step);
      out.sent.push(b.sent);
      out.failed.push(b.failed);
      out.ttftMean.push(b.ttftN ? round3(b.ttftSum / b.ttftN) : null);
      out.ttftMax.push(b.ttftN ? round3(b.ttftMax) : null);
      out.e2eMean.push(b.e2eN ? round3(b.e2eSum / b.e2eN) : null);
      out.e2eMax.push(b.e2eN ? round3(b.e2eMax) : null);
      out.scheduleDelayMean.push(b.sdN ? round3(b.sdSum / b.sdN) : null);
      out.scheduleDelayMax.push(b.sdN ? round3(b.sdMax) : null);
    }
    return out;
  }
}

function addBucket(b: Bucket, o: Bucket): void {
  b.sent += o.sent;
  b.failed += o.failed;
  b.ttftN += o.ttftN;
  b.ttftSum += o.ttftSum;
  b.ttftMax = Math.max(b.ttftMax, o.ttftMax);
  b.e2eN += o.e2eN;
  b.e2eSum += o.e2eSum;
  b.e2eMax = Math.max(b.e2eMax, o.e2eMax);
  b.sdN += o.sdN;
  b.sdSum += o.sdSum;
  b.sdMax = Math.max(b.sdMax, o.sdMax);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
