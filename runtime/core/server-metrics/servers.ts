import type { ServerType } from '../scenario/servers.ts';
import type { ServerDistributionName } from '../summary/server-account.ts';
import type { Exposition, Labels } from './parse.ts';

/**
 * What each server's Prometheus endpoint calls the numbers the server account reads, written from
 * the servers' source (file and commit on each entry). Names are as they appear in the exposition:
 * Python's prometheus_client writes a counter `x` as `x_total` (its TYPE line too), and an
 * unlabelled metrics-rs counter (TGI) keeps its bare name.
 *
 * Series appear at their first increment in all three (prometheus_client creates a labelled child
 * on `.labels()`, SGLang's multiprocess collector reads only the values written so far, metrics-rs
 * renders a metric once recorded), so a counter a recognised server does not show yet is 0.
 */

export type MetricsServer = Extract<ServerType, 'vllm' | 'sglang' | 'tgi'>;

/** A counter summed over its label sets, less the label values `exclude` names. */
export interface CounterSource {
  readonly name: string;
  readonly exclude?: { readonly label: string; readonly values: readonly string[] };
}

export interface ServerMetricNames {
  readonly server: MetricsServer;
  /** How the server is called in notes. */
  readonly title: string;
  /** Every metric of the server's own starts so (process_* and python_* are everybody's). */
  readonly prefix: string;
  /** Requests the server finished: the counter `seen` is the delta of. */
  readonly finished: CounterSource;
  /** Prefix-cache lookups in tokens, newest names first: the first whose `queries` the exposition shows is read. Empty: none. */
  readonly prefixCache: ReadonlyArray<{ readonly queries: CounterSource; readonly hits: CounterSource }>;
  /** The histogram (seconds) behind each server-side distribution; null where the server has none. */
  readonly latency: Readonly<Record<ServerDistributionName, string | null>>;
  /** The label naming the served model, filtered on when the run's model is given; null: unlabelled. */
  readonly modelLabel: string | null;
}

/** Set by the process collector of Python's prometheus_client (vLLM; SGLang's multiprocess registry has none; TGI has none). */
export const PROCESS_START_TIME = 'process_start_time_seconds';

export const serverMetricNames: Readonly<Record<MetricsServer, ServerMetricNames>> = {
  // vllm-project/vllm vllm/v1/metrics/loggers.py @ 005a810bc40faa25b8870fbc8559c3462581eee3,
  // PrometheusStatLogger: every metric labelled [model_name, engine] (one engine per data-parallel
  // rank, all of them pre-created, so the series are there from the start).
  vllm: {
    server: 'vllm',
    title: 'vLLM',
    prefix: 'vllm:',
    // Counter "vllm:request_success", labels + finished_reason (FinishReason: stop, length, abort),
    // incremented once per finished request. `abort` is left out: a request the client gave up on
    // (one of this run's that timed out included) is not a success, and `ours` counts successes.
    finished: { name: 'vllm:request_success_total', exclude: { label: 'finished_reason', values: ['abort'] } },
    prefixCache: [
      // Counters "vllm:prefix_cache_queries" / "vllm:prefix_cache_hits": queried and cached tokens.
      { queries: { name: 'vllm:prefix_cache_queries_total' }, hits: { name: 'vllm:prefix_cache_hits_total' } },
      // Their names before 0.9 (still written beside them, "DEPRECATED" in their help).
      { queries: { name: 'vllm:gpu_prefix_cache_queries_total' }, hits: { name: 'vllm:gpu_prefix_cache_hits_total' } },
    ],
    latency: {
      ttft: 'vllm:time_to_first_token_seconds',
      queue: 'vllm:request_queue_time_seconds',
      prefill: 'vllm:request_prefill_time_seconds',
      decode: 'vllm:request_decode_time_seconds',
      e2e: 'vllm:e2e_request_latency_seconds',
    },
    modelLabel: 'model_name',
  },
  // sgl-project/sglang python/sglang/srt/metrics/collector.py @ 00ae9c1590d2d0bb6c0bfff39e312c34ae3dd538.
  // TokenizerMetricsCollector (labels {model_name, …custom}) and SchedulerMetricsCollector (labels
  // {model_name, engine_type, tp_rank, pp_rank, moe_ep_rank}; only attention-TP rank 0 records
  // unless --enable-metrics-for-all-schedulers, which would count each request once per TP rank).
  sglang: {
    server: 'sglang',
    title: 'SGLang',
    prefix: 'sglang:',
    // "sglang:num_requests_total", incremented in observe_one_finished_request once per finished
    // request; it has no finish-reason label, so unlike vLLM's nothing can be left out.
    finished: { name: 'sglang:num_requests_total' },
    // No queries/hits counters: "sglang:cached_tokens_total" (cached prompt tokens) against
    // "sglang:prompt_tokens_total" (prompt tokens), both added once per finished request, give the
    // same token ratio vLLM's counters do. The gauge "sglang:cache_hit_rate" is not read: it is the
    // scheduler's rate at its last log interval, not a count over the run's window.
    prefixCache: [{ queries: { name: 'sglang:prompt_tokens_total' }, hits: { name: 'sglang:cached_tokens_total' } }],
    latency: {
      ttft: 'sglang:time_to_first_token_seconds',
      // Scheduler: wait-queue entry to forward entry.
      queue: 'sglang:queue_time_seconds',
      // Only "sglang:per_stage_req_latency_seconds" by stage label, whose stages are not the
      // request's prefill and decode.
      prefill: null,
      decode: null,
      e2e: 'sglang:e2e_request_latency_seconds',
    },
    modelLabel: 'model_name',
  },
  // huggingface/text-generation-inference router/src/server.rs @ db931fcf42da018a3657580c64bf2720f167f9ab:
  // generate (l. 415-421) and generate_stream (l. 620-625) record, per successful request,
  // metrics::counter!("tgi_request_success") and histograms tgi_request_duration,
  // tgi_request_validation_duration, tgi_request_queue_duration, tgi_request_inference_duration,
  // tgi_request_mean_time_per_token_duration; every "…duration" histogram has 35 buckets
  // 0.0001·1.5^k s, k = 1..35 (l. 1938-1947). No labels; tgi_request_count counts requests received.
  tgi: {
    server: 'tgi',
    title: 'TGI',
    prefix: 'tgi_',
    finished: { name: 'tgi_request_success' },
    prefixCache: [],
    latency: {
      // No time-to-first-token histogram.
      ttft: null,
      queue: 'tgi_request_queue_duration',
      // Prefill and decode are timed per batch (tgi_batch_inference_duration{method}), not per
      // request; tgi_request_inference_duration is both together.
      prefill: null,
      decode: null,
      // total_time: validation + queue + inference.
      e2e: 'tgi_request_duration',
    },
    modelLabel: null,
  },
};

/** The server whose own metric names the exposition shows most of; null when it shows none. */
export function recognizeServer(exposition: Exposition): MetricsServer | null {
  let best: MetricsServer | null = null;
  let bestCount = 0;
  for (const names of Object.values(serverMetricNames)) {
    let count = 0;
    for (const n of exposition.names) if (n.startsWith(names.prefix)) count += 1;
    if (count > bestCount) {
      best = names.server;
      bestCount = count;
    }
  }
  return best;
}

/** Whether a counter source keeps this label set (its excluded values left out). */
export function counts(source: CounterSource, labels: Labels): boolean {
  const ex = source.exclude;
  if (!ex) return true;
  const v = labels[ex.label];
  return v === undefined || !ex.values.includes(v);
}
