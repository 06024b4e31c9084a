import { KEY_METRICS } from '../compare/compare.ts';
import { metricDefinitions } from '../metrics/definitions.ts';
import { VALIDITY_DEFAULTS } from '../scenario/validity-rules.ts';
import type { Summary } from './schema.ts';
import { NOTABLE_STEAL } from './validity.ts';

/**
 * The one list of metrics a run publishes to CloudWatch: Publish emits exactly these, and the
 * stack's dashboard, alarms and definitions text are built from the same entries, so what one
 * side emits is what the other side reads (names, units, the one dimension set).
 */

/** CloudWatch units used by the run metrics. */
export type MetricUnit = 'Milliseconds' | 'Count' | 'Percent' | 'Count/Second';

export interface PublishedMetric {
  name: string;
  unit: MetricUnit;
  /** How it is read from summary.json; null = the run has no such value (never sent as 0 or NaN). */
  read(s: Summary): number | null;
  /** What the number means, for the dashboard's definitions text. */
  definition: string;
  /** Dashboard grouping. */
  group: 'latency' | 'schedule' | 'requests' | 'throughput' | 'verdict' | 'comparison' | 'server';
  /** How a day's value is read back (one run a night): the worst of the day. */
  statistic: 'Maximum' | 'Minimum';
}

export const defaultNamespace = 'InferenceBaseline';

/**
 * CloudWatch's namespace rule (its user guide: letters, digits, period, hyphen, underscore, slash,
 * hash, colon and space; 1–255 characters; PutMetricData's pattern `[^:].*`), and not `AWS/`, which
 * is AWS's own. The stack's `metricNamespace` and `aggregate --namespace` both use it.
 */
