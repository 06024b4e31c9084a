import { loadComparedRun } from '../../aggregator/compared-run.ts';
import { detectableChange } from '../../core/compare/compare.ts';
import { changeText, compareWithHistory, compareWithRuns } from '../../core/history/comparison.ts';
import { byStart } from '../../core/history/entry.ts';
import type { Comparison } from '../../core/summary/comparison.ts';
import { describeWorkload } from '../../core/history/context.ts';
import { invalidWarnings, usableBaselines, type NamedRun } from '../../core/history/named-baselines.ts';
import { EXIT } from '../exit-codes.ts';
import { RunLocations } from '../support/locations.ts';

export interface CompareCommandOptions {
  window?: number;
  endpoint?: string;
}

/** What the output needs of a run to place it in time: its id and start. */
interface TimedRun {
  runId: string;
  startedAt: string | null;
}

/**
 * `inference-baseline compare <run> [<baseline run>...]`: the run against the trailing window of
 * its series' history (or against the runs named), key metric by key metric, with what changed.
 * Read-only. Exit 4 when a key metric regressed (a CI gate), 3 when the run itself is invalid,
 * 2 when the runs named cannot be a baseline (the run itself, or only invalid runs), 0 otherwise
 * (unchanged, improved, or too little history — said plainly).
 */
export async function compareCommand(location: string, baselines: string[], o: CompareCommandOptions, io: { stdout: NodeJS.WritableStream }): Promise<number> {
  const locations = new RunLocations(o.endpoint);
  try {
    const target = await locations.run(location);
    const { summary, run } = await loadComparedRun(target.store);
    const options = o.window ? { windowSize: o.window } : {};
    let comparison: Comparison;
    let against: TimedRun[];
    if (baselines.length > 0) {
      const named: NamedRun[] = [];
      for (const b of baselines) named.push({ location: b, ...(await loadComparedRun((await locations.run(b)).store)) });
      const refs = usableBaselines({ location, run }, named);
      for (const w of invalidWarnings(named)) io.stdout.write(`${w}\n`);
      // Chronological, so the list reads in time and "what differs" is read from the latest run named.
      const sorted = [...refs].sort(byStart);
      comparison = compareWithRuns(run, sorted, options);
      against = sorted;
    } else {
      const series = target.history({ scenario: summary.run.scenario, model: summary.run.model });
      const { entries, unreadable } = await series.list();
      for (const u of unreadable) io.stdout.write(`(skipped an unreadable history entry: ${u})\n`);
      comparison = compareWithHistory(run, entries, { options });
      against = comparison.baselineRuns.map((id) => ({ runId: id, startedAt: entries.find((e) => e.runId === id)?.startedAt ?? null }));
      io.stdout.write(`history: ${series.location}\n`);
    }
    const view = { run: { runId: summary.run.runId, startedAt: summary.run.startedAt }, workload: describeWorkload(run.context.workload), named: baselines.length > 0, against };
    io.stdout.write(`${formatComparison(view, comparison)}\n`);
    if (comparison.verdict === 'regressed') return EXIT.regressed;
    if (comparison.verdict === 'not-a-baseline') return EXIT.invalid;
    return EXIT.ok;
  } finally {
    locations.close();
  }
}

/** Where another run lies in time from the compared one (by start, then run id, as history orders runs). */
export function timeLabel(run: TimedRun, other: TimedRun): 'earlier' | 'later' | 'same start' {
  const order = byStart(other, run);
  return order < 0 ? 'earlier' : order > 0 ? 'later' : 'same start';
}

export interface ComparisonView {
  run: TimedRun;
  workload: string;
  /** True when the baseline runs were named on the command line (else the run's history window). */
  named: boolean;
  /** The baseline runs, in the comparison's order, with their starts. */
  against: TimedRun[];
}

