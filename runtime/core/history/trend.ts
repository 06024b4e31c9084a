import { KEY_METRICS, type KeyMetric, type RunEstimates } from '../compare/compare.ts';
import { byStart, type HistoryEntry } from './entry.ts';

/** The key metrics over the runs a comparison used and this run (last): report.html's trend chart. */
export interface TrendData {
  runIds: string[];
  startedAt: Array<string | null>;
  metrics: Record<KeyMetric, Array<number | null>>;
  /** Index of this run (the last point, drawn highlighted). */
  current: number;
}

export function trendOf(window: readonly HistoryEntry[], run: { runId: string; startedAt: string | null }, estimates: RunEstimates): TrendData {
  const points = [...window].sort(byStart).map((e) => ({ runId: e.runId, startedAt: e.startedAt, metrics: e.metrics as RunEstimates }));
  points.push({ runId: run.runId, startedAt: run.startedAt, metrics: estimates });
  const metrics = Object.fromEntries(KEY_METRICS.map((m) => [m.name, points.map((p) => p.metrics[m.name]?.value ?? null)])) as TrendData['metrics'];
  return { runIds: points.map((p) => p.runId), startedAt: points.map((p) => p.startedAt), metrics, current: points.length - 1 };
}
