/**
 * The simulator's `/metrics`: a small Prometheus text exposition with vLLM's metric names
 * (hand-written; values as floats like prometheus_client). Pure: the counts are passed in.
 */

export interface ModelCounters {
  /** Prompt tokens prefilled. */
  promptTokens: number;
  /** Tokens generated. */
  generationTokens: number;
  /** Requests finished normally. */
  success: number;
}

export interface MetricsSnapshot {
  models: readonly string[];
  running(model: string): number;
  waiting(model: string): number;
  counters(model: string): ModelCounters;
  /** `{handler="…",method="…",status="2xx"}` → count. */
  http: ReadonlyMap<string, number>;
}

export function prometheusText(m: MetricsSnapshot): string {
  const f = (n: number): string => (Number.isInteger(n) ? `${n}.0` : String(n));
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${type === 'counter' ? `${name}_total` : name}${labels} ${f(value)}`);
  };
  const perModel = (count: (model: string) => number): Array<[string, number]> => m.models.map((model) => [`{model_name="${model}"}`, count(model)]);
  family('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', perModel(m.running));
  family('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', perModel(m.waiting));
  family('vllm:prompt_tokens', 'counter', 'Number of prefill tokens processed.', perModel((x) => m.counters(x).promptTokens));
  family('vllm:generation_tokens', 'counter', 'Number of generation tokens processed.', perModel((x) => m.counters(x).generationTokens));
  family(
    'vllm:request_success',
    'counter',
    'Count of successfully processed requests.',
    m.models.map((model): [string, number] => [`{finished_reason="length",model_name="${model}"}`, m.counters(model).success]),
  );
  family('http_requests', 'counter', 'Total number of requests by method, status and handler.', [...m.http.entries()]);
  return `${lines.join('\n')}\n`;
}

const knownHandlers = ['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions', '/tokenize', '/detokenize'];

/** The label set of one answered request, as prometheus-fastapi-instrumentator groups them. */
export function httpLabels(path: string, method: string, status: number): string {
  const handler = knownHandlers.includes(path) ? path : 'none';
  return `{handler="${handler}",method="${method}",status="${Math.floor(status / 100)}xx"}`;
}
