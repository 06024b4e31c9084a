import { serverTtftOf } from '../core/history/attribution.ts';
import { estimateKeyMetrics, type MetricSource } from '../core/compare/compare.ts';
import { InputError, validate } from '../core/errors.ts';
import type { ComparedRun } from '../core/history/comparison.ts';
import { LatencyHistogram } from '../core/metrics/latency-histogram.ts';
import type { RunStore } from '../core/ports/run-store.ts';
import { HISTOGRAMS_FILE, SUMMARY_FILE } from '../core/run-layout.ts';
import { Summary } from '../core/summary/schema.ts';
import { describeRunsWithin, runsWithin } from './runs-within.ts';
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
    if (summaryText === null) await refuseResultsLocation(store);
    throw new InputError(store.location, [`has no ${summaryText === null ? SUMMARY_FILE : HISTOGRAMS_FILE}: it is not an aggregated run`], `run \`inference-baseline aggregate ${store.location}\` first (or point at the run's own directory).`);
  }
  const again = `aggregate it again: \`inference-baseline aggregate ${store.location}\` (the raw records are the source; these files are derived from them).`;
  const parsed = validate(Summary, parseJson(summaryText, `${store.location} ${SUMMARY_FILE}`, again), { max: 5 });
  if (!parsed.ok) throw new InputError(`${store.location} ${SUMMARY_FILE}`, parsed.problems, 'aggregate the run again with this version.');
  const summary = parsed.data;
  if (!summary.context) {
    throw new InputError(`${store.location} ${SUMMARY_FILE}`, ['has no run context (it was aggregated by an earlier version)'], `aggregate it again: \`inference-baseline aggregate ${store.location}\`.`);
  }
  const histograms = parseJson(histogramsText, `${store.location} ${HISTOGRAMS_FILE}`, again) as HistogramsFile;
  let dists: Record<MetricSource, LatencyHistogram>;
  try {
    dists = Object.fromEntries(
      (['ttft', 'itl', 'tpot', 'e2e'] as const).map((name) => {
        const encoded = histograms?.metrics?.[name];
        return [name, encoded ? LatencyHistogram.decode(encoded) : LatencyHistogram.empty()];
      }),
    ) as Record<MetricSource, LatencyHistogram>;
  } catch (err) {
    throw new InputError(`${store.location} ${HISTOGRAMS_FILE}`, [`holds a histogram that cannot be decoded (${(err as Error)?.message ?? String(err)})`], again);
  }
  return {
    summary,
    run: { runId: summary.run.runId, startedAt: summary.run.startedAt, valid: summary.validity.valid, context: summary.context, estimates: estimateKeyMetrics(dists), serverTtft: serverTtftOf(summary.server) },
  };
}

/**
 * A location holding runs rather than being one (the `--out` directory of `run`/`workflow`, a
 * bucket prefix): said as such, naming the newest run or two to compare instead. Aggregating the
 * results directory would not help, so that is not suggested. Returns when the location holds no run.
 */
async function refuseResultsLocation(store: RunStore): Promise<void> {
  const runs = runsWithin(await store.list().catch(() => []));
  if (runs.length === 0) return;
  const { what, examples } = describeRunsWithin(store.location, runs, { aggregatedOnly: true });
  const history = `\`inference-baseline history ${store.location}\` lists its runs`;
  if (examples.length === 0) {
    const newest = describeRunsWithin(store.location, runs).examples[0]!;
    throw new InputError(store.location, [`${what}, and none of its runs is aggregated yet (no ${SUMMARY_FILE})`], `aggregate one run, then compare it: \`inference-baseline aggregate ${newest}\` and \`inference-baseline compare ${newest}\`.`);
  }
  const named = examples.map((e, i) => `\`inference-baseline compare ${e}\`${i === 0 ? ' (the newest)' : ''}`).join(' or ');
  throw new InputError(store.location, [`${what}: compare reads one run's directory`], `name one run: ${named}; ${history}.`);
}

/** A derived file's JSON, or the InputError that says which file is damaged and how to rebuild it. */
function parseJson(text: string, where: string, fix: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(where, [`is not valid JSON (${(err as Error).message}): the file is damaged`], fix);
  }
}
