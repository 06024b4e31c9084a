import { describe, expect, it } from 'vitest';
import { parseExposition, readHistogram, sumSamples, type Exposition } from '../../runtime/core/server-metrics/parse.ts';
import type { GroundTruthEntry } from '../../runtime/simulator/ground-truth.ts';
import { goFloat } from '../../runtime/simulator/prometheus.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../runtime/simulator/index.ts';
import { systemClock } from '../../runtime/timing/clock.ts';

/**
 * The simulator's /metrics against its own ground truth, over real loopback HTTP, read with the
 * parser the runner's server account uses. Nothing here depends on wall time: every expected value
 * is computed from the ground truth the simulator recorded.
 */

// vllm-project/vllm vllm/v1/metrics/loggers.py (PrometheusStatLogger.__init__), unchanged in
// vllm/v1/metrics/buckets.py (TIME_TO_FIRST_TOKEN_BUCKETS, REQUEST_LATENCY_BUCKETS) of later releases.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

const TTFT = 'vllm:time_to_first_token_seconds';
const E2E = 'vllm:e2e_request_latency_seconds';
const QUEUE = 'vllm:request_queue_time_seconds';
const PREFILL = 'vllm:request_prefill_time_seconds';
const DECODE = 'vllm:request_decode_time_seconds';
const SUCCESS = 'vllm:request_success_total';

/** Each histogram's observation of one request, in seconds, as the ground truth gives it. */
const observed: Record<string, (e: GroundTruthEntry) => number> = {
  [TTFT]: (e) => (e.startedAt - e.receivedAt + e.prefillMs!) / 1000,
  [E2E]: (e) => (e.finishedAt! - e.receivedAt) / 1000,
  [QUEUE]: (e) => (e.startedAt - e.receivedAt) / 1000,
  [PREFILL]: (e) => e.prefillMs! / 1000,
  [DECODE]: (e) => e.decodeMs! / 1000,
};
const bucketsOf: Record<string, number[]> = { [TTFT]: TTFT_BUCKETS, [E2E]: REQUEST_LATENCY_BUCKETS, [QUEUE]: REQUEST_LATENCY_BUCKETS, [PREFILL]: REQUEST_LATENCY_BUCKETS, [DECODE]: REQUEST_LATENCY_BUCKETS };
const finishedHistograms = [E2E, QUEUE, PREFILL, DECODE];

const fast = { tokenizer: 'words', ttftMs: 2, ttftJitterMs: 0, prefillMsPerToken: 0.05, itlMs: 1, jitterMs: 0 } satisfies SimulatorOptions;

async function scrape(sim: RunningSimulator): Promise<{ m: Exposition; text: string }> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  const parsed = parseExposition(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return { m: parsed.exposition, text };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** The cumulative bucket counts `values` give under `bounds`, then +Inf. */
function cumulative(values: readonly number[], bounds: readonly number[]): number[] {
  return [...bounds.map((b) => values.filter((v) => v <= b).length), values.length];
}

interface Outcome {
  status: number;
  /** The finish reason the client was told; null when it was told none (failure, disconnect). */
  finish: string | null;
  /** 'error' when the transport broke (a reset, a premature close). */
  ended: 'clean' | 'error';
}

/** Sends one generation request and reads its answer to the end, whatever becomes of it. */
async function send(sim: RunningSimulator, path: string, body: Record<string, unknown>, requestId: string, signal?: AbortSignal): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: JSON.stringify(body), signal });
  } catch {
    return { status: 0, finish: null, ended: 'error' };
  }
  let text: string;
  try {
    text = await res.text();
  } catch {
    return { status: res.status, finish: null, ended: 'error' };
  }
  type Choice = { finish_reason?: string | null };
  let finish: string | null = null;
  if (body.stream === true) {
    for (const event of text.split('\n\n')) {
      if (!event.startsWith('data: {')) continue;
      const c = (JSON.parse(event.slice(6)) as { choices?: Choice[] }).choices?.[0];
      if (c?.finish_reason) finish = c.finish_reason;
    }
  } else if (res.status === 200) {
    finish = (JSON.parse(text) as { choices: Choice[] }).choices[0]!.finish_reason ?? null;
  }
  return { status: res.status, finish, ended: 'clean' };
}

