import { z } from 'zod';
import { issueProblems } from '../errors.ts';
import { withSampleCheck, type DistributionStats } from '../metrics/latency-histogram.ts';
import { recordTimeProblem } from './checks.ts';
import type { ErrorType, RequestRecord } from './record.ts';

/**
 * inference-perf's output files (kubernetes-sigs/inference-perf v0.2.0 … v0.6.x) → this
 * project's records and load facts.
 *
 * Its times are `time.perf_counter()` seconds: monotonic, no epoch. Records keep that clock
 * (converted to ms), so every duration is exact; only the run's start/end instants need an epoch
 * anchor, which the aggregator supplies (see `anchorRunTimes`). Its records carry no scheduled time
 * and no stage: schedule delay exists only in its summary files, as percentiles (seconds).
 */

const num = z.number();
const optNum = num.nullable().optional();

const ServerUsage = z
  .object({ prompt_tokens: optNum, completion_tokens: optNum })
  .nullable()
  .optional();

/** Only the fields read; everything else (prompt/response text, chunks) is ignored. */
export const InferencePerfRecord = z.object({
  start_time: num,
  end_time: num,
  info: z
    .object({
      // v0.2.0 shape
      input_tokens: optNum,
      output_tokens: optNum,
      output_token_times: z.array(num).nullable().optional(),
      // v0.6.x shape
      request_metrics: z.object({ text: z.object({ input_tokens: optNum }).nullable().optional() }).nullable().optional(),
      response_metrics: z
        .object({
          output_tokens: optNum,
          server_usage: ServerUsage,
          chunk_times: z.array(num).nullable().optional(),
          output_token_times: z.array(num).nullable().optional(),
        })
        .nullable()
        .optional(),
    })
    .nullable(),
  error: z.object({ error_type: z.string(), error_msg: z.string() }).nullable().optional(),
});
export type InferencePerfRecord = z.infer<typeof InferencePerfRecord>;

/** What the scenario asked of each request, when fixed (so token counts can be checked). */
export interface InferencePerfContext {
  runId: string;
  requestedInputTokens: number | null;
  requestedOutputTokens: number | null;
}

export type ElementResult = { ok: true; record: RequestRecord } | { ok: false; problem: string };

/**
 * One element of `per_request_lifecycle_metrics.json` → a checked record (`seq` = position in the
 * file, i.e. completion order; stage 0; `scheduledAt` null; times in perf_counter ms).
 *
 * Content times: v0.6.x `response_metrics.chunk_times` (one per content-bearing SSE event, the same
 * definition as the native runner); v0.2.0 `info.output_token_times` (that version also timestamps
 * blank SSE lines and `[DONE]`, a known bug: its ITL is near 0 — it is read as written).
 */
export function normalizeInferencePerfRecord(raw: unknown, index: number, ctx: InferencePerfContext): ElementResult {
  const parsed = InferencePerfRecord.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, problem: `not an inference-perf request record (${issueProblems(parsed.error.issues, { max: 3 }).join('; ')})` };
  }
  const p = parsed.data;
  const info = p.info;
  const rm = info?.response_metrics ?? null;
  const seconds = rm?.chunk_times ?? rm?.output_token_times ?? info?.output_token_times ?? [];
  const contentTimes = seconds.map(ms);
  const usage = rm?.server_usage ?? null;
  const clientIn = intOrNull(info?.request_metrics?.text?.input_tokens ?? info?.input_tokens);
  const clientOut = intOrNull(rm?.output_tokens ?? info?.output_tokens);
  const serverIn = intOrNull(usage?.prompt_tokens);
  const serverOut = intOrNull(usage?.completion_tokens);
  const error = p.error ? mapError(p.error.error_type, p.error.error_msg) : null;
  const record: RequestRecord = {
    v: 1,
    runId: ctx.runId,
    shard: 0,
    seq: index,
    stage: 0,
    scheduledAt: null,
    sentAt: ms(p.start_time),
    firstTokenAt: contentTimes[0] ?? null,
    doneAt: ms(p.end_time),
    contentTimes,
    inputTokens: { requested: ctx.requestedInputTokens ?? serverIn ?? clientIn ?? 0, client: clientIn, server: serverIn },
    outputTokens: { requested: ctx.requestedOutputTokens ?? serverOut ?? clientOut ?? 0, client: clientOut, server: serverOut },
    status: error ? error.status : 200,
    error: error ? { type: error.type, message: error.message } : null,
  };
  const problem = recordTimeProblem(record);
  return problem === null ? { ok: true, record } : { ok: false, problem };
}

function ms(seconds: number): number {
  return seconds * 1000;
}

function intOrNull(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : null;
}

/** inference-perf's free-text error types → this project's small set; the original is kept in the message. */
export function mapError(errorType: string, message: string): { type: ErrorType; status: number | null; message: string } {
  const text = `${errorType}: ${message}`;
  const http = /^HTTP Error (\d{3})/.exec(errorType);
  if (http) return { type: 'http_status', status: Number(http[1]), message: text };
  if (/timeout|timed.?out/i.test(text)) return { type: 'timeout', status: null, message: text };
  if (/connect|refused|dns|ClientOSError/i.test(text)) return { type: 'connect', status: null, message: text };
  if (/interrupt|payload|disconnect|reset|incomplete|abort/i.test(text)) return { type: 'aborted', status: null, message: text };
  if (/cancel/i.test(text)) return { type: 'cancelled', status: null, message: text };
  return { type: 'protocol', status: null, message: text };
}

