import { describe, expect, it } from 'vitest';
import { parseNativeLine, recordTimeProblem } from '../../runtime/core/records/checks.ts';
import {
  inferencePerfSettings,
  InferencePerfConfig,
  InferencePerfLifecycle,
  lifecycleScheduleDelay,
  mapError,
  normalizeInferencePerfRecord,
} from '../../runtime/core/records/inference-perf.ts';
import { InputTally, inputReasons } from '../../runtime/core/records/input-report.ts';
import { nativeRecords } from '../../bench/support/generate.ts';

const good = nativeRecords({ requests: 1, tokens: 4 }).records[0]!;
const ctx = { runId: 'r', requestedInputTokens: 512, requestedOutputTokens: 4 };

describe('native record lines', () => {
  it('accepts a valid v1 record', () => {
    const res = parseNativeLine(JSON.stringify(good));
    expect(res.ok).toBe(true);
  });

  it.each([
    ['not JSON', '{"v":1,', /not JSON/],
    ['a wrong version', JSON.stringify({ ...good, v: 2 }), /not a v1 request record.*v/],
    ['a negative time', JSON.stringify({ ...good, scheduledAt: -5 }), /scheduledAt is negative/],
    ['done before sent', JSON.stringify({ ...good, doneAt: good.sentAt! - 1 }), /doneAt .* is before sentAt/],
    ['out-of-order content times', JSON.stringify({ ...good, contentTimes: [...good.contentTimes].reverse(), firstTokenAt: good.contentTimes.at(-1) }), /out of order/],
    ['first token not the first content time', JSON.stringify({ ...good, firstTokenAt: good.contentTimes[1] }), /differs from contentTimes\[0\]/],
    ['content after done', JSON.stringify({ ...good, doneAt: good.contentTimes.at(-1)! - 0.001 }), /after doneAt/],
  ])('rejects %s with a reason', (_name, line, reason) => {
    const res = parseNativeLine(line);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.problem).toMatch(reason);
  });

  it('rejects NaN and infinite times that bypass JSON (defence in depth)', () => {
    expect(recordTimeProblem({ ...good, sentAt: Number.NaN })).toMatch(/not a finite number/);
    expect(recordTimeProblem({ ...good, contentTimes: [Number.POSITIVE_INFINITY] , firstTokenAt: Number.POSITIVE_INFINITY})).toMatch(/not a finite number/);
  });
});

