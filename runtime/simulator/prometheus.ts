/**
 * The simulator's `/metrics`: the Prometheus text exposition (format 0.0.4) of vLLM V1's metrics,
 * hand-written the way `prometheus_client.generate_latest` writes them. Pure: the state is passed in.
 *
 * Names, help texts, labels and buckets are vLLM's, read from `vllm/v1/metrics/loggers.py`
 * (`PrometheusStatLogger.__init__` and `.record`, vllm-project/vllm commit 005a810 as stored):
 * - every metric is labelled `labelnames = ["model_name", "engine"]`, one child per engine
 *   (`make_per_engine`: `engine="0"` for a single engine); `vllm:request_success` adds
 *   `finished_reason`, a child for each `FinishReason` (`stop`, `length`, `abort` in that release;
 *   newer ones add `error`, `repetition`), so every reason is exposed from the start at 0;
 * - counters `vllm:prompt_tokens`, `vllm:generation_tokens`, `vllm:request_success`,
 *   `vllm:prefix_cache_queries` / `vllm:prefix_cache_hits` ("in terms of number of queried / cached
 *   tokens"), exposed as `<name>_total`;
 * - histograms `vllm:time_to_first_token_seconds` (its own buckets, 1 ms … 2560 s) and, all on
 *   `request_latency_buckets` (0.3 s … 7680 s), `vllm:e2e_request_latency_seconds`,
 *   `vllm:request_queue_time_seconds`, `vllm:request_prefill_time_seconds`,
 *   `vllm:request_decode_time_seconds` — the last four observed once per finished request
 *   (`for finished_request in iteration_stats.finished_requests`), with the intervals of
 *   `vllm/v1/metrics/stats.py` `update_from_finished_request`: e2e = since arrival; queue = first
 *   scheduled − queued; prefill = first token − first scheduled; decode = last token − first token.
 *   TTFT is not a finished request's: `update_from_output` observes it (`time_to_first_tokens_iter`,
 *   time since arrival) and adds the prompt to `vllm:prompt_tokens` in the step that produces a
 *   request's first token — so a request that later fails or is abandoned by its client is in the
 *   TTFT histogram and the prompt-token count, but not in `request_success` or the other four.
 *   The bucket lists are unchanged in `vllm/v1/metrics/buckets.py` (`TIME_TO_FIRST_TOKEN_BUCKETS`,
 *   `REQUEST_LATENCY_BUCKETS`), where later releases moved them.
 *
 * prometheus_client's text format: a counter's family is named with its `_total` in HELP and TYPE;
 * labels are sorted by name; a histogram child writes its cumulative `_bucket`s (`le` last `+Inf`),
 * then `_count`, then `_sum`; numbers as Go prints floats (`floatToGoString`: `1.0`, `2560.0`,
 * `1.2345678e+07`). The `_created` series prometheus_client adds are left out.
 */

/** `vllm:time_to_first_token_seconds`' bucket upper bounds, seconds. */
export const ttftBuckets: readonly number[] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

/** vLLM's `request_latency_buckets` (e2e, queue, prefill, decode), seconds. */
export const requestLatencyBuckets: readonly number[] = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

/** The server-side latency histograms, in vLLM's registration order. */
export const latencyHistograms = {
  ttft: { name: 'vllm:time_to_first_token_seconds', help: 'Histogram of time to first token in seconds.', buckets: ttftBuckets },
  e2e: { name: 'vllm:e2e_request_latency_seconds', help: 'Histogram of e2e request latency in seconds.', buckets: requestLatencyBuckets },
  queue: { name: 'vllm:request_queue_time_seconds', help: 'Histogram of time spent in WAITING phase for request.', buckets: requestLatencyBuckets },
  prefill: { name: 'vllm:request_prefill_time_seconds', help: 'Histogram of time spent in PREFILL phase for request.', buckets: requestLatencyBuckets },
  decode: { name: 'vllm:request_decode_time_seconds', help: 'Histogram of time spent in DECODE phase for request.', buckets: requestLatencyBuckets },
} as const;
export type LatencyHistogramName = keyof typeof latencyHistograms;

/** vLLM's `FinishReason` values of the release the names were read from (`str(reason)`). */
export const finishedReasons = ['stop', 'length', 'abort'] as const;
export type FinishedReason = (typeof finishedReasons)[number];

/** One histogram child: per-bucket counts (the last one `+Inf`), their sum and count, as prometheus_client keeps them. */
export class Histogram {
  /** Observations per bucket, not cumulative; index `bounds.length` is `+Inf`. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** A value lands in the first bucket whose upper bound it does not exceed (`le` is inclusive). */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** `[le, cumulative count]` for every bucket, `+Inf` last (equal to `count`). */
  cumulative(): Array<[number, number]> {
    let acc = 0;
    return this.counts.map((n, i): [number, number] => [this.bounds[i] ?? Infinity, (acc += n)]);
  }
}

/** What one served model's engine has done, for `/metrics`. */
export interface ModelStats {
  /** Prompt tokens of the requests that produced a first token (cached ones included, as vLLM counts them). */
  promptTokens: number;
  /** Tokens generated. */
  generationTokens: number;
  /** Requests finished, by vLLM's finish reason. */
  success: Record<FinishedReason, number>;
  /** Prompt tokens looked up in the prefix cache, and those found. */
  prefixCacheQueries: number;
  prefixCacheHits: number;
  latency: Record<LatencyHistogramName, Histogram>;
}

