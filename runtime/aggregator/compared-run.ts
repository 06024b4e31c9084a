import { estimateKeyMetrics, type MetricSource } from '../core/compare/compare.ts';
import { InputError, validate } from '../core/errors.ts';
import type { ComparedRun } from '../core/history/comparison.ts';
import { LatencyHistogram } from '../core/metrics/latency-histogram.ts';
import type { RunStore } from '../core/ports/run-store.ts';
import { HISTOGRAMS_FILE, SUMMARY_FILE } from '../core/run-layout.ts';
import { Summary } from '../core/summary/schema.ts';
import type { HistogramsFile } from '../core/summary/finalize.ts';

/**
 * An aggregated run as a comparison needs it: summary.json (identity, validity, context) and the
 * key metrics' estimates from histograms.json — the merged HDR histograms, so the uncertainty
 * comes from the run's own samples. Read-only.
 */
export async function loadComparedRun(store: RunStore): Promise<{ summary: Summary; run: ComparedRun }> {
  const summaryText = await store.readText(SUMMARY_FILE).catch(() => null);
  const histogramsText = await store.readText(HISTOGRAMS_FILE).catch(() => null);
  if (summaryText === null || histogramsText === null) {
    throw new InputError(store.location, [`has no ${summaryText === null ? SUMMARY_FILE : HISTOGRAMS_FILE}: it is not an aggregated run`], `run \`inference-baseline aggregate ${store.location}\` first (or point at the run's own directory).`);
  }
  const parsed = validate(Summary, JSON.parse(summaryText), { max: 5 });
  if (!parsed.ok) throw new InputError(`${store.location} ${SUMMARY_FILE}`, parsed.problems, 'aggregate the run again with this version.');
  const summary = parsed.data;
  if (!summary.context) {
    throw new InputError(`${store.location} ${SUMMARY_FILE}`, ['has no run context (it was aggregated by an earlier version)'], `aggregate it again: \`inference-baseline aggregate ${store.location}\`.`);
  }
  const histograms = JSON.parse(histogramsText) as HistogramsFile;
  const dists = Object.fromEntries(
    (['ttft', 'itl', 'tpot', 'e2e'] as const).map((name) => {
      const encoded = histograms.metrics?.[name];
      return [name, encoded ? LatencyHistogram.decode(encoded) : LatencyHistogram.empty()];
    }),
  ) as Record<MetricSource, LatencyHistogram>;
  return {
    summary,
    run: { runId: summary.run.runId, startedAt: summary.run.startedAt, valid: summary.validity.valid, context: summary.context, estimates: estimateKeyMetrics(dists) },
  };
}