export const METRIC_NAMESPACE = /^(?!AWS\/)(?!:)(?=.*\S)[0-9A-Za-z.\-_/#: ]{1,255}$/;
export const METRIC_NAMESPACE_RULE = '1–255 letters, digits, spaces and . - _ / # :, not starting with ":" or "AWS/"';

/** The one dimension set every run metric carries. */
export const metricDimensionNames = ['Model', 'Scenario'] as const;
export type MetricDimensions = Record<(typeof metricDimensionNames)[number], string>;

/** Dimensions of a run: its model and scenario as the workflow names them (the RunSpec). */
export function runDimensions(run: { model: string; scenario: string }): MetricDimensions {
  return { Model: run.model, Scenario: run.scenario };
}

export const latencyMetrics = ['ttft', 'itl', 'tpot', 'ntpot', 'e2e'] as const;
export const publishedPercentiles = ['p50', 'p90', 'p99'] as const;
export type PublishedPercentile = (typeof publishedPercentiles)[number];

/** `<metric>_<percentile>`, e.g. `ttft_p99`. */
export function percentileMetricName(metric: string, p: PublishedPercentile): string {
  return `${metric}_${p}`;
}

const latency: PublishedMetric[] = latencyMetrics.flatMap((m) =>
  publishedPercentiles.map((p) => ({
    name: percentileMetricName(m, p),
    unit: 'Milliseconds' as const,
    read: (s: Summary) => (s.latency[m].insufficient.includes(p) ? null : s.latency[m][p]),
    definition: `${m} ${p}: ${metricDefinitions[m]}`,
    group: 'latency' as const,
    statistic: 'Maximum' as const,
  })),
);
const schedule: PublishedMetric[] = publishedPercentiles.map((p) => ({
  name: percentileMetricName('schedule_delay', p),
  unit: 'Milliseconds',
  read: (s: Summary) => (s.load.schedule_delay.insufficient.includes(p) ? null : s.load.schedule_delay[p]),
  definition: `schedule_delay ${p}: ${metricDefinitions.schedule_delay} (p99 must stay < ${VALIDITY_DEFAULTS.maxScheduleDelayP99Ms} ms for a valid baseline, by default)`,
  group: 'schedule',
  statistic: 'Maximum',
}));
const steal: PublishedMetric = {
  name: 'cpu_steal',
  unit: 'Percent',
  read: (s: Summary) => (s.load.cpuSteal === null ? null : Math.round(s.load.cpuSteal * 1e4) / 100),
  definition: `cpu_steal: the share of the runner's machine's CPU time the hypervisor took while it sent (/proc/stat, the worst shard's); with ${NOTABLE_STEAL * 100} % or more, a late run is the host's doing`,
  group: 'schedule',
  statistic: 'Maximum',
};

/**
 * The server's own account (summary.server): its TTFT p50 graphed beside the client's (the gap is
 * the path: network, proxy, tokenizer front end), and the requests it finished that were not the
 * run's. Absent when the metrics were not read, never sent as 0.
 */
const server: PublishedMetric[] = [
  {
    name: 'server_ttft_p50',
    unit: 'Milliseconds',
    read: (s) => s.server?.ttft?.p50 ?? null,
    definition: "server_ttft_p50: TTFT p50 from the server's own histogram (vllm:time_to_first_token_seconds) over the run, interpolated within what its buckets and sum prove; beside ttft_p50, the difference is the path",
    group: 'server',
    statistic: 'Maximum',
  },
  {
    name: 'foreign_requests',
    unit: 'Count',
    read: (s) => s.server?.requests.foreign ?? null,
    definition: `foreign_requests: requests the server's replicas finished during the run that were not the run's (seen − ours); above ${VALIDITY_DEFAULTS.maxForeignRequests} by default, the run is invalid`,
    group: 'server',
    statistic: 'Maximum',
  },
];

/** A comparison with a verdict on the run's numbers (not "insufficient history", not an invalid run). */
function judged(s: Summary): NonNullable<Summary['comparison']> | null {
  const c = s.comparison;
  return c && (c.verdict === 'regressed' || c.verdict === 'improved' || c.verdict === 'unchanged') ? c : null;
}

/** `change_<key metric>`, e.g. `change_ttft_p50`: percent against the baseline window. */
export function changeMetricName(metric: string): string {
  return `change_${metric}`;
}

const comparison: PublishedMetric[] = [
  {
    name: 'RegressionCount',
    unit: 'Count',
    read: (s) => judged(s)?.metrics.filter((m) => m.verdict === 'regressed').length ?? null,
    definition: 'key metrics (ttft p50/p90/p99, itl p50/p99, tpot p50, e2e p50/p99) that regressed against the trailing window of earlier valid runs of the same workload and target; absent while the history is too short',
    group: 'comparison',
    statistic: 'Maximum',
  },
  ...KEY_METRICS.map(
    (k): PublishedMetric => ({
      name: changeMetricName(k.name),
      unit: 'Percent',
      read: (s) => {
        const change = judged(s)?.metrics.find((m) => m.metric === k.name)?.change;
        return change === undefined || change === null ? null : Math.round(change * 1e4) / 100;
      },
      definition: `${k.name} against the mean of the baseline window, in percent (positive: slower)`,
      group: 'comparison',
      statistic: 'Maximum',
    }),
  ),
];

export const publishedMetrics: readonly PublishedMetric[] = [
  ...latency,
  ...schedule,
  steal,
  { name: 'requests_sent', unit: 'Count', read: (s) => s.requests.sent, definition: 'requests sent', group: 'requests', statistic: 'Minimum' },
  { name: 'requests_succeeded', unit: 'Count', read: (s) => s.requests.succeeded, definition: 'requests that succeeded', group: 'requests', statistic: 'Minimum' },
  { name: 'requests_failed', unit: 'Count', read: (s) => s.requests.failed, definition: 'requests that failed', group: 'requests', statistic: 'Maximum' },
  {
    name: 'error_rate',
    unit: 'Percent',
    read: (s) => (s.requests.sent > 0 ? Math.round((s.requests.failed / s.requests.sent) * 1e6) / 1e4 : null),
    definition: 'failed requests / sent requests, in percent',
    group: 'requests',
    statistic: 'Maximum',
  },
  { name: 'achieved_rate', unit: 'Count/Second', read: (s) => s.load.achievedRate, definition: 'requests/s actually sent: (n − 1) / (last send − first send)', group: 'throughput', statistic: 'Minimum' },
  { name: 'output_tokens_per_s', unit: 'Count/Second', read: (s) => s.throughput.outputTokensPerS, definition: 'output tokens per second over the run', group: 'throughput', statistic: 'Minimum' },
  {
    name: 'RunValid',
    unit: 'Count',
    read: (s) => (s.validity.valid ? 1 : 0),
    definition: '1 when the run met every validity rule, else 0 (then it is not a baseline)',
    group: 'verdict',
    statistic: 'Minimum',
  },
  ...comparison,
  ...server,
];

/** The entry for `name`; throws for a name that is not published (a typo in an alarm must not pass silently). */
export function publishedMetric(name: string): PublishedMetric {
  const m = publishedMetrics.find((x) => x.name === name);
  if (!m) throw new Error(`"${name}" is not a published metric; published: ${publishedMetrics.map((x) => x.name).join(', ')}`);
  return m;
}

export interface MetricValue {
  name: string;
  unit: MetricUnit;
  value: number;
}

/**
 * The values one run publishes: a value the run does not have is left out, and so is a percentile
 * with too few samples to stand for what it names (p99 of 20 requests is their maximum).
 */
export function runMetricValues(s: Summary): MetricValue[] {
  const out: MetricValue[] = [];
  for (const m of publishedMetrics) {
    const value = m.read(s);
    if (value !== null && Number.isFinite(value)) out.push({ name: m.name, unit: m.unit, value });
  }
  return out;
}

/** The instant the metrics are stamped with: the run's end (else its start); null if neither is known. */
export function runTimestampMs(s: Pick<Summary, 'run'>): number | null {
  const iso = s.run.endedAt ?? s.run.startedAt;
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}