describe('inference-perf records', () => {
  const v06 = {
    start_time: 100.5,
    end_time: 101.75,
    request: '{"prompt":"…"}',
    response: 'data: …',
    info: {
      request_metrics: { text: { input_tokens: 512 }, image: null, video: null, audio: null },
      response_metrics: { output_tokens: 4, server_usage: { prompt_tokens: 512, completion_tokens: 4 }, response_chunks: ['a', 'b', 'c', 'd'], chunk_times: [100.6, 100.7, 100.8, 101.7], output_token_times: [100.6, 100.6, 100.7, 100.8, 101.7] },
      extra_info: {}, lora_adapter: null, labels: {}, input_tokens: 512,
    },
    error: null,
  };

  it('v0.6.x: perf_counter seconds → ms, content times from chunk_times, server usage kept', () => {
    const res = normalizeInferencePerfRecord(v06, 3, ctx);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const r = res.record;
    expect(r.seq).toBe(3);
    expect(r.scheduledAt).toBeNull();
    expect(r.sentAt).toBeCloseTo(100500, 6);
    expect(r.doneAt).toBeCloseTo(101750, 6);
    expect(r.contentTimes.map((t) => Math.round(t))).toEqual([100600, 100700, 100800, 101700]);
    expect(r.firstTokenAt).toBe(r.contentTimes[0]);
    expect(r.inputTokens).toEqual({ requested: 512, client: 512, server: 512 });
    expect(r.outputTokens).toEqual({ requested: 4, client: 4, server: 4 });
    expect(r.error).toBeNull();
  });

  it('v0.2.0: output_token_times at the top of info, no server usage', () => {
    const v02 = { start_time: 10, end_time: 11, request: '', response: '', info: { input_tokens: 512, output_tokens: 2, output_token_times: [10.1, 10.9] }, error: null };
    const res = normalizeInferencePerfRecord(v02, 0, ctx);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.record.contentTimes.map((t) => Math.round(t))).toEqual([10100, 10900]);
    expect(res.record.outputTokens).toEqual({ requested: 4, client: 2, server: null });
  });

  it('failures keep their type and message', () => {
    const failed = { ...v06, info: { ...v06.info, response_metrics: null }, error: { error_type: 'HTTP Error 503', error_msg: 'overloaded' } };
    const res = normalizeInferencePerfRecord(failed, 0, ctx);
    expect(res.ok && res.record.error).toEqual({ type: 'http_status', message: 'HTTP Error 503: overloaded' });
    expect(res.ok && res.record.status).toBe(503);
    expect(mapError('TimeoutError', '').type).toBe('timeout');
    expect(mapError('ClientConnectorError', 'Cannot connect to host').type).toBe('connect');
    expect(mapError('StreamInterruptedError', 'payload').type).toBe('aborted');
  });

  it('rejects elements without times, and impossible times, with a reason', () => {
    const a = normalizeInferencePerfRecord({ end_time: 1, info: null }, 0, ctx);
    expect(a.ok === false && a.problem).toMatch(/start_time/);
    const b = normalizeInferencePerfRecord({ ...v06, end_time: 99 }, 0, ctx);
    expect(b.ok === false && b.problem).toMatch(/before sentAt/);
    const c = normalizeInferencePerfRecord({ ...v06, start_time: -1 }, 0, ctx);
    expect(c.ok === false && c.problem).toMatch(/negative/);
  });

  it('summary percentiles (s) → schedule delay stats (ms)', () => {
    const l = InferencePerfLifecycle.parse({
      load_summary: { count: 300, schedule_delay: { mean: 0.001, min: 0, 'p0.1': 0, p1: 0, p5: 0, p10: 0, p25: 0, median: 0.0008, p75: 0, p90: 0.002, p95: 0.0025, p99: 0.004, 'p99.9': 0.0049, max: 0.005 } },
      successes: { count: 299 },
      failures: { count: 1 },
    });
    // 300 samples: p99 is supported (≥ 100), p99.9 is not (needs 1,000).
    expect(lifecycleScheduleDelay(l)).toEqual({ count: 300, mean: 1, min: 0, p50: 0.8, p90: 2, p95: 2.5, p99: 4, p999: 4.9, max: 5, insufficient: ['p999'] });
  });

  it('config: fixed token counts in both config generations, inference-perf defaults otherwise', () => {
    const v02 = inferencePerfSettings(InferencePerfConfig.parse({ data: { output_distribution: { min: 128, max: 128, mean: 128, std_dev: 0 } }, load: { stages: [{ rate: 1, duration: 300 }] } }));
    expect(v02).toMatchObject({ outputTokens: 128, streaming: false, api: 'completion', arrival: 'normalized-exponential', ignoreEos: true });
    const v06 = inferencePerfSettings(InferencePerfConfig.parse({ data: { output_distribution: { type: 'fixed', mean: 128 } }, load: { type: 'poisson', stages: [] } }));
    expect(v06).toMatchObject({ outputTokens: 128, arrival: 'poisson' });
    expect(inferencePerfSettings(InferencePerfConfig.parse({ data: { output_distribution: { min: 10, max: 1024, mean: 512, std_dev: 200 } } })).outputTokens).toBeNull();
  });
});

describe('input tally', () => {
  it('counts every problem, keeps the first 20, and turns them into actionable reasons', () => {
    const t = new InputTally('native');
    for (let i = 0; i < 25; i++) t.badRecord('requests/shard-0000-0000.ndjson.gz', `line ${i + 1}`, 'not JSON');
    t.badFile('requests/shard-0001-0000.ndjson.gz', 'unexpected end of file');
    const r = t.report();
    expect(r.badRecords).toBe(25);
    expect(r.badFiles).toBe(1);
    expect(r.problems).toHaveLength(20);
    expect(r.omittedProblems).toBe(6);
    const reasons = inputReasons(r);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/could not be read to the end/);
    expect(reasons[1]).toMatch(/25 request record\(s\).*line 1/);
  });
});
