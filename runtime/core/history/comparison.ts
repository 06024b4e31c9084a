import { compareRun, compareToReference, resolveCompareOptions, type CompareOptions, type RunComparison, type RunEstimates } from '../compare/compare.ts';
import { InputError } from '../errors.ts';
import type { Comparison } from '../summary/comparison.ts';
import type { RunContext } from '../summary/context.ts';
import { contextChanges } from './context.ts';
import { ttftAttribution, type ServerTtft } from './attribution.ts';
import { byStart, type HistoryEntry } from './entry.ts';

/**
 * A run compared with its series (the window of earlier valid runs of the same workload and
 * target) or with runs a person named: the Comparison summary.json carries
 * (core/summary/comparison.ts). Pure: entries in, words out.
 */

/** The run being compared: what its summary and histograms say. */
export interface ComparedRun {
  runId: string;
  startedAt: string | null;
  valid: boolean;
  context: RunContext;
  estimates: RunEstimates;
  /** The server's own TTFT p50 (summary.server.ttft); absent or null without one. */
  serverTtft?: ServerTtft | null;
}

export interface ComparisonRequest {
  options?: Partial<CompareOptions>;
  /** Run ids of the series to compare against instead of the trailing window (execution input `compare.reference`). */
  reference?: string[];
}

/**
 * This run against its series' history. The window: earlier entries (by start) of the same
 * workload fingerprint and target that were valid, the last `windowSize` of them. Invalid runs and
 * runs of another workload or target are counted, never used. The previous run (for "what
 * changed") is the latest earlier entry of the same target, valid or not.
 */
export function compareWithHistory(run: ComparedRun, entries: readonly HistoryEntry[], request: ComparisonRequest = {}): Comparison {
  const o = resolveCompareOptions(request.options);
  const earlier = entries.filter((e) => e.runId !== run.runId && byStart(e, run) < 0).sort(byStart);
  const sameTarget = earlier.filter((e) => e.context.target === run.context.target);
  const previous = sameTarget.at(-1) ?? earlier.at(-1) ?? null;
  const series = {
    earlierRuns: earlier.length,
    usable: 0,
    otherWorkload: earlier.filter((e) => e.context.fingerprint !== run.context.fingerprint).length,
    otherTarget: earlier.filter((e) => e.context.target !== run.context.target).length,
    invalid: earlier.filter((e) => !e.valid).length,
  };
  const candidates = sameTarget.filter((e) => e.valid && e.context.fingerprint === run.context.fingerprint);
  series.usable = candidates.length;
  const changes = previous ? contextChanges(previous.context, run.context) : [];
  const base = { method: methodOf(o), series, previousRunId: previous?.runId ?? null, changes };

  if (request.reference && request.reference.length > 0) {
    const named = request.reference.map((id) => {
      const found = entries.find((e) => e.runId === id);
      if (!found) throw new InputError('compare.reference', [`run ${id} is not in this series' history`], 'name a run id of the same scenario and model (see `inference-baseline history`).');
      return found;
    });
    return referenceComparison(run, named.map((e) => ({ runId: e.runId, startedAt: e.startedAt, valid: e.valid, context: e.context, estimates: e.metrics as RunEstimates, serverTtft: e.serverTtft })), o, base);
  }
  const window = candidates.slice(-o.windowSize);
  if (!run.valid) return notABaseline(run, window, o, base);
  const result = compareRun(run.estimates, window.map((e) => e.metrics as RunEstimates), o);
  return finish(result, window.map((e) => e.runId), base, attribution(result, run, window));
}

/**
 * This run against runs a person named (directories or prefixes given to `compare`, or
 * `compare.reference`): a window when there are minWindow of them, else sampling error only
 * (compareToReference). They must share the workload — a different target is allowed (comparing
 * two servers is a use) and listed among the changes.
 */
export function compareWithRuns(run: ComparedRun, references: readonly ComparedRun[], options: Partial<CompareOptions> = {}): Comparison {
  const o = resolveCompareOptions(options);
  const base = { method: methodOf(o), series: { earlierRuns: references.length, usable: references.length, otherWorkload: 0, otherTarget: 0, invalid: 0 }, previousRunId: null, changes: [] as string[] };
  return referenceComparison(run, references, o, base);
}

type Base = Pick<Comparison, 'method' | 'series' | 'previousRunId' | 'changes'>;

