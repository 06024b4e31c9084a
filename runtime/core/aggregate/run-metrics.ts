import type { Summary } from '../metrics/summary.ts';

/** CloudWatch units used by the run metrics. */
export type RunMetricUnit = 'Milliseconds' | 'Count' | 'Percent' | 'Count/Second';

export interface RunMetric {
  name: string;
  unit: RunMetricUnit;
  value: number;
}

export const defaultNamespace = 'InferenceBaseline';

/** The dimension set every run metric carries (one set: Model × Scenario). */
export function runDimensions(s: Pick<Summary, 'run'>): { Model: string; Scenario: string } {
  return { Model: s.run.model, Scenario: s.run.scenario };
}

const latency = ['ttft', 'itl', 'tpot', 'ntpot', 'e2e'] as const;
const percentiles = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
] as const;

/**
 * The metrics published for one run (DESIGN.md §3 names), computed from its summary:
 * `<metric>_p50|p90|p99` (ms) for ttft, itl, tpot, ntpot, e2e and schedule_delay;
 * `requests_sent|succeeded|failed` (Count); `error_rate` (Percent, 0–100: failed / sent);
 * `achieved_rate` (Count/Second); `output_tokens_per_s` (Count/Second); `RunValid` (Count, 1 or 0).
 * A value the run does not have (e.g. ttft when nothing succeeded) is left out, never sent as 0 or NaN.
 * At most 25 metrics: well under EMF's 100 per directive.
 */
export function runMetrics(s: Summary): RunMetric[] {
  const out: RunMetric[] = [];
  const push = (name: string, unit: RunMetricUnit, value: number | null): void => {
    if (value !== null && Number.isFinite(value)) out.push({ name, unit, value });
  };
  for (const m of latency) for (const [key, suffix] of percentiles) push(`${m}_${suffix}`, 'Milliseconds', s.latency[m][key]);
  for (const [key, suffix] of percentiles) push(`schedule_delay_${suffix}`, 'Milliseconds', s.load.schedule_delay[key]);
  push('requests_sent', 'Count', s.requests.sent);
  push('requests_succeeded', 'Count', s.requests.succeeded);
  push('requests_failed', 'Count', s.requests.failed);
  push('error_rate', 'Percent', s.requests.sent > 0 ? Math.round((s.requests.failed / s.requests.sent) * 1e6) / 1e4 : null);
  push('achieved_rate', 'Count/Second', s.load.achievedRate);
  push('output_tokens_per_s', 'Count/Second', s.throughput.outputTokensPerS);
  push('RunValid', 'Count', s.validity.valid ? 1 : 0);
  return out;
}

/** The instant the metrics are stamped with: the run's end (else its start); null if neither is known. */
export function runTimestampMs(s: Pick<Summary, 'run'>): number | null {
  const iso = s.run.endedAt ?? s.run.startedAt;
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}
