import { VALIDITY_DEFAULTS } from '../../runtime/core/scenario/validity-rules.ts';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { mulberry32 } from '../../runtime/core/random.ts';
import type { RequestRecord } from '../../runtime/core/records/record.ts';
import type { RunManifest, ShardManifest } from '../../runtime/core/records/index.ts';
import { shardManifestName, shardPartName } from '../../runtime/core/run-layout.ts';

/**
 * Deterministic generators of run outputs in the documented shapes (native shards; inference-perf
 * v0.2.0 and v0.6.x files), shared by tests and benchmarks. Every generator also returns the exact
 * samples it encoded, so tests can compare against numpy-style percentiles.
 */

/** Seeded PRNG of the fixtures (the project's one PRNG). */
export const prng = mulberry32;

/** numpy.percentile default (linear interpolation between closest ranks) of sorted values. */
export function exactPercentile(sorted: number[], p: number): number {
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export interface NativeRunOptions {
  runId?: string;
  requests: number;
  /** Content events per request (output tokens). */
  tokens: number;
  rate?: number;
  seed?: number;
  /** Every n-th request fails (0 = none). */
  failEvery?: number;
}

export interface GeneratedSamples {
  ttft: number[];
  e2e: number[];
  itl: number[];
  scheduleDelay: number[];
}

export function nativeManifest(runId: string, shards: number, scheduled: number, rate: number): RunManifest {
  return {
    v: 1,
    identity: {
      runId,
      scenario: 'baseline',
      model: 'qwen3-8b',
      target: 'http://127.0.0.1:8000',
      zone: null,
      runner: { kind: 'native', version: '0.1.0' },
      api: 'completion',
      streaming: true,
    },
    request: {
      arrival: 'even',
      stages: [{ rate, duration: scheduled / rate }],
      ignoreEos: true,
      validity: { ...VALIDITY_DEFAULTS },
    },
    scheduled,
    shards,
  };
}

/** One native record of a generated run (advances `rnd`); `samples` receives its exact values. */
export function nativeRecord(seq: number, o: NativeRunOptions, rnd: () => number, samples?: GeneratedSamples): RequestRecord {
  const rate = o.rate ?? 1;
  const runId = o.runId ?? '20260101T000000Z-abcdef';
  const t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  // Times on a µs grid, as the runner's clock gives them, so ms ↔ µs conversions are exact.
  const us = (x: number): number => Math.round(x * 1000) / 1000;
  const scheduledAt = us(t0 + (seq * 1000) / rate);
  const delay = us(rnd() * 2); // 0..2 ms
  const sentAt = us(scheduledAt + delay);
  const failed = o.failEvery ? seq % o.failEvery === o.failEvery - 1 : false;
  samples?.scheduleDelay.push(sentAt - scheduledAt);
  if (failed) {
    return {
      v: 1, runId, shard: 0, seq, stage: 0, scheduledAt, sentAt, firstTokenAt: null, doneAt: us(sentAt + 5), contentTimes: [],
      inputTokens: { requested: 512, client: 512, server: null }, outputTokens: { requested: o.tokens, client: 0, server: null },
      status: 503, error: { type: 'http_status', message: 'HTTP 503' },
    };
  }
  const ttft = us(20 + rnd() * 80 + (rnd() < 0.01 ? 400 : 0));
  const contentTimes: number[] = [];
  let t = us(sentAt + ttft);
  for (let i = 0; i < o.tokens; i++) {
    if (i > 0) t = us(t + us(5 + rnd() * 20));
    contentTimes.push(t);
  }
  const doneAt = us(contentTimes[contentTimes.length - 1]! + 0.5);
  if (samples) {
    for (let i = 1; i < contentTimes.length; i++) samples.itl.push(contentTimes[i]! - contentTimes[i - 1]!);
    samples.ttft.push(contentTimes[0]! - sentAt);
    samples.e2e.push(doneAt - sentAt);
  }
  return {
    v: 1, runId, shard: 0, seq, stage: 0, scheduledAt, sentAt, firstTokenAt: contentTimes[0]!, doneAt, contentTimes,
    inputTokens: { requested: 512, client: 512, server: 512 }, outputTokens: { requested: o.tokens, client: o.tokens, server: o.tokens },
    status: 200, error: null,
  };
}

/** The records of one native run, in schedule order (seq), with the exact samples they hold. */
export function nativeRecords(o: NativeRunOptions): { records: RequestRecord[]; samples: GeneratedSamples } {
  const rnd = prng(o.seed ?? 1);
  const samples: GeneratedSamples = { ttft: [], e2e: [], itl: [], scheduleDelay: [] };
  const records: RequestRecord[] = [];
  for (let seq = 0; seq < o.requests; seq++) records.push(nativeRecord(seq, o, rnd, samples));
  return { records, samples };
}

/** Streams a large native run to disk (one part per shard) without holding its records. */
export async function writeNativeRunStreaming(dir: string, o: NativeRunOptions & { shards: number }): Promise<void> {
  const runId = o.runId ?? '20260101T000000Z-abcdef';
  await mkdir(join(dir, 'requests'), { recursive: true });
  await writeFile(join(dir, 'run.json'), JSON.stringify(nativeManifest(runId, o.shards, o.requests, o.rate ?? 1), null, 2));
  const rnd = prng(o.seed ?? 1);
  const outs = Array.from({ length: o.shards }, (_, shard) => {
    const gz = createGzip({ level: 1 });
    const file = createWriteStream(join(dir, 'requests', shardPartName(shard, 0)));
    gz.pipe(file);
    return { gz, file, n: 0 };
  });
  for (let seq = 0; seq < o.requests; seq++) {
    const shard = seq % o.shards;
    const out = outs[shard]!;
    out.n += 1;
    if (!out.gz.write(JSON.stringify({ ...nativeRecord(seq, o, rnd), shard }) + '\n')) await once(out.gz, 'drain');
  }
  for (const [shard, out] of outs.entries()) {
    out.gz.end();
    await once(out.file, 'finish');
    const sm: ShardManifest = {
      v: 1, runId, shard, shards: o.shards, scheduled: out.n, sent: out.n, records: out.n, parts: [shardPartName(shard, 0)], partial: false,
      startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:05:00.000Z',
    };
    await writeFile(join(dir, 'requests', shardManifestName(shard)), JSON.stringify(sm, null, 2));
  }
}

/**
 * Writes a native run directory: run.json, requests/shard-<i>-<p>.ndjson.gz (records dealt round-robin
 * by seq, as an Indexed Job slices the schedule) and requests/shard-<i>.json.
 */
export async function writeNativeRun(dir: string, records: RequestRecord[], o: { shards: number; partsPerShard?: number; rate?: number; tokens: number; runId?: string }): Promise<void> {
  const runId = o.runId ?? records[0]?.runId ?? '20260101T000000Z-abcdef';
  const rate = o.rate ?? 1;
  await mkdir(join(dir, 'requests'), { recursive: true });
  await writeFile(join(dir, 'run.json'), JSON.stringify(nativeManifest(runId, o.shards, records.length, rate), null, 2));
  const parts = o.partsPerShard ?? 1;
  for (let shard = 0; shard < o.shards; shard++) {
    const mine = records.filter((r) => r.seq % o.shards === shard).map((r) => ({ ...r, shard }));
    const names: string[] = [];
    for (let part = 0; part < parts; part++) {
      const slice = mine.filter((_, i) => i % parts === part);
      const name = shardPartName(shard, part);
      names.push(name);
      await writeGzipLines(join(dir, 'requests', name), slice.map((r) => JSON.stringify(r)));
    }
    const sm: ShardManifest = {
      v: 1, runId, shard, shards: o.shards, scheduled: mine.length, sent: mine.length, records: mine.length, parts: names, partial: false,
      startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:05:00.000Z',
    };
    await writeFile(join(dir, 'requests', shardManifestName(shard)), JSON.stringify(sm, null, 2));
  }
}

export async function writeGzipLines(path: string, lines: Iterable<string>): Promise<void> {
  const gz = createGzip({ level: 1 });
  const out = createWriteStream(path);
  gz.pipe(out);
  for (const line of lines) {
    if (!gz.write(line + '\n')) await once(gz, 'drain');
  }
  gz.end();
  await once(out, 'finish');
}

// ─── inference-perf ─────────────────────────────────────────────────────────────────────────────

export interface InferencePerfRunOptions {
  version: '0.2.0' | '0.6.1';
  requests: number;
  tokens: number;
  rate?: number;
  seed?: number;
  /** Bytes of prompt text per request (inference-perf records carry the whole request and response). */
  promptBytes?: number;
  failEvery?: number;
  /** Key prefix inside the directory, e.g. `raw/`. */
  prefix?: string;
  /** Stop writing after this many bytes of the per-request file (a truncated upload). */
  truncateAt?: number;
  /** Omit summary_lifecycle_metrics.json. */
  withoutSummary?: boolean;
  /** Write config.yaml as compact JSON (as inference-perf does in S3) instead of YAML. */
  configAsJson?: boolean;
}

function dStats(values: number[]): Record<string, number> | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const d: Record<string, number> = { mean, min: s[0]!, max: s[s.length - 1]! };
  for (const p of [0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9]) d[p === 50 ? 'median' : `p${p}`] = exactPercentile(s, p);
  return d;
}

