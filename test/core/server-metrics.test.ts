import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { histogramQuantile, serverAccount, sumBounds, type ServerAccountInput } from '../../runtime/core/server-metrics/account.ts';
import { parseExposition, readHistogram, sumSamples, type Exposition } from '../../runtime/core/server-metrics/parse.ts';
import { counts, recognizeServer, serverMetricNames } from '../../runtime/core/server-metrics/servers.ts';
import { ServerAccount, type Scrape } from '../../runtime/core/summary/server-account.ts';

/**
 * The server-metrics accounting core on the servers' own expositions (test/fixtures/server-metrics,
 * README there: what each was written from) and on small hand-written ones. Every expected number is
 * worked out by hand from the fixtures; the comments show the arithmetic. Nothing here touches the
 * file system beyond reading the fixtures.
 */

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/server-metrics/${name}`, import.meta.url), 'utf8');
const vllmBefore = fixture('vllm-before.prom');
const vllmAfter = fixture('vllm-after.prom');
const sglangBefore = fixture('sglang-before.prom');
const sglangAfter = fixture('sglang-after.prom');
const tgiBefore = fixture('tgi-before.prom');
const tgiAfter = fixture('tgi-after.prom');

const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';
const QWEN = 'Qwen/Qwen2.5-7B-Instruct';
const A = 'http://10.0.1.17:8000/metrics';
const B = 'http://10.0.1.18:8000/metrics';

/** vLLM's /v1/models as FastAPI writes it (a metrics path set to the wrong route). */
const MODELS_JSON = `{"object":"list","data":[{"id":"meta-llama/Llama-3.1-8B-Instruct","object":"model","created":1736935600,"owned_by":"vllm","root":"meta-llama/Llama-3.1-8B-Instruct","parent":null,"max_model_len":8192}]}`;

/** 2025-01-15T10:00:00.000Z; scrapes are stamped at fixed offsets from it. */
const T0 = 1_736_935_200_000;
const MIN = 60_000;

const ok = (endpoint: string, phase: Scrape['phase'], at: number, text: string): Scrape => ({ endpoint, phase, at, text });
const failed = (endpoint: string, phase: Scrape['phase'], at: number, error: string): Scrape => ({ endpoint, phase, at, error });

/** serverAccount, its result checked against the summary's schema every time. */
function account(input: ServerAccountInput): ServerAccount {
  const result = serverAccount(input);
  const parsed = ServerAccount.safeParse(result);
  expect(parsed.success, parsed.success ? '' : parsed.error.message).toBe(true);
  return result;
}

function exposition(text: string): Exposition {
  const parsed = parseExposition(text);
  if (!parsed.ok) throw new Error(`does not parse: ${parsed.problem}`);
  return parsed.exposition;
}

// ---- small vLLM-shaped expositions for the cases the fixtures do not show ----

/** vLLM's time-to-first-token buckets (v1 loggers.py). */
const TTFT_BOUNDS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
/** The same histogram's buckets in vLLM's V0 engine (vllm/engine/metrics.py): a replica on an older release. */
const TTFT_BOUNDS_V0 = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

interface Series {
  model?: string;
  engine?: string;
  stop?: number;
  length?: number;
  abort?: number;
  /** Observations per bucket (upper bound → count, not cumulative; Infinity: above every bound) and their sum, seconds. */
  ttft?: { counts: Record<number, number>; sum: number };
}

/** `vllm:request_success_total` and `vllm:time_to_first_token_seconds` as prometheus_client writes them. */
function vllmText(series: readonly Series[], o: { start?: number; ttftBounds?: readonly number[] } = {}): string {
  const lines: string[] = [];
  if (o.start !== undefined) {
    lines.push('# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.', '# TYPE process_start_time_seconds gauge', `process_start_time_seconds ${o.start}`);
  }
  lines.push('# HELP vllm:request_success_total Count of successfully processed requests.', '# TYPE vllm:request_success_total counter');
  for (const s of series) {
    for (const reason of ['stop', 'length', 'abort'] as const) {
      lines.push(`vllm:request_success_total{engine="${s.engine ?? '0'}",finished_reason="${reason}",model_name="${s.model ?? LLAMA}"} ${(s[reason] ?? 0).toFixed(1)}`);
    }
  }
  const bounds = o.ttftBounds ?? TTFT_BOUNDS;
  lines.push('# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.', '# TYPE vllm:time_to_first_token_seconds histogram');
  for (const s of series) {
    if (!s.ttft) continue;
    const labels = (le?: string) => `{engine="${s.engine ?? '0'}",${le === undefined ? '' : `le="${le}",`}model_name="${s.model ?? LLAMA}"}`;
    for (const b of Object.keys(s.ttft.counts)) if (b !== 'Infinity' && !bounds.includes(Number(b))) throw new Error(`no bucket ${b}`);
    let acc = 0;
    for (const b of bounds) {
      acc += s.ttft.counts[b] ?? 0;
      lines.push(`vllm:time_to_first_token_seconds_bucket${labels(String(b))} ${acc.toFixed(1)}`);
    }
    acc += s.ttft.counts[Number.POSITIVE_INFINITY] ?? 0;
    lines.push(`vllm:time_to_first_token_seconds_bucket${labels('+Inf')} ${acc.toFixed(1)}`);
    lines.push(`vllm:time_to_first_token_seconds_count${labels()} ${acc.toFixed(1)}`);
    lines.push(`vllm:time_to_first_token_seconds_sum${labels()} ${s.ttft.sum}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What serverAccount says of a vLLM replica that shows only the time-to-first-token histogram (vllmText's). */
const onlyTtftNotes = (finished: number): string[] =>
  (
    [
      ['vllm:request_queue_time_seconds', 'queue'],
      ['vllm:request_prefill_time_seconds', 'prefill'],
      ['vllm:request_decode_time_seconds', 'decode'],
      ['vllm:e2e_request_latency_seconds', 'e2e'],
    ] as const
  ).map(([metric, name]) => `${metric} was in no replica's exposition although they finished ${finished} requests: this vLLM version may not expose it, so ${name} is null`);

/** The fixture's vLLM replica scraped before, once during and after the load. */
const vllmReplica = (endpoint: string): Scrape[] => [
  ok(endpoint, 'before', T0, vllmBefore),
  ok(endpoint, 'during', T0 + 2 * MIN, vllmBefore),
  ok(endpoint, 'after', T0 + 5 * MIN, vllmAfter),
];

// The fixtures' deltas, worked out by hand (test/fixtures/server-metrics/README.md lists them too).
// vLLM, engines 0 + 1: stop 80 + 81, length 18 + 17, abort 4 + 0 → 196 finished (200 with abort).
const VLLM_TTFT = { count: 200, p50: 70, p90: 175, p99: 625, bounds: { p50: [60, 80], p90: [100, 250], p99: [500, 750] }, metric: 'vllm:time_to_first_token_seconds' };
const VLLM_E2E = { count: 200, p50: 1250, p90: 2250, p99: 7500, bounds: { p50: [1000, 1500], p90: [2000, 2500], p99: [5000, 10000] }, metric: 'vllm:e2e_request_latency_seconds' };
const VLLM_QUEUE = { count: 200, p50: 0.792079207921, p90: 3.80952380952, p99: 26.6666666667, bounds: { p50: [0, 0.792079207921], p90: [0, 3.80952380952], p99: [0, 26.6666666667] }, metric: 'vllm:request_queue_time_seconds' };
const VLLM_PREFILL = { count: 200, p50: 138.613861386, p90: 281.25, p99: 450, bounds: { p50: [0, 138.613861386], p90: [35.5555555556, 300], p99: [300, 500] }, metric: 'vllm:request_prefill_time_seconds' };
const VLLM_DECODE = { count: 200, p50: 1187.5, p90: 1875, p99: 2500, bounds: { p50: [1000, 1500], p90: [1500, 2000], p99: [2000, 2500] }, metric: 'vllm:request_decode_time_seconds' };

describe('parseExposition and the readings made of it', () => {
  it("reads vLLM's exposition: labelled histograms by label set, _count and _sum kept, prometheus_client's exponent numbers", () => {
    const e = exposition(vllmAfter);
    expect(recognizeServer(e)).toBe('vllm');
    // Families are named from HELP/TYPE lines as well as samples.
    expect(e.names.has('vllm:time_to_first_token_seconds')).toBe(true);
    expect(e.names.has('vllm:time_to_first_token_seconds_bucket')).toBe(true);
    // floatToGoString: "3.37251328e+010", "1.73693552631e+09".
    expect(sumSamples(e, 'process_virtual_memory_bytes')).toBe(33_725_132_800);
    expect(sumSamples(e, 'process_start_time_seconds')).toBe(1_736_935_526.31);
    // request_success: stop 200 + 199, length 48 + 45, abort 8 + 3.
    expect(sumSamples(e, 'vllm:request_success_total')).toBe(503);
    expect(sumSamples(e, 'vllm:request_success_total', (l) => counts(serverMetricNames.vllm.finished, l))).toBe(492);
    expect(sumSamples(e, 'vllm:request_success_total', (l) => l.engine === '1' && counts(serverMetricNames.vllm.finished, l))).toBe(244);
    expect(sumSamples(e, 'vllm:no_such_metric')).toBeNull();

    const ttft = readHistogram(e, 'vllm:time_to_first_token_seconds');
    expect(ttft?.bounds).toEqual(TTFT_BOUNDS);
    // Both engines' buckets added: ≤ 0.04 s 13 + 12, …, every observation 256 + 247.
    expect(ttft?.cumulative[4]).toBe(25);
    expect(ttft?.cumulative.at(-1)).toBe(503);
    // The labelled _count and _sum lines the library would drop for a typed histogram are read.
    expect(ttft?.count).toBe(503);
    expect(ttft?.sum).toBeCloseTo(27.1 + 23.9, 9);
    const engine1 = readHistogram(e, 'vllm:time_to_first_token_seconds', (l) => l.engine === '1');
    expect(engine1?.count).toBe(247);
    expect(engine1?.sum).toBeCloseTo(23.9, 9);
    expect(readHistogram(e, 'vllm:no_such_histogram')).toBeNull();
  });

  it("reads SGLang's multiprocess exposition, its queue-time buckets starting at le=\"0.0\"", () => {
    const e = exposition(sglangAfter);
    expect(recognizeServer(e)).toBe('sglang');
    expect(sumSamples(e, 'sglang:num_requests_total')).toBe(340);
    expect(sumSamples(e, 'sglang:cached_tokens_total')).toBe(50_688);
    // A gauge in multiprocess mode "all" carries its process's pid: one more label set, read like any other.
    expect(e.samples.get('sglang:num_retracted_reqs')?.[0]?.labels.pid).toBe('2817');
    const queue = readHistogram(e, 'sglang:queue_time_seconds');
    expect(queue?.bounds.slice(0, 4)).toEqual([0, 0.1, 0.2, 0.5]);
    expect(queue?.cumulative.slice(0, 4)).toEqual([0, 288, 330, 340]);
    expect(queue?.count).toBe(340);
    expect(queue?.sum).toBeCloseTo(20.94, 9);
  });

  it("reads TGI's metrics-rs exposition: bare counter names, a family with no HELP, 35 geometric buckets", () => {
    const e = exposition(tgiAfter);
    expect(recognizeServer(e)).toBe('tgi');
    expect(sumSamples(e, 'tgi_request_success')).toBe(265);
    expect(sumSamples(e, 'tgi_request_failure')).toBe(2);
    const duration = readHistogram(e, 'tgi_request_duration');
    expect(duration?.bounds).toHaveLength(35);
    // 0.0001 · 1.5, as the router's loop computes it and Rust prints it ("0.00015000000000000001").
    expect(duration?.bounds[0]).toBe(0.0001 * 1.5);
    expect(duration?.count).toBe(265);
    expect(duration?.sum).toBe(497.3);
    const forward = readHistogram(e, 'tgi_batch_forward_duration', (l) => l.method === 'prefill');
    expect(forward?.count).toBe(210);
  });

  it('reads a histogram with no +Inf bucket as none', () => {
    const e = exposition('# TYPE h histogram\nh_bucket{le="1.0"} 2.0\nh_count 2.0\nh_sum 1.0\n');
    expect(readHistogram(e, 'h')).toBeNull();
  });

  it('takes an HTML error page, a JSON body or other non-exposition text as a problem, never a throw', () => {
    const html = '<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n';
    const htmlRead = parseExposition(html);
    expect(htmlRead.ok).toBe(false);
    expect(htmlRead.ok ? '' : htmlRead.problem).toContain('<html>');
    expect(parseExposition('<!DOCTYPE html>\n<html lang="en">\n').ok).toBe(false);
    // FastAPI writes JSON without spaces: the library reads such a line as a sample with no name, then
    // drops it (a space inside a string makes it throw instead, as on FastAPI's 404 body).
    const json = parseExposition(`${MODELS_JSON}\n`);
    expect(json.ok).toBe(false);
    expect(json.ok ? '' : json.problem).toBe(`a line with no metric name: ${JSON.stringify(MODELS_JSON.slice(0, 80))}`);
    expect(parseExposition(MODELS_JSON).ok).toBe(false);
    expect(parseExposition('{}\n').ok).toBe(false);
    expect(parseExposition('{"detail":"Not Found"}\n').ok).toBe(false);
    expect(parseExposition('vllm:num_requests_running{engine="0" 1.0\n').ok).toBe(false);
    expect(parseExposition('vllm:num_requests_running{engine="0"}\n').ok).toBe(false);
  });

  it('reads an empty body as an exposition of nothing, of no server', () => {
    const e = exposition('');
    expect(e.samples.size).toBe(0);
    expect(recognizeServer(e)).toBeNull();
  });

  it('does not read a last line that has no line feed (a body cut off mid-line), never a partial number', () => {
    // The text format ends every line with "\n"; a body cut short ends without one.
    const e = exposition('tgi_request_count 267\ntgi_request_success 26');
    expect(sumSamples(e, 'tgi_request_count')).toBe(267);
    expect(sumSamples(e, 'tgi_request_success')).toBeNull();
  });
});

describe('servers', () => {
  it('recognises the server whose own names the exposition shows most of', () => {
    expect(recognizeServer(exposition('process_start_time_seconds 1.7e+09\npython_info{version="3.12.11"} 1.0\n'))).toBeNull();
    expect(recognizeServer(exposition('vllm:num_requests_running 0.0\nsglang:num_running_reqs 0.0\nsglang:num_queue_reqs 0.0\n'))).toBe('sglang');
  });

  it("counts vLLM's finished requests but those aborted, and a series without the label", () => {
    const finished = serverMetricNames.vllm.finished;
    expect(counts(finished, { finished_reason: 'stop' })).toBe(true);
    expect(counts(finished, { finished_reason: 'length' })).toBe(true);
    expect(counts(finished, { finished_reason: 'abort' })).toBe(false);
    expect(counts(finished, {})).toBe(true);
    expect(counts(serverMetricNames.sglang.finished, { finished_reason: 'abort' })).toBe(true);
  });
});

describe('histogramQuantile (Prometheus histogram_quantile on one classic histogram)', () => {
  it('interpolates a rank in the first bucket from 0', () => {
    // 4 observations ≤ 1, 4 more ≤ 2: q 0.25 → rank 2 of 8, halfway through [0, 1].
    expect(histogramQuantile(0.25, [1, 2, 4], [4, 8, 8, 8])).toEqual({ value: 0.5, bucket: [0, 1] });
  });

  it('takes the first bucket whose cumulative count reaches the rank, and interpolates inside it', () => {
    // rank 5 = the first bucket's count: its upper bound, not the next bucket's start.
    expect(histogramQuantile(0.5, [1, 2], [5, 10, 10])).toEqual({ value: 1, bucket: [0, 1] });
    // rank 7.5: 2.5 of the 5 observations in (1, 2].
    expect(histogramQuantile(0.75, [1, 2], [5, 10, 10])).toEqual({ value: 1.5, bucket: [1, 2] });
  });

  it('gives the highest finite bound for a rank in the +Inf bucket', () => {
    expect(histogramQuantile(0.5, [1, 2], [1, 2, 10])).toEqual({ value: 2, bucket: [2, null] });
  });

  it('gives a first bucket bound ≤ 0 itself (SGLang\'s le="0.0")', () => {
    expect(histogramQuantile(0.3, [0, 0.1], [5, 10, 10])).toEqual({ value: 0, bucket: [0, 0] });
  });

  it('raises cumulative counts that go down across buckets first', () => {
    // [2, 1, 6, 6] → [2, 2, 6, 6]: rank 3 falls in (2, 3] with 2 below: 2 + 1·(1/4). Unraised it would be 2 + (3 − 1)/(6 − 1) = 2.4.
    expect(histogramQuantile(0.5, [1, 2, 3], [2, 1, 6, 6])).toEqual({ value: 2.25, bucket: [2, 3] });
  });

  it('is null with no observation, no finite bucket, mismatched counts or q outside [0, 1]', () => {
    expect(histogramQuantile(0.5, [1, 2], [0, 0, 0])).toBeNull();
    expect(histogramQuantile(0.5, [], [3])).toBeNull();
    expect(histogramQuantile(0.5, [1, 2], [1, 2])).toBeNull();
    expect(histogramQuantile(1.5, [1, 2], [1, 2, 2])).toBeNull();
    expect(histogramQuantile(-0.1, [1, 2], [1, 2, 2])).toBeNull();
    expect(histogramQuantile(Number.NaN, [1, 2], [1, 2, 2])).toBeNull();
  });
});

describe('serverAccount on each server', () => {
  it('vLLM: the delta of both engines, aborts left out, every distribution, the queue bounded by its sum', () => {
    const result = account({ scrapes: vllmReplica(A), ours: 190, model: LLAMA });
    expect(result.scraped).toEqual({ endpoints: [A], scrapes: 3, failed: 0, complete: true });
    // 196 finished; 200 with the 4 aborted on engine 0.
    expect(result.requests).toEqual({ ours: 190, seen: 196, foreign: 6, replicas: [{ endpoint: A, seen: 196, reset: false, server: 'vllm' }] });
    // queried 102·512 + 98·512 = 102400 tokens; hits 20992 + 19968 = 40960.
    expect(result.prefixCache).toEqual({ queries: 102_400, hits: 40_960, hitRate: 0.4 });
    // ttft Δ cumulative ≤0.04 10, ≤0.06 50, ≤0.08 150, ≤0.1 170, ≤0.25 190, ≤0.5 196, ≤0.75 200:
    // p50 rank 100 → 0.06 + 0.02·(50/100); p90 rank 180 → 0.1 + 0.15·(10/20); p99 rank 198 → 0.5 + 0.25·(2/4).
    expect(result.ttft).toEqual(VLLM_TTFT);
    // e2e Δ ≤0.8 20, ≤1.0 60, ≤1.5 140, ≤2.0 170, ≤2.5 190, ≤5.0 196, ≤10.0 200:
    // p50 1.0 + 0.5·(40/80); p90 2.0 + 0.5·(10/20); p99 5.0 + 5.0·(2/4).
    expect(result.e2e).toEqual(VLLM_E2E);
    // queue: all 200 in the first bucket [0, 0.3] s with Σ 0.08 s — mean 0.4 ms. Interpolation alone
    // would say p50 150 ms, p90 270 ms, p99 297 ms; the sum bounds x(r) by Σ / (n − r + 1): 0.08/101,
    // 0.08/21, 0.08/3 s (sumBounds; the buckets below start at 0, so nothing is taken off).
    expect(result.queue).toEqual(VLLM_QUEUE);
    // prefill: 192 ≤ 0.3 s, 8 ≤ 0.5 s, Σ 14 s (mean 70 ms): p50 0.15625 s cut to 14/101; p90 0.3·180/192,
    // at least (14 − 12·0.3 − 8·0.5)/180 (the 20 above it at most their buckets' tops); p99 0.3 + 0.2·(6/8).
    expect(result.prefill).toEqual(VLLM_PREFILL);
    // decode Δ ≤0.8 30, ≤1.0 70, ≤1.5 150, ≤2.0 190, ≤2.5 198, ≤5.0 200:
    // p50 1.0 + 0.5·(30/80); p90 1.5 + 0.5·(30/40); p99 2.0 + 0.5·(8/8).
    expect(result.decode).toEqual(VLLM_DECODE);
    expect(result.notes).toEqual([]);
  });

  it('vLLM without the model given: the same account (its only model is counted whole)', () => {
    const result = account({ scrapes: vllmReplica(A), ours: 190 });
    expect(result.requests.seen).toBe(196);
    expect(result.ttft).toEqual(VLLM_TTFT);
    expect(result.notes).toEqual([]);
  });

  it('SGLang: num_requests delta, the prefix cache from cached/prompt tokens, no prefill or decode histogram', () => {
    const scrapes = [ok(A, 'before', T0, sglangBefore), ok(A, 'after', T0 + 5 * MIN, sglangAfter)];
    const result = account({ scrapes, ours: 300, model: QWEN });
    expect(result.scraped).toEqual({ endpoints: [A], scrapes: 2, failed: 0, complete: true });
    expect(result.requests).toEqual({ ours: 300, seen: 300, foreign: 0, replicas: [{ endpoint: A, seen: 300, reset: false, server: 'sglang' }] });
    // prompt tokens 174080 − 20480 = 153600; cached 50688 − 4608 = 46080.
    expect(result.prefixCache).toEqual({ queries: 153_600, hits: 46_080, hitRate: 0.3 });
    // ttft Δ ≤0.1 60, ≤0.2 120, ≤0.4 240, ≤0.6 270, ≤0.8 288, ≤1 294, ≤2 300:
    // p50 0.2 + 0.2·(30/120); p90 0.4 + 0.2·(30/30); p99 1 + 1·(3/6).
    expect(result.ttft).toEqual({ count: 300, p50: 250, p90: 600, p99: 1500, bounds: { p50: [200, 400], p90: [400, 600], p99: [1000, 2000] }, metric: 'sglang:time_to_first_token_seconds' });
    // queue Δ ≤0.0 0, ≤0.1 250, ≤0.2 290, ≤0.5 300 (mean 65 ms, no cap reached):
    // p50 0 + 0.1·(150/250); p90 0.1 + 0.1·(20/40); p99 0.2 + 0.3·(7/10).
    expect(result.queue).toEqual({ count: 300, p50: 60, p90: 150, p99: 410, bounds: { p50: [0, 100], p90: [100, 200], p99: [200, 500] }, metric: 'sglang:queue_time_seconds' });
    // e2e Δ ≤1 15, ≤2 90, ≤4 240, ≤6 270, ≤8 294, ≤10 300: p50 2 + 2·(60/150); p90 4 + 2·(30/30); p99 8 + 2·(3/6).
    expect(result.e2e).toEqual({ count: 300, p50: 2800, p90: 6000, p99: 9000, bounds: { p50: [2000, 4000], p90: [4000, 6000], p99: [8000, 10000] }, metric: 'sglang:e2e_request_latency_seconds' });
    expect(result.prefill).toBeNull();
    expect(result.decode).toBeNull();
    expect(result.notes).toEqual(['SGLang has no per-request histogram for prefill, decode: those server-side distributions are null']);
  });

  it('TGI: tgi_request_success delta, no ttft nor prefix cache, each said; the model name is not filtered on', () => {
    const scrapes = [ok(A, 'before', T0, tgiBefore), ok(A, 'during', T0 + MIN, tgiBefore), ok(A, 'after', T0 + 5 * MIN, tgiAfter)];
    const result = account({ scrapes, ours: 240, model: LLAMA });
    expect(result.requests).toEqual({ ours: 240, seen: 240, foreign: 0, replicas: [{ endpoint: A, seen: 240, reset: false, server: 'tgi' }] });
    expect(result.ttft).toBeNull();
    expect(result.prefixCache).toBeNull();
    expect(result.prefill).toBeNull();
    expect(result.decode).toBeNull();
    // tgi_request_duration Δ, bucket k = 0.0001·1.5^k s: ≤k23 24, ≤k24 120, ≤k25 216, ≤k26 235, ≤k27 240.
    // p50 rank 120 and p90 rank 216 end exactly on k24 and k25; p99 rank 237.6 → k26 + (k27 − k26)·(2.6/5).
    expect(result.e2e).toEqual({
      count: 240,
      p50: 1683.4112196,
      p90: 2525.1168294,
      p99: 4772.47080757,
      bounds: { p50: [1122.2741464, 1683.4112196], p90: [1683.4112196, 2525.1168294], p99: [3787.67524411, 5681.51286616] },
      metric: 'tgi_request_duration',
    });
    // tgi_request_queue_duration Δ: ≤k3 60, ≤k4 180, ≤k5 228, ≤k6 238, ≤k7 240:
    // p50 k3 + (k4 − k3)·(60/120); p90 k4 + (k5 − k4)·(36/48); p99 k5 + (k6 − k5)·(9.6/10).
    expect(result.queue).toEqual({
      count: 240,
      p50: 0.421875,
      p90: 0.69609375,
      p99: 1.123875,
      bounds: { p50: [0.3375, 0.50625], p90: [0.50625, 0.759375], p99: [0.759375, 1.1390625] },
      metric: 'tgi_request_queue_duration',
    });
    expect(result.notes).toEqual(['TGI has no per-request histogram for ttft, prefill, decode: those server-side distributions are null', 'TGI exposes no prefix-cache counters: prefixCache is null']);
  });

  it('says so when the server finished fewer requests than the run counts as its own', () => {
    const result = account({ scrapes: vllmReplica(A), ours: 250 });
    expect(result.requests.seen).toBe(196);
    expect(result.requests.foreign).toBe(-54);
    expect(result.notes).toEqual([
      'the replicas finished 196 requests over the run, fewer than its 250 successes: the server\'s count and the run\'s disagree ' +
        '(a replica that was not scraped, a counter that misses some requests, or series the model filter left out), so foreign is -54, not a count of other load',
    ]);
  });

  it("reads vLLM's prefix cache from its pre-0.9 counter names when the new ones are not there", () => {
    const old = (text: string) =>
      text
        .split('\n')
        .filter((l) => !/^(# (HELP|TYPE) )?vllm:prefix_cache_/.test(l))
        .join('\n');
    const result = account({ scrapes: [ok(A, 'before', T0, old(vllmBefore)), ok(A, 'after', T0 + 5 * MIN, old(vllmAfter))], ours: 196 });
    expect(result.prefixCache).toEqual({ queries: 102_400, hits: 40_960, hitRate: 0.4 });
  });
});

describe("what the histogram's _sum proves about a quantile (sumBounds)", () => {
  it('bounds a quantile in the +Inf bucket from above instead of leaving it open', () => {
    // A V0 replica (buckets up to 10 s) whose 4 observations all took longer: Σ 60 s.
    const before = vllmText([{ stop: 0, ttft: { counts: {}, sum: 0 } }], { ttftBounds: TTFT_BOUNDS_V0 });
    const after = vllmText([{ stop: 4, ttft: { counts: { [Number.POSITIVE_INFINITY]: 4 }, sum: 60 } }], { ttftBounds: TTFT_BOUNDS_V0 });
    const result = account({ scrapes: [ok(A, 'before', T0, before), ok(A, 'after', T0 + MIN, after)], ours: 4 });
    // Each rank is in +Inf, where Prometheus gives the highest bound, 10 s. p50 is x(2): the one below
    // it is at least 10 s, so x(2) ≤ (60 − 10)/3 s. p90 and p99 are x(4), the largest: at most
    // 60 − 3·10 s, and at least the mean, 15 s, so the 10 s is raised to it.
    expect(result.ttft).toEqual({ count: 4, p50: 10_000, p90: 15_000, p99: 15_000, bounds: { p50: [10_000, 16_666.6666667], p90: [15_000, 30_000], p99: [15_000, 30_000] }, metric: 'vllm:time_to_first_token_seconds' });
  });

  it('narrows a tight distribution inside its bucket from both sides', () => {
    // 10 observations in (0.06, 0.08], Σ 0.7 s.
    const before = vllmText([{ stop: 0, ttft: { counts: {}, sum: 0 } }]);
    const after = vllmText([{ stop: 10, ttft: { counts: { 0.08: 10 }, sum: 0.7 } }]);
    const result = account({ scrapes: [ok(A, 'before', T0, before), ok(A, 'after', T0 + MIN, after)], ours: 10 });
    // p50 = x(5): ≤ (0.7 − 4·0.06)/6, ≥ (0.7 − 5·0.08)/5; p90 = x(9): ≥ (0.7 − 0.08)/9; p99 = x(10) ≥ 0.7/10.
    // The interpolations 0.07, 0.078, 0.0798 s are within them.
    expect(result.ttft?.p50).toBe(70);
    expect(result.ttft?.p90).toBe(78);
    expect(result.ttft?.p99).toBe(79.8);
    expect(result.ttft?.bounds).toEqual({ p50: [60, 76.6666666667], p90: [68.8888888889, 80], p99: [70, 80] });
  });

  it('moves an interpolation the sum rules out: ten TTFTs of 39.9 ms in a 20–40 ms bucket are not "p50 30 ms"', () => {
    const before = vllmText([{ stop: 0, ttft: { counts: {}, sum: 0 } }]);
    const after = vllmText([{ stop: 10, ttft: { counts: { 0.04: 10 }, sum: 0.399 } }]);
    const result = account({ scrapes: [ok(A, 'before', T0, before), ok(A, 'after', T0 + MIN, after)], ours: 10 });
    // x(5) ≥ (0.399 − 5·0.04)/5 = 39.8 ms; the interpolation, 30 ms, is raised to it.
    expect(result.ttft?.p50).toBe(39.8);
    expect(result.ttft?.bounds.p50).toEqual([39.8, 40]);
  });

  it('sumBounds on its own: the order statistic, both inequalities, and null where they do not hold', () => {
    // 2 in [0, 1], 2 in (1, 2], Σ 5: x(2) ≤ (5 − 0)/3, ≥ (5 − 2·2)/2.
    expect(sumBounds(0.5, [1, 2], [2, 4, 4], 5)).toEqual([0.5, 5 / 3]);
    expect(sumBounds(0.5, [1, 2], [2.5, 4, 4], 5)).toBeNull();
    // A first bucket not starting at 0 (SGLang's le="0.0"): no lower end for it, no bound.
    expect(sumBounds(0.5, [0, 1], [0, 4, 4], 2)).toBeNull();
  });
});

describe('counter resets', () => {
  const reset = (endpoint: string, server: string) => ({ endpoint, seen: null, reset: true, server });

  it('a counter that goes down between the before and a during scrape: seen null, reset, a note, nothing subtracted', () => {
    // TGI restarted after the before scrape: its counter starts again from 0.
    const restarted = '# HELP tgi_request_success Number of successful requests\n# TYPE tgi_request_success counter\ntgi_request_success 3\n\n';
    const scrapes = [ok(A, 'before', T0, tgiBefore), ok(A, 'during', T0 + 2 * MIN, restarted), ok(A, 'after', T0 + 5 * MIN, tgiAfter)];
    const result = account({ scrapes, ours: 240 });
    expect(result.scraped).toEqual({ endpoints: [A], scrapes: 3, failed: 0, complete: true });
    expect(result.requests).toEqual({ ours: 240, seen: null, foreign: null, replicas: [reset(A, 'tgi')] });
    expect(result.e2e).toBeNull();
    expect(result.queue).toBeNull();
    expect(result.notes).toEqual([
      `${A} restarted during the run (tgi_request_success went down from 25 to 3 between the before scrape at 2025-01-15T10:00:00.000Z and the during one at 2025-01-15T10:02:00.000Z): its counts are not used`,
      'TGI has no per-request histogram for ttft, prefill, decode: those server-side distributions are null',
      'TGI exposes no prefix-cache counters: prefixCache is null',
    ]);
  });

  it('a counter lower after than before (no during scrape): the same, never a negative count', () => {
    const scrapes = [ok(A, 'before', T0, vllmAfter), ok(A, 'after', T0 + 5 * MIN, vllmBefore)];
    const result = account({ scrapes, ours: 10 });
    expect(result.requests).toEqual({ ours: 10, seen: null, foreign: null, replicas: [reset(A, 'vllm')] });
    expect(result.prefixCache).toBeNull();
    for (const name of ['ttft', 'queue', 'prefill', 'decode', 'e2e'] as const) expect(result[name]).toBeNull();
    // 492 finished (aborts left out) before, 296 after.
    expect(result.notes).toEqual([
      `${A} restarted during the run (vllm:request_success_total went down from 492 to 296 between the before scrape at 2025-01-15T10:00:00.000Z and the after one at 2025-01-15T10:05:00.000Z): its counts are not used`,
    ]);
  });

  it("process_start_time_seconds changing is a restart even when every counter climbed past its value", () => {
    const later = vllmAfter.replace('process_start_time_seconds 1.73693552631e+09', 'process_start_time_seconds 1.7369370125e+09');
    expect(later).not.toBe(vllmAfter);
    const result = account({ scrapes: [ok(A, 'before', T0, vllmBefore), ok(A, 'after', T0 + 5 * MIN, later)], ours: 196 });
    expect(result.requests.seen).toBeNull();
    expect(result.requests.replicas).toEqual([reset(A, 'vllm')]);
    expect(result.notes).toEqual([
      `${A} restarted during the run (process_start_time_seconds changed from 1736935526.31 to 1736937012.5 between the before scrape at 2025-01-15T10:00:00.000Z and the after one at 2025-01-15T10:05:00.000Z): its counts are not used`,
    ]);
  });

  it("one replica's reset leaves the total unknown and takes only the other's histograms", () => {
    const scrapes = [...vllmReplica(A), ok(B, 'before', T0, vllmAfter), ok(B, 'after', T0 + 5 * MIN, vllmBefore)];
    const result = account({ scrapes, ours: 196 });
    expect(result.scraped.complete).toBe(true);
    expect(result.requests).toEqual({ ours: 196, seen: null, foreign: null, replicas: [{ endpoint: A, seen: 196, reset: false, server: 'vllm' }, reset(B, 'vllm')] });
    expect(result.ttft).toEqual(VLLM_TTFT);
    expect(result.prefixCache).toEqual({ queries: 102_400, hits: 40_960, hitRate: 0.4 });
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toContain(`${B} restarted during the run`);
  });
});

describe('endpoints that could not be read', () => {
  it('an unreachable replica: incomplete, its seen null, a note naming it, the other replica still read', () => {
    const scrapes = [
      ...vllmReplica(A),
      failed(B, 'before', T0, 'UND_ERR_CONNECT_TIMEOUT: Connect Timeout Error'),
      failed(B, 'during', T0 + 2 * MIN, 'ECONNREFUSED: connect ECONNREFUSED 10.0.1.18:8000'),
      failed(B, 'after', T0 + 5 * MIN, 'ECONNREFUSED: connect ECONNREFUSED 10.0.1.18:8000'),
    ];
    const result = account({ scrapes, ours: 196 });
    expect(result.scraped).toEqual({ endpoints: [A, B], scrapes: 6, failed: 3, complete: false });
    expect(result.requests).toEqual({
      ours: 196,
      seen: null,
      foreign: null,
      replicas: [
        { endpoint: A, seen: 196, reset: false, server: 'vllm' },
        { endpoint: B, seen: null, reset: false, server: null },
      ],
    });
    expect(result.ttft).toEqual(VLLM_TTFT);
    expect(result.notes).toEqual([
      `could not scrape ${B} before the run: UND_ERR_CONNECT_TIMEOUT: Connect Timeout Error: the run could not check for foreign load on that replica`,
      `could not scrape ${B} after the run: ECONNREFUSED: connect ECONNREFUSED 10.0.1.18:8000: the run could not check for foreign load on that replica`,
      `1 of 1 scrapes of ${B} during the run failed (ECONNREFUSED: connect ECONNREFUSED 10.0.1.18:8000)`,
    ]);
  });

  it('no after scrape (an interrupted run): incomplete, seen null, a note, no throw', () => {
    const scrapes = [ok(A, 'before', T0, vllmBefore), ok(A, 'during', T0 + 2 * MIN, vllmAfter)];
    const result = account({ scrapes, ours: 100 });
    expect(result.scraped).toEqual({ endpoints: [A], scrapes: 2, failed: 0, complete: false });
    expect(result.requests).toEqual({ ours: 100, seen: null, foreign: null, replicas: [{ endpoint: A, seen: null, reset: false, server: 'vllm' }] });
    expect(result.ttft).toBeNull();
    expect(result.notes).toEqual([`could not scrape ${A} after the run: no scrape was made: the run could not check for foreign load on that replica`]);
  });

  it('an HTML page in place of the exposition is a failed scrape with a note, not a crash', () => {
    const page = '<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n</body>\n</html>\n';
    const scrapes = [ok(A, 'before', T0, vllmBefore), ok(A, 'after', T0 + 5 * MIN, page)];
    const result = account({ scrapes, ours: 196 });
    expect(result.scraped).toEqual({ endpoints: [A], scrapes: 2, failed: 1, complete: false });
    expect(result.requests.seen).toBeNull();
    expect(result.requests.replicas).toEqual([{ endpoint: A, seen: null, reset: false, server: 'vllm' }]);
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toMatch(new RegExp(`^could not scrape ${A} after the run: not a Prometheus exposition \\(.*<html>.*\\): the run could not check for foreign load on that replica$`));
  });

  it('a JSON body in place of the before exposition is a failed scrape, not a count from zero', () => {
    // Were it read as an empty exposition, it would be the first usable before scrape: every counter
    // would start from 0 and seen would be 492.
    const scrapes = [ok(A, 'before', T0, `${MODELS_JSON}\n`), ok(A, 'before', T0 + 1, vllmBefore), ok(A, 'after', T0 + 5 * MIN, vllmAfter)];
    const result = account({ scrapes, ours: 196 });
    expect(result.scraped).toEqual({ endpoints: [A], scrapes: 3, failed: 1, complete: true });
    expect(result.requests.seen).toBe(196);
  });

  it('an endpoint answering with no known server is counted as none, and said', () => {
    const other = '# HELP http_requests_total Total requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 1027.0\n';
    const result = account({ scrapes: [ok(A, 'before', T0, other), ok(A, 'after', T0 + MIN, other)], ours: 5 });
    expect(result.scraped.complete).toBe(false);
    expect(result.requests.replicas).toEqual([{ endpoint: A, seen: null, reset: false, server: null }]);
    expect(result.notes).toEqual([`${A} answered with no metric of a known server (vLLM, SGLang, TGI): its requests were not counted`]);
  });

  it('no scrape at all', () => {
    const result = account({ scrapes: [], ours: 5 });
    expect(result.scraped).toEqual({ endpoints: [], scrapes: 0, failed: 0, complete: false });
    expect(result.requests).toEqual({ ours: 5, seen: null, foreign: null, replicas: [] });
    expect(result.notes).toEqual(['no metrics endpoint was scraped: the run could not check for foreign load']);
  });
});

describe('several replicas', () => {
  /** A second vLLM replica: 100 requests finished, every first token in (0.1, 0.25] s, Σ 17.5 s. */
  const second = [
    ok(B, 'before', T0 + 1, vllmText([{ stop: 0, ttft: { counts: {}, sum: 0 } }])),
    ok(B, 'after', T0 + 5 * MIN + 1, vllmText([{ stop: 100, ttft: { counts: { 0.25: 100 }, sum: 17.5 } }])),
  ];

  it("sums the replicas' deltas, keeps each replica's count, and adds their histograms bucket by bucket", () => {
    const result = account({ scrapes: [...vllmReplica(A), ...second], ours: 290, model: LLAMA });
    expect(result.scraped).toEqual({ endpoints: [A, B], scrapes: 5, failed: 0, complete: true });
    expect(result.requests).toEqual({
      ours: 290,
      seen: 296,
      foreign: 6,
      replicas: [
        { endpoint: A, seen: 196, reset: false, server: 'vllm' },
        { endpoint: B, seen: 100, reset: false, server: 'vllm' },
      ],
    });
    // Cumulative ≤0.04 10, ≤0.06 50, ≤0.08 150, ≤0.1 170, ≤0.25 190 + 100, ≤0.5 296, ≤0.75 300:
    // p50 rank 150 → 0.08 (= 0.06 + 0.02·100/100); p90 rank 270 → 0.1 + 0.15·(100/120); p99 rank 297 → 0.5 + 0.25·(1/4).
    // (Averaging the replicas' own p90s, 175 and 235 ms, would give 205.)
    expect(result.ttft).toEqual({ count: 300, p50: 80, p90: 225, p99: 562.5, bounds: { p50: [60, 80], p90: [100, 250], p99: [500, 750] }, metric: 'vllm:time_to_first_token_seconds' });
    // B has no other histogram: A's alone.
    expect(result.e2e).toEqual(VLLM_E2E);
    // B has no prefix-cache counters: A's alone.
    expect(result.prefixCache).toEqual({ queries: 102_400, hits: 40_960, hitRate: 0.4 });
    expect(result.notes).toEqual([]);
  });

  it('gives no distribution for replicas whose buckets differ, and says why', () => {
    const v0 = [
      ok(B, 'before', T0 + 1, vllmText([{ stop: 0, ttft: { counts: {}, sum: 0 } }], { ttftBounds: TTFT_BOUNDS_V0 })),
      ok(B, 'after', T0 + 5 * MIN + 1, vllmText([{ stop: 100, ttft: { counts: { 0.25: 100 }, sum: 17.5 } }], { ttftBounds: TTFT_BOUNDS_V0 })),
    ];
    const result = account({ scrapes: [...vllmReplica(A), ...v0], ours: 296 });
    expect(result.requests.seen).toBe(296);
    expect(result.ttft).toBeNull();
    expect(result.e2e).toEqual(VLLM_E2E);
    expect(result.notes).toEqual([
      `vllm:time_to_first_token_seconds has other buckets on ${A} and ${B}: their ttft histograms cannot be added, so the server-side ttft distribution is not given`,
    ]);
  });

  it("leaves out one replica's histogram whose buckets changed between its before and after scrapes", () => {
    const scrapes = [
      ok(A, 'before', T0, vllmText([{ stop: 0, ttft: { counts: {}, sum: 0 } }])),
      ok(A, 'after', T0 + MIN, vllmText([{ stop: 10, ttft: { counts: { 0.08: 10 }, sum: 0.7 } }], { ttftBounds: TTFT_BOUNDS_V0 })),
    ];
    const result = account({ scrapes, ours: 10 });
    expect(result.requests.seen).toBe(10);
    expect(result.ttft).toBeNull();
    expect(result.notes).toEqual([
      `vllm:time_to_first_token_seconds on ${A} does not follow from its scrape before the run to the one after (other buckets, or a bucket that went down): that replica's ttft observations are not used`,
      ...onlyTtftNotes(10),
    ]);
  });
});

describe('the model filter', () => {
  // One endpoint whose series name two models: this run's and another's.
  const twoModels = (llama: number, qwen: number, llamaTtft: Record<number, number>, llamaSum: number, qwenTtft: Record<number, number>, qwenSum: number) =>
    vllmText([
      { model: LLAMA, stop: llama, ttft: { counts: llamaTtft, sum: llamaSum } },
      { model: QWEN, engine: '0', stop: qwen, ttft: { counts: qwenTtft, sum: qwenSum } },
    ]);
  const scrapes = [
    ok(A, 'before', T0, twoModels(10, 5, { 0.08: 10 }, 0.7, { 0.5: 5 }, 2)),
    ok(A, 'after', T0 + 5 * MIN, twoModels(30, 50, { 0.08: 30 }, 2.1, { 0.5: 50 }, 20)),
  ];

  it("leaves out another model's series when the run's model labels some", () => {
    const result = account({ scrapes, ours: 20, model: LLAMA });
    expect(result.requests.seen).toBe(20);
    expect(result.requests.foreign).toBe(0);
    // 20 observations in (0.06, 0.08], Σ 1.4 s: p50 0.06 + 0.02·(10/20).
    expect(result.ttft?.count).toBe(20);
    expect(result.ttft?.p50).toBe(70);
    expect(result.notes).toEqual(onlyTtftNotes(20));
  });

  it('counts every series when no model is given', () => {
    const result = account({ scrapes, ours: 20 });
    expect(result.requests.seen).toBe(65);
    expect(result.requests.foreign).toBe(45);
    expect(result.ttft?.count).toBe(65);
    expect(result.notes).toEqual(onlyTtftNotes(65));
  });

  it("counts every series, and says so, when no series names the run's model (a served-model-name alias)", () => {
    const result = account({ scrapes, ours: 20, model: 'llama-8b' });
    expect(result.requests.seen).toBe(65);
    expect(result.ttft?.count).toBe(65);
    expect(result.notes).toEqual([`${A} labels its series model_name "${LLAMA}", "${QWEN}", none of them the run's model "llama-8b": every model's series were counted`, ...onlyTtftNotes(65)]);
  });
});

describe('the ServerAccount schema', () => {
  it('accepts every account above, and this one round-trips through JSON unchanged', () => {
    const result = account({ scrapes: [...vllmReplica(A), ok(B, 'before', T0, sglangBefore), ok(B, 'after', T0 + 5 * MIN, sglangAfter)], ours: 480 });
    const again = ServerAccount.parse(JSON.parse(JSON.stringify(result)));
    expect(again).toEqual(result);
    expect(again.requests.seen).toBe(496);
  });
});