// ─── summary_lifecycle_metrics.json / stage_<i>_lifecycle_metrics.json ─────────────────────────

const D = z
  .object({
    mean: num,
    min: num,
    median: num,
    p90: num.optional(),
    p95: num.optional(),
    p99: num.optional(),
    'p99.9': num.optional(),
    max: num,
  })
  .nullable()
  .optional();

export const InferencePerfLifecycle = z.object({
  benchmark_time_seconds: num.nullable().optional(),
  load_summary: z.object({
    count: num,
    schedule_delay: D,
    send_duration: num.nullable().optional(),
    requested_rate: num.nullable().optional(),
    achieved_rate: num.nullable().optional(),
  }),
  successes: z.object({ count: num }).nullable().optional(),
  failures: z.object({ count: num }).nullable().optional(),
});
export type InferencePerfLifecycle = z.infer<typeof InferencePerfLifecycle>;

/** Their percentile block (seconds) → our stats (ms); percentiles they did not compute stay null. */
export function lifecycleScheduleDelay(l: InferencePerfLifecycle): DistributionStats | null {
  const d = l.load_summary.schedule_delay;
  if (!d) return null;
  const m = (s: number | undefined): number | null => (s === undefined ? null : Math.round(s * 1e6) / 1000);
  return withSampleCheck({
    count: l.load_summary.count,
    mean: m(d.mean),
    min: m(d.min),
    p50: m(d.median),
    p90: m(d.p90),
    p95: m(d.p95),
    p99: m(d.p99),
    p999: m(d['p99.9']),
    max: m(d.max),
  });
}

// ─── config.yaml (YAML locally, compact JSON in S3; either way a full model_dump) ──────────────

const Dist = z
  .object({
    type: z.string().nullable().optional(),
    min: optNum,
    max: optNum,
    mean: optNum,
    std_dev: optNum,
    variance: optNum,
  })
  .nullable()
  .optional();

/** The fields the aggregator needs from inference-perf's dumped config; everything else is ignored. */
export const InferencePerfConfig = z.object({
  api: z.object({ type: z.string().nullable().optional(), streaming: z.boolean().nullable().optional() }).nullable().optional(),
  data: z.object({ input_distribution: Dist, output_distribution: Dist }).nullable().optional(),
  load: z
    .object({
      type: z.string().nullable().optional(),
      stages: z.array(z.object({ rate: num, duration: num })).nullable().optional(),
    })
    .nullable()
    .optional(),
  server: z
    .object({
      model_name: z.string().nullable().optional(),
      base_url: z.string().nullable().optional(),
      ignore_eos: z.boolean().nullable().optional(),
    })
    .nullable()
    .optional(),
});
export type InferencePerfConfig = z.infer<typeof InferencePerfConfig>;

export interface InferencePerfSettings {
  model: string | null;
  target: string | null;
  api: 'completion' | 'chat';
  streaming: boolean;
  arrival: 'normalized-exponential' | 'poisson';
  stages: Array<{ rate: number; duration: number }>;
  ignoreEos: boolean;
  inputTokens: number | null;
  outputTokens: number | null;
}

/** Applies inference-perf's own defaults (api completion, streaming false, ignore_eos true, constant load). */
export function inferencePerfSettings(c: InferencePerfConfig): InferencePerfSettings {
  return {
    model: c.server?.model_name ?? null,
    target: c.server?.base_url ?? null,
    api: c.api?.type === 'chat' ? 'chat' : 'completion',
    streaming: c.api?.streaming ?? false,
    // inference-perf's "constant" is exponential gaps rescaled to the stage duration.
    arrival: c.load?.type === 'poisson' ? 'poisson' : 'normalized-exponential',
    stages: c.load?.stages ?? [],
    ignoreEos: c.server?.ignore_eos ?? true,
    inputTokens: fixedTokens(c.data?.input_distribution),
    outputTokens: fixedTokens(c.data?.output_distribution),
  };
}

/** A distribution that always yields one value (v0.2 min = max or std_dev 0; v0.5+ type fixed). */
function fixedTokens(d: z.infer<typeof Dist>): number | null {
  if (!d) return null;
  if (d.type === 'fixed') return d.mean ?? null;
  if (d.type && d.type !== 'normal') return null;
  if (d.min != null && d.min === d.max) return d.min;
  if (d.std_dev === 0 && d.mean != null && (d.min == null || d.min <= d.mean) && (d.max == null || d.max >= d.mean)) return d.mean;
  return null;
}

/** File names inference-perf writes (after its optional `report_file_prefix`). */
export const inferencePerfFiles = {
  perRequest: 'per_request_lifecycle_metrics.json',
  summary: 'summary_lifecycle_metrics.json',
  config: 'config.yaml',
  stage: /^stage_(\d+)_lifecycle_metrics\.json$/,
} as const;