/**
 * Writes an inference-perf output directory (local_storage shape: JSON files, config.yaml) with
 * per_request_lifecycle_metrics.json streamed to disk, so it can be made as large as needed.
 */
export async function writeInferencePerfRun(dir: string, o: InferencePerfRunOptions): Promise<{ samples: GeneratedSamples; perRequestBytes: number; succeeded: number }> {
  const rnd = prng(o.seed ?? 7);
  const rate = o.rate ?? 1;
  const base = join(dir, o.prefix ?? '');
  await mkdir(base, { recursive: true });
  const samples: GeneratedSamples = { ttft: [], e2e: [], itl: [], scheduleDelay: [] };
  const prompt = 'lorem ipsum dolor sit amet '.repeat(Math.ceil((o.promptBytes ?? 2000) / 27)).slice(0, o.promptBytes ?? 2000);
  const out = createWriteStream(join(base, 'per_request_lifecycle_metrics.json'));
  let written = 0;
  let stopped = false;
  const write = async (s: string): Promise<void> => {
    if (stopped) return;
    let chunk = s;
    if (o.truncateAt !== undefined && written + chunk.length > o.truncateAt) {
      chunk = chunk.slice(0, o.truncateAt - written);
      stopped = true;
    }
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  };
  const t0 = 1234.5; // perf_counter seconds
  let succeeded = 0;
  let pending = '';
  await write('[');
  for (let i = 0; i < o.requests; i++) {
    const scheduled = t0 + i / rate;
    const delay = rnd() * 0.003;
    const start = scheduled + delay;
    samples.scheduleDelay.push(delay * 1000);
    const failed = o.failEvery ? i % o.failEvery === o.failEvery - 1 : false;
    const request = JSON.stringify({ model: 'qwen3-8b', prompt, max_tokens: o.tokens, ignore_eos: true, stream: true });
    let rec: Record<string, unknown>;
    if (failed) {
      const end = start + 0.004;
      rec = {
        start_time: start, end_time: end, request, response: '{"error": "overloaded"}',
        info: o.version === '0.2.0' ? { input_tokens: 512, output_tokens: 0, output_token_times: [] } : v06Info(null),
        error: { error_type: 'HTTP Error 503', error_msg: '{"error": {"message": "overloaded"}}' },
      };
    } else {
      succeeded += 1;
      const ttft = 0.02 + rnd() * 0.08;
      const times: number[] = [];
      let t = start + ttft;
      for (let k = 0; k < o.tokens; k++) {
        if (k > 0) t += 0.005 + rnd() * 0.02;
        times.push(t);
      }
      const end = times[times.length - 1]! + 0.0005;
      samples.ttft.push((times[0]! - start) * 1000);
      samples.e2e.push((end - start) * 1000);
      for (let k = 1; k < times.length; k++) samples.itl.push((times[k]! - times[k - 1]!) * 1000);
      const chunks = times.map((_, k) => `{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" tok${k}","logprobs":null,"finish_reason":null}]}`);
      const response = chunks.map((c) => `data: ${c}\n\n`).join('') + 'data: [DONE]\n\n';
      rec = {
        start_time: start, end_time: end, request, response,
        info:
          o.version === '0.2.0'
            ? { input_tokens: 512, output_tokens: o.tokens, output_token_times: times }
            : v06Info({ output_tokens: o.tokens, server_usage: { prompt_tokens: 512, completion_tokens: o.tokens, total_tokens: 512 + o.tokens }, response_chunks: chunks, chunk_times: times, output_token_times: times }),
        error: null,
      };
    }
    pending = (i === 0 ? '' : ', ') + JSON.stringify(rec);
    await write(pending);
  }
  await write(']');
  out.end();
  await once(out, 'finish');

  const stageLoad = {
    count: o.requests,
    schedule_delay: dStats(samples.scheduleDelay.map((x) => x / 1000)),
    send_duration: (o.requests - 1) / rate + (samples.scheduleDelay.at(-1)! - samples.scheduleDelay[0]!) / 1000,
    requested_rate: rate,
    achieved_rate: 0,
  };
  stageLoad.achieved_rate = o.requests / stageLoad.send_duration;
  const lifecycle = (load: Record<string, unknown>): Record<string, unknown> => ({
    ...(o.version === '0.6.1' ? { benchmark_time_seconds: o.requests / rate + 1 } : {}),
    load_summary: load,
    successes: { count: succeeded, latency: { time_to_first_token: dStats(samples.ttft.map((x) => x / 1000)) } },
    failures: { count: o.requests - succeeded },
  });
  if (!o.withoutSummary) {
    await writeFile(join(base, 'summary_lifecycle_metrics.json'), JSON.stringify(lifecycle({ count: o.requests, schedule_delay: stageLoad.schedule_delay }), null, 2));
  }
  await writeFile(join(base, 'stage_0_lifecycle_metrics.json'), JSON.stringify(lifecycle(stageLoad), null, 2));
  const config = {
    api: { type: 'completion', streaming: true, headers: null },
    data: {
      type: 'synthetic',
      input_distribution: o.version === '0.2.0' ? { min: 512, max: 512, mean: 512, std_dev: 0, total_count: null } : { type: 'fixed', mean: 512, min: null, max: null },
      output_distribution: o.version === '0.2.0' ? { min: o.tokens, max: o.tokens, mean: o.tokens, std_dev: 0, total_count: null } : { type: 'fixed', mean: o.tokens, min: null, max: null },
    },
    load: { type: 'constant', interval: 1.0, stages: [{ rate, duration: Math.round(o.requests / rate) }], sweep: null, num_workers: 4 },
    server: { type: 'vllm', model_name: 'qwen3-8b', base_url: 'http://qwen3-vllm.default:8000', ignore_eos: true, api_key: null },
    report: { request_lifecycle: { summary: true, per_stage: true, per_request: true } },
  };
  await writeFile(join(base, 'config.yaml'), o.configAsJson ? JSON.stringify(config) : toYaml(config));
  return { samples, perRequestBytes: written, succeeded };
}

function v06Info(response: Record<string, unknown> | null): Record<string, unknown> {
  return {
    request_metrics: { text: { input_tokens: 512 }, image: null, video: null, audio: null },
    response_metrics: response,
    extra_info: {},
    lora_adapter: null,
    labels: {},
    input_tokens: 512,
  };
}

/** Minimal block YAML for plain nested objects (what PyYAML's dump writes for a config). */
function toYaml(v: unknown, indent = ''): string {
  if (v === null || typeof v !== 'object') return `${JSON.stringify(v)}\n`;
  if (Array.isArray(v)) return '\n' + v.map((x) => `${indent}- ${toYaml(x, indent + '  ').trimStart()}`).join('');
  const entries = Object.entries(v as Record<string, unknown>);
  return (indent ? '\n' : '') + entries.map(([k, x]) => `${indent}${k}:${x !== null && typeof x === 'object' ? toYaml(x, indent + '  ') : ' ' + toYaml(x)}`).join('');
}