function referenceComparison(run: ComparedRun, refs: readonly ComparedRun[], o: CompareOptions, base: Base): Comparison {
  const mismatched = refs.filter((r) => r.context.fingerprint !== run.context.fingerprint);
  if (mismatched.length > 0) {
    throw new InputError(
      'compare',
      mismatched.map((r) => `run ${r.runId} measured another workload: ${contextChanges(r.context, run.context).filter((c) => c.startsWith('workload ')).join('; ')}`),
      'compare runs of the same scenario settings (API, token counts, load); a latency under another load is not a baseline for this one.',
    );
  }
  const last = refs.at(-1)!;
  const changes = base.changes.length > 0 ? base.changes : contextChanges(last.context, run.context);
  const withRefs: Base = {
    ...base,
    series: { ...base.series, invalid: refs.filter((r) => !r.valid).length, otherTarget: refs.filter((r) => r.context.target !== run.context.target).length },
    previousRunId: base.previousRunId ?? last.runId,
    changes,
  };
  if (!run.valid) return notABaseline(run, refs, o, withRefs);
  const result = refs.length >= o.minWindow ? compareRun(run.estimates, refs.map((r) => r.estimates), { ...o, windowSize: Math.max(o.windowSize, refs.length) }) : compareToReference(run.estimates, refs.map((r) => r.estimates), o);
  return finish(result, refs.map((r) => r.runId), withRefs, attribution(result, run, refs));
}

function notABaseline(run: ComparedRun, window: ReadonlyArray<{ runId: string }>, o: CompareOptions, base: Base): Comparison {
  return {
    ...base,
    verdict: 'not-a-baseline',
    against: 'window',
    baselineRuns: window.map((w) => w.runId),
    metrics: [],
    ttftAttribution: null,
    headline: `not compared: run ${run.runId} is invalid, so its numbers are not a baseline (see validity.reasons)${changesText(base.changes)}`,
  };
}

function finish(result: RunComparison, baselineRuns: string[], base: Base, ttftAttribution: string | null): Comparison {
  const c: Omit<Comparison, 'headline'> = { ...base, verdict: result.verdict, against: result.against, baselineRuns, metrics: result.metrics, ttftAttribution };
  return { ...c, headline: headline(c) };
}

/** Whose the TTFT p50 change is, when the run and every baseline run have the server's own TTFT. */
function attribution(result: RunComparison, run: ComparedRun, baseline: ReadonlyArray<{ serverTtft?: ServerTtft | null }>): string | null {
  return ttftAttribution(result.metrics.find((m) => m.metric === 'ttft_p50'), run.serverTtft ?? null, baseline.map((b) => b.serverTtft ?? null));
}

function methodOf(o: CompareOptions): Comparison['method'] {
  return { windowSize: o.windowSize, minWindow: o.minWindow, minEffect: o.minEffect, falseAlarmRate: o.falseAlarmRate };
}

/** "+15.2 % (±3.1 %)": the change and the uncertainty it had to exceed. */
export function changeText(m: Pick<Comparison['metrics'][number], 'change' | 'uncertainty'>): string {
  if (m.change === null) return '–';
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  return `${m.change >= 0 ? '+' : '−'}${pct(Math.abs(m.change))}${m.uncertainty !== null ? ` (±${pct(m.uncertainty)})` : ''}`;
}

function changesText(changes: readonly string[]): string {
  return changes.length > 0 ? `; what changed since the previous run: ${changes.join('; ')}` : '';
}

function headline(c: Omit<Comparison, 'headline'>): string {
  const runs = `${c.baselineRuns.length} ${c.against === 'reference' ? 'named' : 'earlier'} run${c.baselineRuns.length === 1 ? '' : 's'}`;
  const moved = (verdict: 'regressed' | 'improved'): string =>
    c.metrics
      .filter((m) => m.verdict === verdict)
      .map((m) => `${m.metric} ${changeText(m)}`)
      .join(', ');
  const whose = c.ttftAttribution ? ` (${c.ttftAttribution})` : '';
  const caveat = c.against === 'reference' && c.baselineRuns.length < c.method.minWindow ? ' (sampling error only: with fewer than ' + c.method.minWindow + ' runs the night-to-night spread is unknown)' : '';
  switch (c.verdict) {
    case 'regressed':
      return `regressed against ${runs}${caveat}: ${moved('regressed')}${whose}${changesText(c.changes)}`;
    case 'improved':
      return `improved against ${runs}${caveat}: ${moved('improved')}${whose}${changesText(c.changes)}`;
    case 'unchanged':
      return `unchanged against ${runs}${caveat}: no key metric moved beyond its uncertainty and ${(c.method.minEffect * 100).toFixed(0)} %${changesText(c.changes)}`;
    default: {
      const s = c.series;
      const others = [s.otherWorkload ? `${s.otherWorkload} of another workload` : '', s.otherTarget ? `${s.otherTarget} of another target` : '', s.invalid ? `${s.invalid} invalid` : ''].filter(Boolean);
      return `insufficient history: ${s.usable} earlier valid run${s.usable === 1 ? '' : 's'} with this workload and target, ${c.method.minWindow} needed; not compared${others.length ? ` (not baselines for this run: ${others.join(', ')})` : ''}${changesText(c.changes)}`;
    }
  }
}
