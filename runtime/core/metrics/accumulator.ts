import { errorTypes, type ErrorType, type RequestRecord } from '../records/record.ts';
import type { RunIdentity, RunRequest } from '../records/run-manifest.ts';
import type { Measured, StageLoad } from '../summary/schema.ts';
import { scheduledRates } from '../scenario/schedule.ts';
import { requestMetrics } from './definitions.ts';
import { LatencyHistogram, type EncodedHistogram } from './latency-histogram.ts';

/** The six metrics (core/metrics/definitions.ts), each kept as one HDR histogram per run. */
export const histogramNames = ['ttft', 'itl', 'tpot', 'ntpot', 'e2e', 'schedule_delay'] as const;
export type HistogramName = (typeof histogramNames)[number];

const counterNames = ['records', 'sent', 'succeeded', 'failed', 'inputTokens', 'outputTokens', 'inputMismatches', 'outputMismatches', 'clientServerOutputMismatches', 'missingServerUsage'] as const;

/** RunAccumulator.snapshot(): structured-cloneable (Infinity included), not JSON. */
export interface AccumulatorSnapshot {
  histograms: Record<HistogramName, EncodedHistogram>;
  errors: Array<[ErrorType, number]>;
  errorMessages: Array<{ type: ErrorType; status: number | null; message: string; count: number }>;
  stages: Array<[number, StageSpan]>;
  shardFirsts: Array<[number, { seq: number; scheduledAt: number }]>;
  counters: Record<(typeof counterNames)[number], number>;
  firstSentAt: number;
  lastDoneAt: number;
}

interface StageSpan {
  sent: number;
  firstSent: number;
  lastSent: number;
  firstScheduled: number;
  lastScheduled: number;
  scheduledKnown: number;
}

/**
 * Folds per-request records into distributions and counters, one record at a time, so a run of any
 * size is summarized in bounded memory and shards merge exactly (records from every shard go into
 * one accumulator, or accumulators merge by adding histograms — never by averaging percentiles).
 */
