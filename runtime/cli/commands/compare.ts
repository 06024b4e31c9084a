import { loadComparedRun } from '../../aggregator/compared-run.ts';
import { changeText, compareWithHistory, compareWithRuns } from '../../core/history/comparison.ts';
import type { Comparison } from '../../core/summary/comparison.ts';
import { describeWorkload } from '../../core/history/context.ts';
import { EXIT } from '../exit-codes.ts';
import { RunLocations } from '../support/locations.ts';

export interface CompareCommandOptions {
  window?: number;
  endpoint?: string;
}

/**
 * `inference-baseline compare <run> [<baseline run>...]`: the run against the trailing window of
 * its series' history (or against the runs named), key metric by key metric, with what changed.
 * Read-only. Exit 4 when a key metric regressed (a CI gate), 3 when the run itself is invalid,
 * 0 otherwise (unchanged, improved, or too little history — said plainly).
 */
export async function compareCommand(location: string, baselines: string[], o: CompareCommandOptions, io: { stdout: NodeJS.WritableStream }): Promise<number> {
  const locations = new RunLocations(o.endpoint);
  try {
    const target = await locations.run(location);
    const { summary, run } = await loadComparedRun(target.store);
    const options = o.window ? { windowSize: o.window } : {};
    let comparison: Comparison;
    if (baselines.length > 0) {
      const refs = [];
      for (const b of baselines) refs.push((await loadComparedRun((await locations.run(b)).store)).run);
      comparison = compareWithRuns(run, refs, options);
    } else {
      const series = target.history({ scenario: summary.run.scenario, model: summary.run.model });
      const { entries, unreadable } = await series.list();
      for (const u of unreadable) io.stdout.write(`(skipped an unreadable history entry: ${u})\n`);
      comparison = compareWithHistory(run, entries, { options });
      io.stdout.write(`history: ${series.location}\n`);
    }
    io.stdout.write(`${formatComparison(summary.run.runId, describeWorkload(run.context.workload), comparison)}\n`);
    if (comparison.verdict === 'regressed') return EXIT.regressed;
    if (comparison.verdict === 'not-a-baseline') return EXIT.invalid;
    return EXIT.ok;
  } finally {
    locations.close();
  }
}

/** The comparison as a table: each key metric's baseline, this run, change ± uncertainty, verdict. */
export function formatComparison(runId: string, workload: string, c: Comparison): string {
  const ms = (x: number | null): string => (x === null ? '–' : x >= 100 ? x.toFixed(1) : x.toFixed(3));
  const rows = c.metrics.map((m) => [m.metric, ms(m.baseline), ms(m.value), changeText(m), m.verdict]);
  const header = ['metric (ms)', 'baseline', 'this run', 'change (± needed)', 'verdict'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((x, i) => (i === 0 || i === 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  const against = c.baselineRuns.length > 0 ? `${c.baselineRuns.length} ${c.against === 'reference' ? 'named' : 'earlier valid'} run(s): ${c.baselineRuns.join(', ')}` : 'no earlier run';
  return [
    `run ${runId}: ${workload}`,
    `against ${against} (window ${c.method.windowSize}, at least ${c.method.minWindow}; minimum effect ${(c.method.minEffect * 100).toFixed(0)} %, false-alarm rate ${(c.method.falseAlarmRate * 100).toFixed(0)} % per run)`,
    ...(rows.length > 0 ? ['', line(header), ...rows.map(line), ''] : []),
    c.changes.length > 0 ? `what changed since the previous run (${c.previousRunId}):\n${c.changes.map((x) => `  - ${x}`).join('\n')}` : c.previousRunId ? `nothing recorded changed since the previous run (${c.previousRunId})` : '',
    `verdict: ${c.verdict} — ${c.headline}`,
  ]
    .filter((l, i, all) => l !== '' || (i > 0 && all[i - 1] !== ''))
    .join('\n');
}
