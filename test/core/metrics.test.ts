import { validityRules } from '../../runtime/core/scenario/validity-rules.ts';
import { describe, expect, it } from 'vitest';
import { RunAccumulator } from '../../runtime/core/metrics/accumulator.ts';
import { requestMetrics } from '../../runtime/core/metrics/definitions.ts';
import { LatencyHistogram, minSamples } from '../../runtime/core/metrics/latency-histogram.ts';
import { InputTally } from '../../runtime/core/records/input-report.ts';
import type { RunIdentity, RunRequest } from '../../runtime/core/records/run-manifest.ts';
import { finish } from '../../runtime/core/summary/finalize.ts';
import type { RequestRecord } from '../../runtime/core/records/record.ts';

function record(over: Partial<RequestRecord> & { seq: number }): RequestRecord {
  return {
    v: 1,
    runId: 'r',
    shard: 0,
    stage: 0,
    scheduledAt: 1000,
    sentAt: 1000.5,
    firstTokenAt: 1100.5,
    doneAt: 1131,
    contentTimes: [1100.5, 1110.5, 1120.5, 1130.5],
    inputTokens: { requested: 512, client: 512, server: 512 },
    outputTokens: { requested: 4, client: 4, server: 4 },
    status: 200,
    error: null,
    ...over,
  };
}

const identity: RunIdentity = { runId: 'r', scenario: 'baseline', model: 'm', target: 'http://t', zone: null, runner: { kind: 'native', version: 'test' }, api: 'completion', streaming: true };
/** The accumulator's numbers judged as the aggregator judges them (no input problems). */
function summarize(acc: RunAccumulator, id: RunIdentity, req: RunRequest, totals: { scheduled: number; partial: boolean; cpuSteal?: number | null }) {
  return finish(acc.measure(id, req, totals), req, new InputTally('native').report());
}

const request: RunRequest = { arrival: 'even', stages: [{ rate: 1, duration: 3 }], ignoreEos: true, validity: { ...validityRules(undefined), minSuccesses: 1 } }; // three-request fixtures: the minimum-sample rule has its own test

describe('metric definitions on a hand-computed record', () => {
  // sent 1000.5; content at 1100.5, 1110.5, 1120.5, 1130.5; last byte 1131; 4 output tokens (server)
  const m = requestMetrics(record({ seq: 0 }));
  it('ttft = first content event − sent', () => expect(m.ttft).toBe(100));
  it('itl = gaps between consecutive content events', () => expect(m.itl).toEqual([10, 10, 10]));
  it('tpot = (last − first content event) / (output tokens − 1)', () => expect(m.tpot).toBe(10));
  it('ntpot = e2e / output tokens', () => expect(m.ntpot).toBeCloseTo(130.5 / 4, 12));
  it('e2e = last byte − sent', () => expect(m.e2e).toBe(130.5));
  it('schedule_delay = sent − scheduled', () => expect(m.scheduleDelay).toBe(0.5));

  it('output tokens come from the server usage, not the count of content events', () => {
    // One chunk carried 2 tokens: 4 content events, 5 tokens by usage.
    const r = requestMetrics(record({ seq: 0, outputTokens: { requested: 5, client: 4, server: 5 } }));
    expect(r.tpot).toBe(30 / 4);
    expect(r.ntpot).toBeCloseTo(130.5 / 5, 12);
  });

  it('a failed request has only a schedule delay', () => {
    const r = requestMetrics(record({ seq: 0, error: { type: 'http_status', message: 'HTTP 500' } }));
    expect(r).toMatchObject({ ttft: null, itl: [], tpot: null, e2e: null, scheduleDelay: 0.5 });
  });
});