async function withSim(options: SimulatorOptions, fn: (sim: RunningSimulator) => Promise<void>, clock = systemClock): Promise<void> {
  const sim = await startSimulator(options, clock);
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const running = async (sim: RunningSimulator): Promise<number | null> => sumSamples((await scrape(sim)).m, 'vllm:num_requests_running');

const longPrompt = Array.from({ length: 80 }, (_, i) => `p${i}`).join(' ');

/** Four requests: streamed and not, completions and chat, ending at EOS (stop) and at max_tokens (length). */
function wave(n: number): Array<{ id: string; path: string; body: Record<string, unknown> }> {
  return [
    { id: `${n}-cs`, path: '/v1/completions', body: { prompt: longPrompt, max_tokens: 6, ignore_eos: true, stream: true, stream_options: { include_usage: true } } },
    { id: `${n}-cn`, path: '/v1/completions', body: { prompt: `q${n} r s t`, max_tokens: 10 } },
    { id: `${n}-hs`, path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: longPrompt }], max_tokens: 5, stream: true } },
    { id: `${n}-hn`, path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: `hi ${n}` }], max_tokens: 4, ignore_eos: true } },
  ];
}

describe('/metrics: vLLM V1 names, fed from the ground truth', () => {
  it('exposes every series from the start, at 0, with vLLM’s names, types, labels and bucket bounds', async () => {
    await withSim(fast, async (sim) => {
      const { m, text } = await scrape(sim);

      for (const reason of ['stop', 'length', 'abort']) {
        expect(text).toContain(`${SUCCESS}{engine="0",finished_reason="${reason}",model_name="qwen3-8b"} 0.0\n`);
      }
      expect(text).toContain(`# TYPE ${SUCCESS} counter\n`);
      for (const name of ['vllm:prompt_tokens_total', 'vllm:generation_tokens_total', 'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total']) {
        expect(text).toContain(`# TYPE ${name} counter\n`);
        expect(sumSamples(m, name)).toBe(0);
      }
      for (const name of [TTFT, ...finishedHistograms]) {
        expect(text).toContain(`# TYPE ${name} histogram\n`);
        const h = readHistogram(m, name)!;
        expect(h.bounds).toEqual(bucketsOf[name]);
        expect(h).toMatchObject({ count: 0, sum: 0 });
        expect(h.cumulative).toEqual(new Array(bucketsOf[name]!.length + 1).fill(0));
        // Bounds written as prometheus_client writes floats.
        expect(text).toContain(`${name}_bucket{engine="0",le="${name === TTFT ? '2560.0' : '7680.0'}",model_name="qwen3-8b"} 0.0\n`);
        expect(text).toContain(`${name}_bucket{engine="0",le="+Inf",model_name="qwen3-8b"} 0.0\n`);
      }
    });
  });

  it('after N streamed and non-streamed requests: successes by finish reason, five histograms of N, sums and buckets equal to the ground truth', async () => {
    // The clock is offset: every interval must be a difference of its readings, as the ground truth's are.
    const offset = 5_000_000;
    await withSim(
      { ...fast, maxConcurrency: 2 },
      async (sim) => {
        const outcomes = new Map<string, Outcome>();
        // Two waves of four at once (two queue behind the limit); the second repeats the long prompts.
        for (const n of [1, 2]) {
          await Promise.all(wave(n).map(async (r) => outcomes.set(r.id, await send(sim, r.path, r.body, r.id))));
        }
        const entries = sim.groundTruth();
        const N = entries.length;
        expect(N).toBe(8);
        for (const o of outcomes.values()) expect(o).toMatchObject({ status: 200, ended: 'clean' });
        for (const e of entries) expect(e).toMatchObject({ status: 200, failure: null, finishedAt: expect.any(Number), prefillMs: expect.any(Number), decodeMs: expect.any(Number) });

        const { m } = await scrape(sim);

        // request_success: N in all, by the finish reason each client was told.
        expect(sumSamples(m, SUCCESS)).toBe(N);
        const told = [...outcomes.values()].map((o) => o.finish);
        for (const reason of ['stop', 'length']) {
          expect(sumSamples(m, SUCCESS, (l) => l.finished_reason === reason)).toBe(told.filter((f) => f === reason).length);
        }
        expect(told.filter((f) => f === 'stop').length).toBeGreaterThan(0);
        expect(told.filter((f) => f === 'length').length).toBeGreaterThan(0);
        expect(sumSamples(m, SUCCESS, (l) => l.finished_reason === 'abort')).toBe(0);

        // Token counters.
        expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(sum(entries.map((e) => e.promptTokens)));
        expect(sumSamples(m, 'vllm:generation_tokens_total')).toBe(sum(entries.map((e) => e.completionTokens)));
        expect(sumSamples(m, 'vllm:prefix_cache_queries_total')).toBe(sum(entries.map((e) => e.promptTokens)));
        expect(sumSamples(m, 'vllm:prefix_cache_hits_total')).toBe(sum(entries.map((e) => e.cachedPromptTokens)));
        // The second wave's long prompts were cached by the first's.
        expect(entries.find((e) => e.requestId === '2-cs')!.cachedPromptTokens).toBeGreaterThan(0);
        expect(entries.find((e) => e.requestId === '2-hs')!.cachedPromptTokens).toBeGreaterThan(0);

        // Histograms: N observations each, with the ground truth's values.
        for (const name of [TTFT, ...finishedHistograms]) {
          const h = readHistogram(m, name)!;
          const values = entries.map(observed[name]!);
          expect(h.count, name).toBe(N);
          expect(h.bounds, name).toEqual(bucketsOf[name]);
          expect(h.sum!, name).toBeCloseTo(sum(values), 9);
          expect(h.cumulative, name).toEqual(cumulative(values, bucketsOf[name]!));
        }
        // The intervals fit together: TTFT = queue + prefill; e2e ≥ TTFT + decode.
        const hist = (name: string): number => readHistogram(m, name)!.sum!;
        expect(hist(TTFT)).toBeCloseTo(hist(QUEUE) + hist(PREFILL), 9);
        for (const e of entries) expect(e.finishedAt! - e.receivedAt).toBeGreaterThanOrEqual(e.startedAt - e.receivedAt + e.prefillMs! + e.decodeMs!);
        // Every timestamp is the injected clock's.
        for (const e of entries) expect(e.receivedAt).toBeGreaterThan(offset);

        // Nothing left in flight.
        expect(sumSamples(m, 'vllm:num_requests_running')).toBe(0);
        expect(sumSamples(m, 'vllm:num_requests_waiting')).toBe(0);
      },
      () => systemClock() + offset,
    );
  });

  it('a request that waited for a slot has its wait in the queue histogram and in its TTFT', async () => {
    await withSim({ ...fast, maxConcurrency: 1 }, async (sim) => {
      // The first request holds the only slot (30,000 tokens at 1 ms) until its client leaves.
      const leave = new AbortController();
      const holder = send(sim, '/v1/completions', { prompt: 'hold', max_tokens: 30_000, ignore_eos: true, stream: true }, 'holder', leave.signal);
      await until(() => (sim.groundTruth()[0]?.contentWrites.length ?? 0) >= 1);
      const queued = send(sim, '/v1/completions', { prompt: 'wait a b', max_tokens: 3, ignore_eos: true }, 'queued');
      await until(async () => sumSamples((await scrape(sim)).m, 'vllm:num_requests_waiting') === 1);
      leave.abort();
      await holder;
      expect(await queued).toMatchObject({ status: 200, finish: 'length' });

      const waited = sim.groundTruth().find((e) => e.requestId === 'queued')!;
      expect(waited.startedAt).toBeGreaterThan(waited.receivedAt);
      const { m } = await scrape(sim);
      expect(sumSamples(m, SUCCESS)).toBe(1);
      const queue = readHistogram(m, QUEUE)!;
      expect(queue.count).toBe(1);
      expect(queue.sum!).toBe(observed[QUEUE]!(waited));
      // The holder's first token is in TTFT too (it got one before its client left): the waiting one's TTFT is the rest.
      const holderEntry = sim.groundTruth().find((e) => e.requestId === 'holder')!;
      expect(readHistogram(m, TTFT)!.count).toBe(2);
      expect(readHistogram(m, TTFT)!.sum! - observed[TTFT]!(holderEntry)).toBeCloseTo(observed[QUEUE]!(waited) + waited.prefillMs! / 1000, 9);
    });
  });

  it('counts each model in its own series', async () => {
    await withSim({ ...fast, models: ['m-a', 'm-b'] }, async (sim) => {
      await send(sim, '/v1/completions', { model: 'm-a', prompt: 'a b c', max_tokens: 3, ignore_eos: true }, 'a1');
      await send(sim, '/v1/completions', { model: 'm-a', prompt: 'a b c', max_tokens: 3, ignore_eos: true, stream: true }, 'a2');
      await send(sim, '/v1/completions', { model: 'm-b', prompt: 'a b c d', max_tokens: 3, ignore_eos: true }, 'b1');

      const { m } = await scrape(sim);
      const of = (model: string) => (l: Record<string, string>) => l.model_name === model;
      expect(sumSamples(m, SUCCESS, of('m-a'))).toBe(2);
      expect(sumSamples(m, SUCCESS, of('m-b'))).toBe(1);
      expect(readHistogram(m, E2E, of('m-a'))!.count).toBe(2);
      expect(readHistogram(m, TTFT, of('m-b'))!.count).toBe(1);
      expect(sumSamples(m, 'vllm:prompt_tokens_total', of('m-b'))).toBe(4);
    });
  });

  it('a scrape made right after the client received its last byte already counts that request', async () => {
    await withSim(fast, async (sim) => {
      for (let i = 1; i <= 6; i++) {
        const stream = i % 2 === 0;
        const path = i % 3 === 0 ? '/v1/chat/completions' : '/v1/completions';
        const body = path === '/v1/completions' ? { prompt: `x${i} y z`, max_tokens: 4, stream } : { messages: [{ role: 'user', content: `x${i}` }], max_tokens: 4, stream };
        const outcome = await send(sim, path, body, `r${i}`);
        expect(outcome).toMatchObject({ status: 200, ended: 'clean' });

        const { m } = await scrape(sim);
        expect(sumSamples(m, SUCCESS)).toBe(i);
        for (const name of [TTFT, ...finishedHistograms]) expect(readHistogram(m, name)!.count, name).toBe(i);
        const entries = sim.groundTruth();
        expect(sumSamples(m, 'vllm:generation_tokens_total')).toBe(sum(entries.map((e) => e.completionTokens)));
        expect(readHistogram(m, E2E)!.sum!).toBeCloseTo(sum(entries.map(observed[E2E]!)), 9);
      }
    });
  });

  it('injected failures are not successes: only finished requests are in request_success and the four per-request histograms; TTFT has every request that got a first token', async () => {
    // Seed 3 draws a mix of every failure mode and successes over these 16 requests (the draw is
    // reproducible: the same seed fails the same requests).
    await withSim({ ...fast, seed: 3, errorRate: 0.5, failureModes: ['status', 'abort', 'stall', 'in-band'], stallMs: 20, abortAfterTokens: 2 }, async (sim) => {
      for (let i = 0; i < 16; i++) {
        const stream = i % 2 === 0;
        await send(sim, '/v1/completions', { prompt: `f${i} g h`, max_tokens: 6, ignore_eos: true, stream }, `f${i}`);
      }
      const entries = sim.groundTruth();
      const ok = entries.filter((e) => e.failure === null);
      const failed = entries.filter((e) => e.failure !== null);
      expect(new Set(failed.map((e) => e.failure))).toEqual(new Set(['status', 'abort', 'stall', 'in-band']));
      expect(ok.length).toBeGreaterThan(0);
      for (const e of failed) expect(e.finishedAt).toBeNull();
      for (const e of ok) expect(e.finishedAt).not.toBeNull();

      const { m } = await scrape(sim);
      expect(sumSamples(m, SUCCESS)).toBe(ok.length);
      expect(sumSamples(m, SUCCESS, (l) => l.finished_reason === 'abort')).toBe(0);
      for (const name of finishedHistograms) {
        const h = readHistogram(m, name)!;
        expect(h.count, name).toBe(ok.length);
        expect(h.sum!, name).toBeCloseTo(sum(ok.map(observed[name]!)), 9);
      }
      // vLLM observes TTFT, and counts the prompt, in the step that produces a request's first token:
      // every request that started (all but the `status` refusals) got one before its failure (after 2 tokens).
      const started = entries.filter((e) => e.prefillMs !== null);
      expect(started.length).toBe(entries.filter((e) => e.failure !== 'status').length);
      const ttft = readHistogram(m, TTFT)!;
      expect(ttft.count).toBe(started.length);
      expect(ttft.sum!).toBeCloseTo(sum(started.map(observed[TTFT]!)), 9);
      expect(ttft.cumulative).toEqual(cumulative(started.map(observed[TTFT]!), TTFT_BUCKETS));
      expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(sum(started.map((e) => e.promptTokens)));
    });
  });

  it('a failure striking before the first token (abortAfterTokens 0) is in no histogram', async () => {
    await withSim({ ...fast, errorRate: 1, failureModes: ['abort', 'in-band'], abortAfterTokens: 0 }, async (sim) => {
      for (let i = 0; i < 4; i++) await send(sim, '/v1/completions', { prompt: `z${i}`, max_tokens: 4, stream: i % 2 === 0 }, `z${i}`);
      expect(sim.groundTruth().every((e) => e.failure !== null && e.finishedAt === null)).toBe(true);

      const { m } = await scrape(sim);
      expect(sumSamples(m, SUCCESS)).toBe(0);
      for (const name of [TTFT, ...finishedHistograms]) expect(readHistogram(m, name)!.count, name).toBe(0);
      expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(0);
      // It was scheduled, though: vLLM queries the prefix cache when it schedules a request.
      expect(sumSamples(m, 'vllm:prefix_cache_queries_total')).toBe(sum(sim.groundTruth().map((e) => e.promptTokens)));
    });
  });

  it('a client that disconnects mid-stream is not a success, but its first token was observed', async () => {
    await withSim({ ...fast, itlMs: 3 }, async (sim) => {
      expect(await send(sim, '/v1/completions', { prompt: 'done a b', max_tokens: 3 }, 'done')).toMatchObject({ status: 200, ended: 'clean' });
      const leave = new AbortController();
      const pending = send(sim, '/v1/completions', { prompt: 'left a b c d', max_tokens: 2000, ignore_eos: true, stream: true }, 'left', leave.signal);
      await until(() => (sim.groundTruth()[1]?.contentWrites.length ?? 0) >= 3);
      leave.abort();
      expect((await pending).finish).toBeNull();
      await until(async () => (await running(sim)) === 0);

      const [done, left] = sim.groundTruth();
      expect(left).toMatchObject({ doneAt: null, finishedAt: null });
      const { m } = await scrape(sim);
      expect(sumSamples(m, SUCCESS)).toBe(1);
      for (const name of finishedHistograms) {
        expect(readHistogram(m, name)!.count, name).toBe(1);
        expect(readHistogram(m, name)!.sum!, name).toBeCloseTo(observed[name]!(done!), 9);
      }
      expect(readHistogram(m, TTFT)!.count).toBe(2);
      expect(readHistogram(m, TTFT)!.sum!).toBeCloseTo(observed[TTFT]!(done!) + observed[TTFT]!(left!), 9);
      expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(done!.promptTokens + left!.promptTokens);
      expect(sumSamples(m, 'vllm:generation_tokens_total')).toBe(done!.completionTokens + left!.completionTokens);
    });
  });

  it('a client that disconnects before its first token is in no histogram and no token count', async () => {
    // A prefill of 60 s: the client leaves long before it ends.
    await withSim({ ...fast, ttftMs: 60_000 }, async (sim) => {
      const leave = new AbortController();
      const pending = send(sim, '/v1/completions', { prompt: 'early a b', max_tokens: 4, stream: true }, 'early', leave.signal);
      await until(async () => (await running(sim)) === 1);
      leave.abort();
      await pending;
      await until(async () => (await running(sim)) === 0);

      expect(sim.groundTruth()[0]).toMatchObject({ doneAt: null, finishedAt: null, completionTokens: 0 });
      const { m } = await scrape(sim);
      expect(sumSamples(m, SUCCESS)).toBe(0);
      for (const name of [TTFT, ...finishedHistograms]) expect(readHistogram(m, name)!.count, name).toBe(0);
      expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(0);
      expect(sumSamples(m, 'vllm:prefix_cache_queries_total')).toBe(3);
    });
  });

  it('a request still generating shows in TTFT once its first token is due, before it finishes', async () => {
    await withSim({ ...fast, itlMs: 3 }, async (sim) => {
      const leave = new AbortController();
      // Not streamed: nothing is written before the end, so only the scrape can record its first token.
      const pending = send(sim, '/v1/completions', { prompt: 'slow a b', max_tokens: 20_000, ignore_eos: true }, 'slow', leave.signal);
      await until(async () => (readHistogram((await scrape(sim)).m, TTFT)?.count ?? 0) === 1);

      const entry = sim.groundTruth()[0]!;
      const { m } = await scrape(sim);
      expect(readHistogram(m, TTFT)!.sum!).toBeCloseTo(observed[TTFT]!(entry), 9);
      expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(entry.promptTokens);
      expect(sumSamples(m, SUCCESS)).toBe(0);
      expect(readHistogram(m, E2E)!.count).toBe(0);
      expect(sumSamples(m, 'vllm:num_requests_running')).toBe(1);
      leave.abort();
      await pending;
    });
  });
});

describe('goFloat: numbers as prometheus_client writes them (Python repr, then Go exponents for large ones)', () => {
  it.each([
    [0, '0.0'],
    [1, '1.0'],
    [0.3, '0.3'],
    [2560, '2560.0'],
    [123.456, '123.456'],
    [0.0001, '0.0001'],
    [0.00005, '5e-05'],
    [1.5e-7, '1.5e-07'],
    [123456, '123456.0'],
    [1234567, '1.234567e+06'],
    [12345678.5, '1.23456785e+07'],
    [1e16, '1e+16'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ])('%s → %s', (n, text) => {
    expect(goFloat(n)).toBe(text);
  });
});