/** The comparison as a table: each key metric's baseline, this run, change ± uncertainty, verdict. */
export function formatComparison(v: ComparisonView, c: Comparison): string {
  const ms = (x: number | null): string => (x === null ? '–' : x >= 100 ? x.toFixed(1) : x.toFixed(3));
  const rows = c.metrics.map((m) => [m.metric, ms(m.baseline), ms(m.value), changeText(m), m.verdict]);
  const header = ['metric (ms)', 'baseline', 'this run', 'change (± needed)', 'verdict'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((x, i) => (i === 0 || i === 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `run ${v.run.runId} (started ${startText(v.run.startedAt)}): ${v.workload}`,
    ...againstLines(v, c),
    ...(rows.length > 0 ? ['', line(header), ...rows.map(line), '', ...detectionLines(c, v.against.length)] : []),
    changesLine(v, c),
    verdictLine(v, c),
  ]
    .filter((l, i, all) => l !== '' || (i > 0 && all[i - 1] !== ''))
    .join('\n');
}

/** The baseline runs, one a line with its start and where it lies in time from this run. */
function againstLines(v: ComparisonView, c: Comparison): string[] {
  const method = `window ${c.method.windowSize}, at least ${c.method.minWindow}; minimum effect ${pct0(c.method.minEffect)}, false-alarm rate ${pct0(c.method.falseAlarmRate)} per run`;
  if (v.against.length === 0) return [`against no earlier run (${method})`];
  const n = v.against.length;
  const what = v.named ? `${n} named run${n === 1 ? '' : 's'}` : `${n} earlier valid run${n === 1 ? '' : 's'} of its history`;
  const idWidth = Math.max(...v.against.map((r) => r.runId.length));
  return [`against ${what} (${method}):`, ...v.against.map((r) => `  ${r.runId.padEnd(idWidth)}  started ${startText(r.startedAt)}  ${timeLabel(v.run, r)}`)];
}

/**
 * What "± needed" means, and the smallest change each key metric could show: with a small window
 * the critical t is large (k − 1 degrees of freedom), so only a huge change would count.
 */
function detectionLines(c: Comparison, runs: number): string[] {
  const detectable = c.metrics.flatMap((m) => {
    const d = detectableChange(m, c.method);
    return d === null ? [] : [{ metric: m.metric, d }];
  });
  if (detectable.length === 0) return [];
  const meaning = `± needed: how far a change must go to count at a ${pct0(c.method.falseAlarmRate)} false-alarm rate; a change is flagged only beyond it and the ${pct0(c.method.minEffect)} minimum effect.`;
  const smallest = Math.min(...detectable.map((x) => x.d));
  if (detectable.every((x) => x.d === c.method.minEffect)) return [meaning, `smallest change this comparison can detect: ${pct0(c.method.minEffect)} on every key metric (the minimum effect).`];
  const lines = [meaning, `smallest change this comparison can detect: ${detectable.map((x) => `${x.metric} ${pct1(x.d)}`).join(', ')}.`];
  if (smallest > c.method.minEffect) {
    const critical = c.against === 'window' ? c.metrics.find((m) => m.critical !== null && m.windowSize === runs)?.critical ?? null : null;
    const why = critical !== null ? `: the critical t is ${critical.toFixed(1)} with ${runs - 1} degrees of freedom, and each further run lowers it` : '';
    lines.push(`With ${runs} baseline run${runs === 1 ? '' : 's'}, no key metric can show a change smaller than ${pct1(smallest)}${why}.`);
  }
  return lines;
}

/** What differs in the recorded context from the previous run (history) or the latest run named. */
function changesLine(v: ComparisonView, c: Comparison): string {
  if (!c.previousRunId) return '';
  const prev = v.against.find((r) => r.runId === c.previousRunId);
  const label = v.named ? `run ${c.previousRunId} (named, ${prev ? timeLabel(v.run, prev) : 'start unknown'})` : `the previous run (${c.previousRunId})`;
  if (c.changes.length === 0) return `nothing recorded changed ${v.named ? 'between this run and' : 'since'} ${label}`;
  return `what changed ${v.named ? 'from' : 'since'} ${label}${v.named ? ' to this run' : ''}:\n${c.changes.map((x) => `  - ${x}`).join('\n')}`;
}

/**
 * The verdict in one line. Against runs named, the runs are called "named" whatever their number
 * (the stored headline calls a window "earlier runs", which named runs need not be), and what
 * changed is not repeated: the line above says it with the run's place in time.
 */
function verdictLine(v: ComparisonView, c: Comparison): string {
  if (!v.named || (c.verdict !== 'regressed' && c.verdict !== 'improved' && c.verdict !== 'unchanged')) return `verdict: ${c.verdict} — ${c.headline}`;
  const n = c.baselineRuns.length;
  const runs = `${n} named run${n === 1 ? '' : 's'}`;
  const caveat = c.against === 'reference' && n < c.method.minWindow ? ` (sampling error only: with fewer than ${c.method.minWindow} runs the night-to-night spread is unknown)` : '';
  if (c.verdict === 'unchanged') return `verdict: unchanged — unchanged against ${runs}${caveat}: no key metric moved beyond its uncertainty and ${pct0(c.method.minEffect)}`;
  const verdict = c.verdict;
  const moved = c.metrics.filter((m) => m.verdict === verdict).map((m) => `${m.metric} ${changeText(m)}`);
  return `verdict: ${verdict} — ${verdict} against ${runs}${caveat}: ${moved.join(', ')}`;
}

function startText(iso: string | null): string {
  return iso === null ? 'at an unknown time' : iso.replace(/\.\d+Z$/, 'Z');
}

function pct0(x: number): string {
  return `${(x * 100).toFixed(0)} %`;
}

function pct1(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}