describe('RunAccumulator', () => {
  const records = [0, 1, 2].map((i) =>
    record({
      seq: i,
      scheduledAt: 1000 + i * 1000,
      sentAt: 1000.5 + i * 1000,
      contentTimes: [1100.5, 1110.5, 1120.5, 1130.5].map((t) => t + i * 1000 + i), // ttft 100 + i ms
      doneAt: 1131 + i * 1001,
    }),
  );

  it('summarizes a clean run as valid, with exact counts and rates', () => {
    const acc = new RunAccumulator(true);
    records.forEach((r) => acc.add(r));
    const s = summarize(acc, identity, request, { scheduled: 3, partial: false });
    expect(s.requests).toEqual({ scheduled: 3, sent: 3, succeeded: 3, failed: 0, errors: {}, errorMessages: [] });
    expect(s.latency.ttft).toMatchObject({ count: 3, min: 100, max: 102, mean: 101 });
    // HDR reports the highest value equivalent to the bucket: 101 ms within 3 significant digits.
    expect(s.latency.ttft.p50! - 101).toBeGreaterThanOrEqual(0);
    expect(s.latency.ttft.p50! - 101).toBeLessThan(0.101);
    expect(s.latency.itl).toMatchObject({ count: 9, min: 10, max: 10 });
    expect(s.load.stages[0]).toMatchObject({ achievedRate: 1, scheduledRate: 1, sent: 3 });
    expect(s.load.schedule_delay).toMatchObject({ count: 3, max: 0.5 });
    expect(s.validity).toEqual({ valid: true, reasons: [], notes: [] });
  });

  it('merging per-shard accumulators equals one accumulator over all records', () => {
    const one = new RunAccumulator(true);
    records.forEach((r) => one.add(r));
    const a = new RunAccumulator(true);
    const b = new RunAccumulator(true);
    a.add(records[0]!);
    b.add(records[1]!);
    b.add(records[2]!);
    a.merge(b);
    expect(summarize(a, identity, request, { scheduled: 3, partial: false })).toEqual(summarize(one, identity, request, { scheduled: 3, partial: false }));
  });

  it('a snapshot (what a worker thread posts, structured-cloned) holds everything: merged, it equals the records added one by one', () => {
    const failed = record({ seq: 3, shard: 1, status: 503, error: { type: 'http_status', message: 'HTTP 503' }, firstTokenAt: null, doneAt: 1005, contentTimes: [] });
    const all = [...records, failed];
    const one = new RunAccumulator(true);
    all.forEach((r) => one.add(r));
    const a = new RunAccumulator(true);
    const b = new RunAccumulator(true);
    a.add(all[0]!);
    all.slice(1).forEach((r) => b.add(r));
    const merged = RunAccumulator.fromSnapshot(true, structuredClone(a.snapshot()));
    merged.merge(RunAccumulator.fromSnapshot(true, structuredClone(b.snapshot())));
    const totals = { scheduled: 4, partial: false };
    expect(summarize(merged, identity, request, totals)).toEqual(summarize(one, identity, request, totals));
    expect(merged.encodedHistograms()).toEqual(one.encodedHistograms());
    expect([...merged.shardFirsts]).toEqual([...one.shardFirsts]);
    // An empty shard's snapshot adds nothing.
    merged.merge(RunAccumulator.fromSnapshot(true, structuredClone(new RunAccumulator(true).snapshot())));
    expect(summarize(merged, identity, request, totals)).toEqual(summarize(one, identity, request, totals));
  });

  it('invalid reasons: failures by type, token mismatches, missing usage, late sends', () => {
    const acc = new RunAccumulator(true);
    acc.add(records[0]!);
    acc.add(record({ seq: 1, scheduledAt: 2000, sentAt: 2030, error: { type: 'aborted', message: 'closed' } }));
    acc.add(record({ seq: 2, scheduledAt: 3000, sentAt: 3000.2, outputTokens: { requested: 4, client: 3, server: 3 }, inputTokens: { requested: 512, client: 512, server: 513 } }));
    acc.add(record({ seq: 3, scheduledAt: 4000, sentAt: 4000.2, outputTokens: { requested: 4, client: 4, server: null } }));
    const s = summarize(acc, identity, { ...request, stages: [{ rate: 1, duration: 4 }] }, { scheduled: 4, partial: false });
    expect(s.requests.errors).toEqual({ aborted: 1 });
    expect(s.tokens).toMatchObject({ outputMismatches: 1, inputMismatches: 1, missingServerUsage: 1, clientServerOutputMismatches: 0 });
    expect(s.validity.valid).toBe(false);
    const text = s.validity.reasons.join('\n');
    expect(text).toContain('1 of 4 requests failed (25 %, allowed 0 %): 1 aborted');
    // Four sends are too few for a p99: the reason quotes the largest delay, as the table's max column does.
    expect(text).toContain('Schedule delay reached 30 ms, the largest of only 4 sends');
    expect(text).toContain('1 successful requests returned a different number of output tokens');
    expect(text).toContain('1 successful requests had a prompt length');
    expect(text).toContain('1 successful requests came back without the server');
  });

  it('late sends while the host took CPU (steal ≥ 5 %) are blamed on the host; below that, on the runner', () => {
    const late = (): RunAccumulator => {
      const acc = new RunAccumulator(true);
      [0, 1, 2].forEach((seq) => acc.add(record({ seq, scheduledAt: 1000 + seq * 1000, sentAt: 1000 + seq * 1000 + 30 })));
      return acc;
    };
    const stolen = summarize(late(), identity, request, { scheduled: 3, partial: false, cpuSteal: 0.3 });
    expect(stolen.load.cpuSteal).toBe(0.3);
    expect(stolen.validity.reasons).toEqual([expect.stringMatching(/^Schedule delay reached 30 ms, the largest of only 3 sends \(too few for the p99 the 10 ms limit applies to, which needs 100; one late send in 3 is already more than 1 %\) while the hypervisor took 30 % of the runner's machine's CPU time \(CPU steal\)[^\n]*dedicated CPUs/)]);
    const quiet = summarize(late(), identity, request, { scheduled: 3, partial: false, cpuSteal: 0.01 });
    expect(quiet.validity.reasons).toEqual([expect.stringMatching(/^Schedule delay reached 30 ms, the largest of only 3 sends \([^)]*\): the load generator could not send on time, so it measured itself/)]);
    // Unknown steal (no /proc/stat, inference-perf): the runner's reason, and null in the summary.
    const unknown = summarize(late(), identity, request, { scheduled: 3, partial: false });
    expect(unknown.load.cpuSteal).toBeNull();
    expect(unknown.validity.reasons).toEqual(quiet.validity.reasons);
    // Steal alone, sends on time: a valid run (the schedule delay is what counts).
    const onTime = new RunAccumulator(true);
    [0, 1, 2].forEach((seq) => onTime.add(record({ seq, scheduledAt: 1000 + seq * 1000, sentAt: 1000.5 + seq * 1000 })));
    expect(summarize(onTime, identity, request, { scheduled: 3, partial: false, cpuSteal: 0.5 }).validity).toEqual({ valid: true, reasons: [], notes: [] });
  });

  it('an interrupted run and a run with no success are never valid', () => {
    const acc = new RunAccumulator(true);
    acc.add(record({ seq: 0, error: { type: 'connect', message: 'ECONNREFUSED' } }));
    const s = summarize(acc, identity, request, { scheduled: 3, partial: true });
    expect(s.validity.valid).toBe(false);
    expect(s.validity.reasons[0]).toContain('interrupted after sending 1 of 3');
    expect(s.validity.reasons[1]).toContain('No request succeeded (1 failed: 1 connect)');
  });

  it('too few successes because requests failed: blamed on the failures, not "run longer"', () => {
    const acc = new RunAccumulator(true);
    acc.add(record({ seq: 0 }));
    acc.add(record({ seq: 1, error: { type: 'timeout', message: 'stalled' } }));
    acc.add(record({ seq: 2, error: { type: 'timeout', message: 'stalled' } }));
    const s = summarize(acc, identity, { ...request, validity: { ...request.validity, minSuccesses: 3 } }, { scheduled: 3, partial: false });
    expect(s.validity.reasons[0]).toBe('Only 1 of 3 requests succeeded (2 failed: 2 timeout): a baseline needs at least 3 successes. See why they failed (the error messages listed with the run); a baseline needs a healthy target.');
    expect(s.validity.reasons.join('\n')).not.toContain('Run longer');
  });

  it('a runner that fell behind its schedule is caught by the achieved rate', () => {
    const acc = new RunAccumulator(true);
    // Scheduled 1 s apart, sent 1.2 s apart (each later one more late).
    for (let i = 0; i < 3; i++) acc.add(record({ seq: i, scheduledAt: 1000 * i, sentAt: 1200 * i, contentTimes: [1200 * i + 100], doneAt: 1200 * i + 101, outputTokens: { requested: 1, client: 1, server: 1 } }));
    const s = summarize(acc, identity, request, { scheduled: 3, partial: false });
    expect(s.load.stages[0]).toMatchObject({ scheduledRate: 1, achievedRate: 0.8333 });
    expect(s.validity.reasons.join('\n')).toContain('achieved rate was 0.83 req/s, 16.7 % off the scheduled 1 req/s');
  });
});