export function newModelStats(): ModelStats {
  const latency = Object.fromEntries(Object.entries(latencyHistograms).map(([k, h]) => [k, new Histogram(h.buckets)])) as Record<LatencyHistogramName, Histogram>;
  return { promptTokens: 0, generationTokens: 0, success: { stop: 0, length: 0, abort: 0 }, prefixCacheQueries: 0, prefixCacheHits: 0, latency };
}

/** A finished request's server-side intervals, in milliseconds (observed in seconds); its TTFT was observed at its first token. */
export type FinishedIntervals = Record<Exclude<LatencyHistogramName, 'ttft'>, number>;

/**
 * A request produced its first token: its prompt is counted and its TTFT (ms since arrival)
 * observed, as `IterationStats.update_from_output` does for a request still prefilling.
 */
export function recordFirstToken(stats: ModelStats, promptTokens: number, ttftMs: number): void {
  stats.promptTokens += promptTokens;
  stats.latency.ttft.observe(ttftMs / 1000);
}

/** A request finished: count it and observe its intervals, as `PrometheusStatLogger.record` does. */
export function recordFinished(stats: ModelStats, reason: FinishedReason, intervalsMs: FinishedIntervals): void {
  stats.success[reason]++;
  for (const name of Object.keys(intervalsMs) as Array<keyof FinishedIntervals>) stats.latency[name].observe(intervalsMs[name] / 1000);
}

export interface MetricsSnapshot {
  models: readonly string[];
  running(model: string): number;
  waiting(model: string): number;
  stats(model: string): ModelStats;
  /** `{handler="…",method="…",status="2xx"}` → count. */
  http: ReadonlyMap<string, number>;
}

/** The engine index of every series: the simulator is one engine per process (vLLM without data parallelism). */
const engine = '0';

export function prometheusText(m: MetricsSnapshot): string {
  const lines: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter' | 'histogram', help: string): void => {
    lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  };
  const sample = (name: string, labels: Record<string, string>, value: number): void => {
    lines.push(`${name}${labelText(labels)} ${goFloat(value)}`);
  };
  const perModel = (name: string, type: 'gauge' | 'counter', help: string, value: (model: string) => number): void => {
    family(name, type, help);
    for (const model of m.models) sample(name, { model_name: model, engine }, value(model));
  };

  perModel('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', m.running);
  perModel('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', m.waiting);
  perModel('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.', (x) => m.stats(x).prefixCacheQueries);
  perModel('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', (x) => m.stats(x).prefixCacheHits);
  perModel('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', (x) => m.stats(x).promptTokens);
  perModel('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', (x) => m.stats(x).generationTokens);
  family('vllm:request_success_total', 'counter', 'Count of successfully processed requests.');
  for (const model of m.models) {
    for (const reason of finishedReasons) sample('vllm:request_success_total', { model_name: model, engine, finished_reason: reason }, m.stats(model).success[reason]);
  }
  for (const [key, h] of Object.entries(latencyHistograms) as Array<[LatencyHistogramName, (typeof latencyHistograms)[LatencyHistogramName]]>) {
    family(h.name, 'histogram', h.help);
    for (const model of m.models) {
      const child = m.stats(model).latency[key];
      for (const [le, n] of child.cumulative()) sample(`${h.name}_bucket`, { model_name: model, engine, le: goFloat(le) }, n);
      sample(`${h.name}_count`, { model_name: model, engine }, child.count);
      sample(`${h.name}_sum`, { model_name: model, engine }, child.sum);
    }
  }
  family('http_requests_total', 'counter', 'Total number of requests by method, status and handler.');
  for (const [labels, value] of m.http) lines.push(`http_requests_total${labels} ${goFloat(value)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * A number as prometheus_client writes it (`floatToGoString`): Python's `repr` of the float, with
 * Go's earlier switch to an exponent for large values; `+Inf`, `-Inf`, `NaN`.
 */
export function goFloat(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  const s = pythonRepr(n);
  const dot = s.indexOf('.');
  if (n > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

/**
 * Python's `repr(float)`: the shortest digits that round-trip (JavaScript finds the same ones), in
 * positional notation for decimal exponents −4 … 15 (`.0` on a whole number), else in exponent
 * notation with a signed exponent of at least two digits (`1e-05`, `1.5e+16`). JavaScript's own
 * `String` switches at other exponents (`0.00001`, `10000000000000000`), so it is not used as is.
 */
export function pythonRepr(n: number): string {
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = n.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  const s = String(n);
  return Number.isInteger(n) ? `${s}.0` : s;
}

/** `{a="x",b="y"}` with the labels sorted by name and their values escaped, as prometheus_client writes them. */
function labelText(labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function escapeHelp(help: string): string {
  return help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

const knownHandlers = ['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions', '/tokenize', '/detokenize'];

/** The label set of one answered request, as prometheus-fastapi-instrumentator groups them. */
export function httpLabels(path: string, method: string, status: number): string {
  const handler = knownHandlers.includes(path) ? path : 'none';
  return `{handler="${handler}",method="${method}",status="${Math.floor(status / 100)}xx"}`;
}
