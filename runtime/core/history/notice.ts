import type { Summary } from '../summary/schema.ts';
import { changeText } from './comparison.ts';

/**
 * The message a regressed run sends to the alarm topic (and the CLI prints): which key metrics
 * moved, by how much against what uncertainty, and what changed since the previous run — the
 * morning's question and its answer in one notification. '' when the run did not regress.
 */
export function regressionNotice(s: Summary, reportLocation: string): string {
  const c = s.comparison;
  if (!c || c.verdict !== 'regressed') return '';
  const ms = (x: number | null): string => (x === null ? '–' : x >= 100 ? x.toFixed(1) : x.toFixed(2));
  const rows = c.metrics.filter((m) => m.verdict === 'regressed').map((m) => `  ${m.metric.padEnd(9)} ${ms(m.baseline)} → ${ms(m.value)} ms  ${changeText(m)}`);
  const changed = c.changes.length
    ? [`What changed since the previous run (${c.previousRunId}):`, ...c.changes.map((x) => `  - ${x}`)]
    : [`Nothing the run records changed since the previous run${c.previousRunId ? ` (${c.previousRunId})` : ''}: same images, node type, server version and settings, workload and runner. Look at what it does not record (other tenants on the node, drivers, network).`];
  return [
    `inference-baseline: ${s.run.scenario} / ${s.run.model} regressed in run ${s.run.runId}`,
    `Against ${c.baselineRuns.length} ${c.against === 'reference' ? 'named' : 'earlier valid'} run(s) of the same workload and target (${c.baselineRuns.join(', ')}):`,
    ...rows,
    ...changed,
    `Report: ${reportLocation}`,
  ].join('\n');
}