export class RunAccumulator {
  readonly dists: Record<HistogramName, LatencyHistogram> = {
    ttft: LatencyHistogram.empty(),
    itl: LatencyHistogram.empty(),
    tpot: LatencyHistogram.empty(),
    ntpot: LatencyHistogram.empty(),
    e2e: LatencyHistogram.empty(),
    schedule_delay: LatencyHistogram.empty(),
  };
  private readonly errors = new Map<ErrorType, number>();
  /** Distinct failure messages and their counts (bounded: see noteErrorMessage). */
  private readonly errorMessages = new Map<string, { type: ErrorType; status: number | null; message: string; count: number }>();
  private readonly stages = new Map<number, StageSpan>();
  /** Each shard's earliest scheduled request: with the plan, when the shard's schedule started. */
  readonly shardFirsts = new Map<number, { seq: number; scheduledAt: number }>();
  records = 0;
  sent = 0;
  succeeded = 0;
  failed = 0;
  inputTokens = 0;
  outputTokens = 0;
  inputMismatches = 0;
  outputMismatches = 0;
  clientServerOutputMismatches = 0;
  missingServerUsage = 0;
  firstSentAt = Number.POSITIVE_INFINITY;
  lastDoneAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly ignoreEos: boolean) {}

  add(r: RequestRecord): void {
    this.records += 1;
    const m = requestMetrics(r);
    if (r.scheduledAt !== null) {
      const first = this.shardFirsts.get(r.shard);
      if (!first || r.scheduledAt < first.scheduledAt) this.shardFirsts.set(r.shard, { seq: r.seq, scheduledAt: r.scheduledAt });
    }
    if (r.sentAt !== null) {
      this.sent += 1;
      this.firstSentAt = Math.min(this.firstSentAt, r.sentAt);
      this.trackStage(r.stage, r.sentAt, r.scheduledAt);
    }
    if (r.doneAt !== null) this.lastDoneAt = Math.max(this.lastDoneAt, r.doneAt);
    // Schedule delay is a property of the load generator, so failures count too.
    if (m.scheduleDelay !== null) this.dists.schedule_delay.recordMs(m.scheduleDelay);
    if (r.error !== null) {
      this.failed += 1;
      this.errors.set(r.error.type, (this.errors.get(r.error.type) ?? 0) + 1);
      this.noteErrorMessage({ type: r.error.type, status: r.status, message: r.error.message, count: 1 });
      return;
    }
    if (r.sentAt === null || r.doneAt === null) return;
    this.succeeded += 1;
    if (m.ttft !== null) this.dists.ttft.recordMs(m.ttft);
    for (const gap of m.itl) this.dists.itl.recordMs(gap);
    if (m.tpot !== null) this.dists.tpot.recordMs(m.tpot);
    if (m.ntpot !== null) this.dists.ntpot.recordMs(m.ntpot);
    if (m.e2e !== null) this.dists.e2e.recordMs(m.e2e);
    this.checkTokens(r);
  }

  /**
   * The whole state as plain data (histograms compressed), for another thread: a runner's worker
   * posts its shard's once, at the end, instead of every record (as autocannon's workers do).
   */
  snapshot(): AccumulatorSnapshot {
    return {
      histograms: this.encodedHistograms(),
      errors: [...this.errors],
      errorMessages: [...this.errorMessages.values()].map((e) => ({ ...e })),
      stages: [...this.stages].map(([stage, s]) => [stage, { ...s }]),
      shardFirsts: [...this.shardFirsts].map(([shard, f]) => [shard, { ...f }]),
      counters: Object.fromEntries(counterNames.map((k) => [k, this[k]])) as AccumulatorSnapshot['counters'],
      firstSentAt: this.firstSentAt,
      lastDoneAt: this.lastDoneAt,
    };
  }

  /** An accumulator holding a snapshot's state (merge it into another to add a shard). */
  static fromSnapshot(ignoreEos: boolean, s: AccumulatorSnapshot): RunAccumulator {
    const acc = new RunAccumulator(ignoreEos);
    for (const name of histogramNames) acc.dists[name].merge(LatencyHistogram.decode(s.histograms[name]));
    for (const [type, n] of s.errors) acc.errors.set(type, n);
    for (const e of s.errorMessages) acc.noteErrorMessage(e);
    for (const [stage, span] of s.stages) acc.stages.set(stage, { ...span });
    for (const [shard, f] of s.shardFirsts) acc.shardFirsts.set(shard, { ...f });
    for (const k of counterNames) acc[k] = s.counters[k];
    acc.firstSentAt = s.firstSentAt;
    acc.lastDoneAt = s.lastDoneAt;
    return acc;
  }

  /** Adds another accumulator's state (e.g. one per shard, merged by the aggregator). */
  merge(other: RunAccumulator): void {
    for (const name of histogramNames) this.dists[name].merge(other.dists[name]);
    for (const [type, n] of other.errors) this.errors.set(type, (this.errors.get(type) ?? 0) + n);
    for (const e of other.errorMessages.values()) this.noteErrorMessage(e);
    for (const [shard, f] of other.shardFirsts) {
      const mine = this.shardFirsts.get(shard);
      if (!mine || f.scheduledAt < mine.scheduledAt) this.shardFirsts.set(shard, f);
    }
    for (const [stage, s] of other.stages) {
      const mine = this.stages.get(stage);
      if (!mine) this.stages.set(stage, { ...s });
      else {
        mine.sent += s.sent;
        mine.scheduledKnown += s.scheduledKnown;
        mine.firstSent = Math.min(mine.firstSent, s.firstSent);
        mine.lastSent = Math.max(mine.lastSent, s.lastSent);
        mine.firstScheduled = Math.min(mine.firstScheduled, s.firstScheduled);
        mine.lastScheduled = Math.max(mine.lastScheduled, s.lastScheduled);
      }
    }
    for (const key of counterNames) this[key] += other[key];
    this.firstSentAt = Math.min(this.firstSentAt, other.firstSentAt);
    this.lastDoneAt = Math.max(this.lastDoneAt, other.lastDoneAt);
  }

  /**
   * Counts a failure message. Messages are cut to 300 characters and at most 200 distinct ones are
   * kept (a server that puts a request id in every error would otherwise grow this with the run);
   * later distinct messages still count in `errors` by type.
   */
  private noteErrorMessage(e: { type: ErrorType; status: number | null; message: string; count: number }): void {
    const message = e.message.length > 300 ? `${e.message.slice(0, 299)}…` : e.message;
    const key = `${e.type}\u0000${e.status ?? ''}\u0000${message}`;
    const known = this.errorMessages.get(key);
    if (known) known.count += e.count;
    else if (this.errorMessages.size < 200) this.errorMessages.set(key, { type: e.type, status: e.status, message, count: e.count });
  }

  encodedHistograms(): Record<HistogramName, EncodedHistogram> {
    return Object.fromEntries(histogramNames.map((n) => [n, this.dists[n].encode()])) as Record<HistogramName, EncodedHistogram>;
  }

  /** The run's numbers (everything in summary.json but the input report and the verdict). */
  measure(identity: RunIdentity, request: RunRequest, totals: { scheduled: number; partial: boolean; cpuSteal?: number | null }): Measured {
    const stageLoads = this.stageLoads(request);
    const durationS = this.sent > 0 && this.lastDoneAt > this.firstSentAt ? (this.lastDoneAt - this.firstSentAt) / 1000 : null;
    const perS = (n: number): number | null => (durationS ? round(n / durationS, 3) : null);
    const errors: Measured['requests']['errors'] = {};
    for (const t of errorTypes) if (this.errors.get(t)) errors[t] = this.errors.get(t)!;
    const sendDurationS = stageLoads.reduce<number | null>((acc, s) => (s.sendDurationS === null ? acc : (acc ?? 0) + s.sendDurationS), null);
    const achieved = stageLoads.length === 1 ? stageLoads[0]!.achievedRate : sendDurationS ? round((this.sent - stageLoads.length) / sendDurationS, 4) : null;
    return {
      v: 1,
      run: {
        ...identity,
        startedAt: Number.isFinite(this.firstSentAt) ? new Date(this.firstSentAt).toISOString() : null,
        endedAt: Number.isFinite(this.lastDoneAt) ? new Date(this.lastDoneAt).toISOString() : null,
        partial: totals.partial,
      },
      requests: {
        scheduled: totals.scheduled,
        sent: this.sent,
        succeeded: this.succeeded,
        failed: this.failed,
        errors,
        errorMessages: [...this.errorMessages.values()]
          .sort((a, b) => b.count - a.count || (a.message < b.message ? -1 : 1))
          .slice(0, 10)
          .map((e) => ({ ...e })),
      },
      load: {
        arrival: request.arrival,
        requestedRate: request.stages.length === 1 ? request.stages[0]!.rate : weightedRate(request.stages),
        achievedRate: achieved,
        sendDurationS: sendDurationS === null ? null : round(sendDurationS, 3),
        stages: stageLoads,
        schedule_delay: this.dists.schedule_delay.stats(),
        scheduleDelaySource: this.dists.schedule_delay.count > 0 ? 'records' : 'unavailable',
        seed: request.seed ?? null,
        cpuSteal: totals.cpuSteal ?? null,
      },
      latency: {
        ttft: this.dists.ttft.stats(),
        itl: this.dists.itl.stats(),
        tpot: this.dists.tpot.stats(),
        ntpot: this.dists.ntpot.stats(),
        e2e: this.dists.e2e.stats(),
      },
      throughput: {
        durationS: durationS === null ? null : round(durationS, 3),
        requestsPerS: perS(this.succeeded),
        inputTokensPerS: perS(this.inputTokens),
        outputTokensPerS: perS(this.outputTokens),
      },
      tokens: {
        inputTokens: this.inputTokens,
        outputTokens: this.outputTokens,
        inputMismatches: this.inputMismatches,
        outputMismatches: this.outputMismatches,
        clientServerOutputMismatches: this.clientServerOutputMismatches,
        missingServerUsage: this.missingServerUsage,
      },
    };
  }

  private trackStage(stage: number, sentAt: number, scheduledAt: number | null): void {
    let s = this.stages.get(stage);
    if (!s) {
      s = { sent: 0, firstSent: sentAt, lastSent: sentAt, firstScheduled: Number.POSITIVE_INFINITY, lastScheduled: Number.NEGATIVE_INFINITY, scheduledKnown: 0 };
      this.stages.set(stage, s);
    }
    s.sent += 1;
    s.firstSent = Math.min(s.firstSent, sentAt);
    s.lastSent = Math.max(s.lastSent, sentAt);
    if (scheduledAt !== null) {
      s.scheduledKnown += 1;
      s.firstScheduled = Math.min(s.firstScheduled, scheduledAt);
      s.lastScheduled = Math.max(s.lastScheduled, scheduledAt);
    }
  }

  /**
   * Achieved rate = (n − 1) / (last send − first send): the rate at which requests actually left.
   * It is compared with the same quantity of the schedule as planned (the requested rate for even
   * arrivals, a Poisson draw's own realized rate) — from the plan when the run recorded its seed, so
   * shards that did not run together, each on its own clock, cannot hide it; else (inference-perf)
   * from the records' scheduled times.
   */
  private stageLoads(request: RunRequest): StageLoad[] {
    const planned = request.seed || request.arrival === 'even' ? scheduledRates(request.stages, request.arrival, 0, request.seed?.value ?? 0) : null;
    return request.stages.map((cfg, stage) => {
      const s = this.stages.get(stage);
      if (!s || s.sent < 2) return { stage, requestedRate: cfg.rate, scheduledRate: null, achievedRate: null, sent: s?.sent ?? 0, sendDurationS: null };
      const sendSpan = (s.lastSent - s.firstSent) / 1000;
      const schedSpan = s.scheduledKnown === s.sent ? (s.lastScheduled - s.firstScheduled) / 1000 : 0;
      return {
        stage,
        requestedRate: cfg.rate,
        scheduledRate: planned ? (planned[stage] === null || planned[stage] === undefined ? null : round(planned[stage]!, 4)) : schedSpan > 0 ? round((s.sent - 1) / schedSpan, 4) : null,
        achievedRate: sendSpan > 0 ? round((s.sent - 1) / sendSpan, 4) : null,
        sent: s.sent,
        sendDurationS: round(sendSpan, 3),
      };
    });
  }

  private checkTokens(r: RequestRecord): void {
    const inServer = r.inputTokens.server;
    const outServer = r.outputTokens.server;
    if (inServer === null || outServer === null) this.missingServerUsage += 1;
    this.inputTokens += inServer ?? r.inputTokens.client ?? 0;
    this.outputTokens += outServer ?? r.outputTokens.client ?? 0;
    if (inServer !== null && inServer !== r.inputTokens.requested) this.inputMismatches += 1;
    // With ignore_eos a request must return exactly max_tokens; without it, at most max_tokens.
    if (outServer !== null && (this.ignoreEos ? outServer !== r.outputTokens.requested : outServer > r.outputTokens.requested)) this.outputMismatches += 1;
    if (outServer !== null && r.outputTokens.client !== null && r.outputTokens.client !== outServer) this.clientServerOutputMismatches += 1;
  }
}

function weightedRate(stages: Array<{ rate: number; duration: number }>): number {
  const total = stages.reduce((a, s) => a + s.duration, 0);
  return round(stages.reduce((a, s) => a + s.rate * s.duration, 0) / total, 4);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