describe('LatencyHistogram', () => {
  it('percentiles stay within HDR precision (3 significant digits) of the exact values', () => {
    const d = LatencyHistogram.empty();
    const values = Array.from({ length: 10_000 }, (_, i) => 5 + (i % 1000) * 0.237);
    values.forEach((v) => d.recordMs(v));
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [50, 90, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
      expect(Math.abs(d.percentileMs(p) - exact) / exact).toBeLessThan(1e-3);
    }
    expect(d.stats().min).toBe(5);
    expect(d.stats().max).toBe(Math.round(sorted[sorted.length - 1]! * 1000) / 1000);
  });

  it('survives encode → decode unchanged', () => {
    const d = LatencyHistogram.empty();
    [1.5, 20, 20.001, 300].forEach((v) => d.recordMs(v));
    expect(LatencyHistogram.decode(d.encode()).stats()).toEqual(d.stats());
  });
});

describe('percentiles with too few samples', () => {
  it('a percentile needs at least one sample beyond it: p50 2, p90 10, p95 20, p99 100, p99.9 1,000', () => {
    expect([50, 90, 95, 99, 99.9].map(minSamples)).toEqual([2, 10, 20, 100, 1000]);
  });

  it('are marked insufficient in the stats (20 requests: p99 and p99.9 are their maximum, not percentiles)', () => {
    const h = LatencyHistogram.empty();
    for (let i = 1; i <= 20; i++) h.recordMs(i);
    expect(h.stats().insufficient).toEqual(['p99', 'p999']);
    for (let i = 21; i <= 100; i++) h.recordMs(i);
    expect(h.stats().insufficient).toEqual(['p999']);
  });
});
