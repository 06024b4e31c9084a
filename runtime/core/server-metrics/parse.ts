import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/**
 * A server's Prometheus exposition (text format 0.0.4) read into samples, and the two readings the
 * server account makes of it: a counter summed over label sets, and a histogram's cumulative
 * buckets summed over label sets (Prometheus's `sum by (le)`).
 *
 * The lines are read by `parse-prometheus-text-format`. Its families are not used as they come for
 * histograms and summaries: it folds every label set of a family into one bucket map (the last
 * label set's buckets win) and drops `_count`/`_sum` lines that carry labels (its open issue #13,
 * the unmerged PR #8) — and every vLLM/SGLang histogram is labelled (`model_name`, `engine`). So
 * their TYPE lines are taken out before the text is handed over: each `_bucket`/`_count`/`_sum`
 * line then comes back as a sample of its own, with its labels, `le` included.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  /** The name as written on the line (`vllm:e2e_request_latency_seconds_bucket`). */
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

export interface Exposition {
  /** Samples by the name on their line. */
  readonly samples: ReadonlyMap<string, readonly Sample[]>;
  /** Every name the text mentions: sample names and the families its HELP/TYPE lines declare. */
  readonly names: ReadonlySet<string>;
}

export type ParsedExposition = { ok: true; exposition: Exposition } | { ok: false; problem: string };

/** Which label sets a reading keeps. */
export type LabelFilter = (labels: Labels) => boolean;
export const everyLabelSet: LabelFilter = () => true;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** TYPE lines whose families the library would fold (see above); the samples stay. */
const FOLDED_TYPE = /^[ \t]*#[ \t]+TYPE[ \t]+\S+[ \t]+(histogram|summary)[ \t]*$/i;
/** A line the library reads as a sample with no name and then drops without a word: JSON (`{"object":"list",…}`). */
const NAMELESS = /^\s*\{/;

/** Reads an exposition; text that is not one (an HTML error page, JSON) is a problem, never a throw. */
export function parseExposition(text: string): ParsedExposition {
  const lines = text.split('\n');
  const nameless = lines.find((line) => NAMELESS.test(line));
  if (nameless !== undefined) return { ok: false, problem: `a line with no metric name: ${JSON.stringify(nameless.trim().slice(0, 80))}` };
  const unfolded = lines.filter((line) => !FOLDED_TYPE.test(line)).join('\n');
  let families: ReturnType<typeof parsePrometheusTextFormat>;
  try {
    families = parsePrometheusTextFormat(unfolded);
  } catch (error) {
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
  const samples = new Map<string, Sample[]>();
  const names = new Set<string>();
  for (const family of families) {
    names.add(family.name);
    for (const m of family.metrics) {
      // The library accepts any first word as a name and leaves the value empty when there is none
      // (`<html>` parses): a sample is checked here.
      if (!METRIC_NAME.test(family.name)) return { ok: false, problem: `not a metric name: ${JSON.stringify(family.name.slice(0, 80))}` };
      const value = sampleValue(m.value);
      if (value === null) return { ok: false, problem: `${family.name} has no numeric value (${JSON.stringify(m.value ?? '')})` };
      const list = samples.get(family.name) ?? [];
      list.push({ name: family.name, labels: m.labels ?? {}, value });
      samples.set(family.name, list);
    }
  }
  return { ok: true, exposition: { samples, names } };
}

/** A sample value as the text format writes it (Go's float syntax: `+Inf`, `-Inf`, `NaN`). */
function sampleValue(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const n = Number(text);
  return Number.isNaN(n) ? null : n;
}

/** Σ of the samples of one name over the label sets kept; null when the exposition has none of them. */
export function sumSamples(exposition: Exposition, name: string, keep: LabelFilter = everyLabelSet): number | null {
  let sum: number | null = null;
  for (const s of exposition.samples.get(name) ?? []) {
    if (keep(s.labels)) sum = (sum ?? 0) + s.value;
  }
  return sum;
}

/** A histogram's cumulative counts, label sets summed by bucket. */
export interface CumulativeHistogram {
  /** The finite upper bounds (`le`), ascending, in the metric's unit. */
  readonly bounds: readonly number[];
  /** Observations at or below each bound, then the +Inf bucket's (every observation). */
  readonly cumulative: readonly number[];
  /** Σ `_count`: what a reset check compares (the +Inf bucket when no `_count` line is there). */
  readonly count: number;
  /** Σ `_sum`, in the metric's unit; null when no `_sum` line is there. */
  readonly sum: number | null;
}

/**
 * The histogram `family` (its `_bucket` lines) summed over the label sets kept, as
 * `sum by (le) (family_bucket)` would; null when it has no bucket line there, or no +Inf bucket.
 */
export function readHistogram(exposition: Exposition, family: string, keep: LabelFilter = everyLabelSet): CumulativeHistogram | null {
  const byBound = new Map<number, number>();
  for (const s of exposition.samples.get(`${family}_bucket`) ?? []) {
    const le = s.labels.le;
    if (le === undefined || !keep(s.labels)) continue;
    const bound = sampleValue(le);
    if (bound === null || Number.isNaN(bound)) continue;
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  const inf = byBound.get(Number.POSITIVE_INFINITY);
  if (inf === undefined) return null;
  const bounds = [...byBound.keys()].filter((b) => b !== Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const cumulative = [...bounds.map((b) => byBound.get(b) ?? 0), inf];
  return { bounds, cumulative, count: sumSamples(exposition, `${family}_count`, keep) ?? inf, sum: sumSamples(exposition, `${family}_sum`, keep) };
}
