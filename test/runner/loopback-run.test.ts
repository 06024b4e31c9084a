import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShardManifest } from '../../runtime/core/records/index.ts';
import { runBenchmark } from '../../runtime/runner/run.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { BACKGROUND_NICE, currentThreadId, linuxThreads } from '../../runtime/timing/background-threads.ts';
import { readRecords } from '../helpers/records.ts';
import { loopbackRunOptions } from '../helpers/scenario.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

const RUN_ID = '20250101T020000Z-loopbk';
let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function options(baseUrl: string, dir: string, over: Record<string, unknown> = {}, interrupt = new AbortController().signal) {
  return loopbackRunOptions(baseUrl, dir, RUN_ID, over, interrupt);
}

describe('a loopback run against the simulator (real HTTP, real time: the runner paces and stamps)', () => {
  it('a clean run sends on schedule, counts exact tokens, writes records and manifests (not summary.json: the aggregator owns it), and is valid', async () => {
    sim = await startSimulator({ ttftMs: 20, itlMs: 4, jitterMs: 1 });
    const dir = join(await tempDir(), 'run');
    // This test is about correctness, not timing: loosen the load-fidelity limits so a busy CI
    // machine (other test files run in parallel) cannot turn it red.
    const { summary } = await runBenchmark(options(sim.url, dir, { validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5 } }));
    const records = await readRecords(dir);
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of records) {
      expect(r.error).toBeNull();
      expect(r.inputTokens).toEqual({ requested: 64, client: 64, server: 64 });
      expect(r.outputTokens).toEqual({ requested: 16, client: 16, server: 16 });
      expect(r.sentAt! - r.scheduledAt!).toBeGreaterThanOrEqual(0);
    }
    // Ten measured requests, after one warm-up request the server saw first.
    const seen = sim.groundTruth().map((g) => g.requestId);
    expect(seen.filter((id) => id.startsWith(`${RUN_ID}-`))).toHaveLength(10);
    expect(seen[0]).toBe('warmup-0');
    expect(summary.validity).toEqual({ valid: true, reasons: [], notes: [] });
    expect(summary.requests).toMatchObject({ scheduled: 10, sent: 10, succeeded: 10, failed: 0 });
    expect((await readdir(dir)).sort()).toEqual(['config.yml', 'requests', 'run.json']);
    expect(ShardManifest.parse(JSON.parse(await readFile(join(dir, 'requests', 'shard-0000.json'), 'utf8')))).toMatchObject({ records: 10, sent: 10, partial: false, parts: ['shard-0000-0000.ndjson.gz'] });
    expect(await readFile(join(dir, 'run.json'), 'utf8')).toContain('"scheduled": 10');
  });

  it.skipIf(!existsSync('/proc/thread-self'))('while it sends, every other thread of the process is at nice 19 (with yieldThreads: false, as the tests run, none is)', async () => {
    sim = await startSimulator({ ttftMs: 5, itlMs: 1, jitterMs: 0 });
    const me = currentThreadId()!;
    const before = linuxThreads.nice(me)!;
    // Each thread's nice value at every status line of the load (the renice cannot be undone, so the run that leaves them comes first).
    const whileRunning = async (o: { yieldThreads?: boolean }): Promise<Array<Array<number | undefined>>> => {
      const seen: Array<Array<number | undefined>> = [];
      await runBenchmark({
        ...options(sim!.url, join(await tempDir(), 'run'), { load: { stages: [{ rate: 10, duration: 2 }] } }),
        ...o,
        onStatus: (s) => void (s.phase === 'running' && seen.push(linuxThreads.threads().filter((t) => t !== me).map((t) => linuxThreads.nice(t)))),
      });
      expect(seen.length).toBeGreaterThan(0);
      return seen;
    };
    // A test process started at nice 19 has nothing to tell apart.
    if (before === BACKGROUND_NICE) return;
    for (const others of await whileRunning({ yieldThreads: false })) expect(others.every((n) => n === before)).toBe(true);
    for (const others of await whileRunning({ yieldThreads: true })) {
      expect(others.length).toBeGreaterThanOrEqual(4);
      expect(others.every((n) => n === BACKGROUND_NICE)).toBe(true);
    }
    expect(linuxThreads.nice(me)).toBe(before);
  });

  it('chat completions: prompts calibrated through the chat template, role chunk not counted as a token', async () => {
    sim = await startSimulator({ ttftMs: 5, itlMs: 2, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    const { summary } = await runBenchmark(options(sim.url, dir, { api: { type: 'chat', streaming: true }, load: { stages: [{ rate: 4, duration: 1 }] }, validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5, min_successes: 4 } }));
    const records = await readRecords(dir);
    expect(records).toHaveLength(4);
    for (const r of records) {
      expect(r.inputTokens).toEqual({ requested: 64, client: 64, server: 64 });
      // 16 content chunks; the role chunk and the usage chunk are not tokens.
      expect(r.outputTokens).toEqual({ requested: 16, client: 16, server: 16 });
    }
    expect(sim.groundTruth().filter((g) => g.requestId.startsWith(`${RUN_ID}-`)).every((g) => g.endpoint === 'chat')).toBe(true);
    expect(summary.validity).toEqual({ valid: true, reasons: [], notes: [] });
  });

  it('non-streamed completions: e2e and token counts from the response, no ttft or itl to claim — and not a latency baseline', async () => {
    sim = await startSimulator({ ttftMs: 5, itlMs: 2, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    const { summary } = await runBenchmark(options(sim.url, dir, { api: { type: 'completion', streaming: false }, load: { stages: [{ rate: 4, duration: 1 }] }, validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5, min_successes: 4 } }));
    for (const r of await readRecords(dir)) {
      expect(r).toMatchObject({ firstTokenAt: null, contentTimes: [], error: null });
      expect(r.outputTokens).toEqual({ requested: 16, client: null, server: 16 });
    }
    expect(summary.latency.ttft.count).toBe(0);
    expect(summary.latency.e2e.count).toBe(4);
    expect(summary.latency.e2e.min!).toBeGreaterThan(5 + 15 * 2 - 1);
    expect(summary.validity).toEqual({
      valid: false,
      reasons: [expect.stringMatching(/^The run did not stream \(api\.streaming is false — inference-perf's default\): without streaming there is no TTFT, ITL or TPOT, only end-to-end latency, so it is not a latency baseline\. Set api\.streaming: true\.$/)],
      notes: [],
    });
  });

  it('refuses to write into a directory that already holds results, and leaves them untouched', async () => {
    sim = await startSimulator({ ttftMs: 5, itlMs: 1, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    await runBenchmark(options(sim.url, dir, { load: { stages: [{ rate: 2, duration: 1 }] } }));
    const before = await readFile(join(dir, 'run.json'), 'utf8');
    await expect(runBenchmark(options(sim.url, dir, { load: { stages: [{ rate: 2, duration: 1 }] } }))).rejects.toThrow(/already exists and is not empty/);
    expect(await readFile(join(dir, 'run.json'), 'utf8')).toBe(before);
  });

  it('injected failures are counted by type and the run is marked invalid with its reason', async () => {
    sim = await startSimulator({ ttftMs: 10, itlMs: 2, jitterMs: 0, errorRate: 0.6, abortAfterTokens: 4, stallMs: 5000, seed: 3 });
    const dir = join(await tempDir(), 'run');
    const { summary } = await runBenchmark(options(sim.url, dir, { load: { stages: [{ rate: 30, duration: 1 }], request_timeout: 0.5 } }));
    const truth = sim.groundTruth().filter((g) => g.requestId.startsWith(`${RUN_ID}-`));
    const expected: Record<string, number> = {};
    const typeOf = { status: 'http_status', abort: 'aborted', stall: 'timeout', 'in-band': 'in_band' } as const;
    for (const g of truth) if (g.failure) expected[typeOf[g.failure]] = (expected[typeOf[g.failure]] ?? 0) + 1;

    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(3); // the seed exercises most modes
    expect(summary.requests.errors).toEqual(expected);
    expect(summary.requests.failed).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
    expect(summary.validity.valid).toBe(false);
    expect(summary.validity.reasons.join('\n')).toMatch(/requests failed \([\d.]+ %, allowed 0 %\)/);
  });

  it('an interrupted run stops scheduling, cancels what outlives the grace period, and is stored as partial', async () => {
    sim = await startSimulator({ ttftMs: 20, itlMs: 40, jitterMs: 0 }); // each request takes ~0.6 s
    const dir = join(await tempDir(), 'run');
    const interrupt = new AbortController();
    // Interrupt 1.2 s into the load (the first status line comes 1 s after the loop starts).
    const run = runBenchmark({
      ...options(sim.url, dir, { load: { stages: [{ rate: 5, duration: 10 }] } }, interrupt.signal),
      onStatus: () => setTimeout(() => interrupt.abort(), 200),
    });
    const { summary, partial } = await run;
    const records = await readRecords(dir);

    expect(partial).toBe(true);
    expect(summary.run.partial).toBe(true);
    expect(summary.requests.scheduled).toBe(50);
    expect(summary.requests.sent).toBeLessThan(50);
    expect(records).toHaveLength(summary.requests.sent); // every sent request was written
    expect(summary.requests.errors.cancelled).toBeGreaterThan(0);
    expect(summary.validity.valid).toBe(false);
    expect(summary.validity.reasons[0]).toContain('interrupted');
  });
});

describe('a shard of a multi-pod run', () => {
  it('calibrates prompts for its own slice only (one /tokenize call per prompt it sends)', async () => {
    sim = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    // 20 requests over 4 shards: shard 1 sends seq 1, 5, 9, 13, 17.
    const { summary } = await runBenchmark({ ...options(sim.url, dir, { load: { stages: [{ rate: 20, duration: 1 }] } }), shard: { index: 1, count: 4 } });
    expect(summary.requests.scheduled).toBe(5);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    const tokenizeCalls = Number(/http_requests_total\{handler="\/tokenize",method="POST",status="2xx"\} (\d+)/.exec(metrics)?.[1]);
    // The simulator's tokenizer counts words, so each prompt calibrates in one call; plus the
    // preflight's probe, the overhead probe and the warm-up's own prompt.
    expect(tokenizeCalls).toBe(5 + 3);
    expect((await readRecords(dir)).map((r) => r.seq).sort((a, b) => a - b)).toEqual([1, 5, 9, 13, 17]);
  });
});
