import { z } from 'zod';
import { KEY_METRICS, type KeyMetric, type RunEstimates } from '../compare/compare.ts';
import type { Summary } from '../summary/schema.ts';
import { RunContext } from '../summary/context.ts';
import { ServerTtft, serverTtftOf } from './attribution.ts';

/**
 * One run in its series' history: small (about 3 kB), written once per aggregation by the
 * aggregator alone, one object/file per run — so two runs never race on a shared index, and a
 * re-aggregation replaces only its own entry. Valid or not, every aggregated run leaves one; only
 * valid ones become baselines.
 */

const keyMetricNames = KEY_METRICS.map((m) => m.name) as [KeyMetric, ...KeyMetric[]];

export const MetricEstimate = z.object({
  value: z.number().nullable(),
  se: z.number().nullable(),
  n: z.number().int().nonnegative(),
  supported: z.boolean(),
});

export const HistoryEntry = z.object({
  v: z.literal(1),
  runId: z.string(),
  scenario: z.string(),
  model: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  valid: z.boolean(),
  partial: z.boolean(),
  reasons: z.array(z.string()),
  context: RunContext,
  /** Each key metric's value (ms), standard error and sample count: all a later comparison needs. */
  metrics: z.record(z.enum(keyMetricNames), MetricEstimate),
  /** This run's own comparison when it was aggregated (null: it was not compared). */
  verdict: z.string().nullable(),
  regressed: z.array(z.string()),
  /** What changed against the previous run of the series. */
  changes: z.array(z.string()),
  /** Where the run's files are (its directory or s3:// prefix): summary.json and histograms.json are there. */
  location: z.string(),
  /** The server's own TTFT p50 (summary.server.ttft), for whose a TTFT change is; null without it (and in entries written before it). */
  serverTtft: ServerTtft.nullable().default(null),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export function historyEntry(summary: Summary, context: RunContext, estimates: RunEstimates, location: string): HistoryEntry {
  const c = summary.comparison;
  return {
    v: 1,
    runId: summary.run.runId,
    scenario: summary.run.scenario,
    model: summary.run.model,
    startedAt: summary.run.startedAt,
    endedAt: summary.run.endedAt,
    valid: summary.validity.valid,
    partial: summary.run.partial,
    reasons: summary.validity.reasons,
    context,
    metrics: estimates,
    verdict: c ? c.verdict : null,
    regressed: c ? c.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric) : [],
    changes: c ? c.changes : [],
    location,
    serverTtft: serverTtftOf(summary.server),
  };
}

/** Chronological order: by start time, then run id (run ids begin with their UTC start). */
export function byStart(a: Pick<HistoryEntry, 'startedAt' | 'runId'>, b: Pick<HistoryEntry, 'startedAt' | 'runId'>): number {
  const ta = a.startedAt ? Date.parse(a.startedAt) : Number.NaN;
  const tb = b.startedAt ? Date.parse(b.startedAt) : Number.NaN;
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta - tb;
  return a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}
