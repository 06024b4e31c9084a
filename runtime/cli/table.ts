import { unsupportedValue, type DistributionStats } from '../core/metrics/latency-histogram.ts';
import type { Summary } from '../core/summary/schema.ts';
import { bucketText, serverHeadline, serverRows, ttftShare } from '../core/summary/server-view.ts';
import { formatSteal } from '../timing/cpu-steal.ts';

const columns = ['p50', 'p90', 'p95', 'p99', 'max'] as const;

/** The percentile table and verdict a person reads at the end of a run (plain text, no colours). */
/** `shard`: the numbers are one shard's of several — no verdict is given (the whole run's aggregation judges). */
export function formatSummary(s: Summary, o: { shard?: { index: number; count: number } } = {}): string {
  const rows: Array<[string, DistributionStats]> = [
    ['ttft', s.latency.ttft],
    ['itl', s.latency.itl],
    ['tpot', s.latency.tpot],
    ['ntpot', s.latency.ntpot],
    ['e2e', s.latency.e2e],
    ['schedule_delay', s.load.schedule_delay],
  ];
  const header = ['metric (ms)', 'count', ...columns, 'mean'];
  // A percentile with fewer samples than it needs is the maximum seen, not the percentile: starred.
  const cell = (d: DistributionStats, c: (typeof columns)[number]): string => (unsupportedValue(d, c) ? `${num(d[c])}*` : num(d[c]));
  const body = rows.map(([name, d]) => [name, String(d.count), ...columns.map((c) => cell(d, c)), num(d.mean)]);
  const starred = body.some((r) => r.some((x) => x.endsWith('*')));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const r = s.requests;
  const errors = Object.entries(r.errors).map(([t, n]) => `${t} ${n}`).join(', ');
  const out = [
    `run ${s.run.runId}  scenario ${s.run.scenario}  model ${s.run.model}  target ${s.run.target}${s.context?.server?.type ? ` (${s.context.server.type})` : ''}`,
    `requests: ${r.scheduled} scheduled, ${r.sent} sent, ${r.succeeded} succeeded, ${r.failed} failed${errors ? ` (${errors})` : ''}`,
    `load: requested ${s.load.requestedRate} req/s, achieved ${s.load.achievedRate ?? '–'} req/s; throughput ${s.throughput.outputTokensPerS ?? '–'} output tokens/s${s.load.cpuSteal !== null ? `; CPU steal ${formatSteal(s.load.cpuSteal)}` : ''}`,
    `tokens: ${s.tokens.inputMismatches} input and ${s.tokens.outputMismatches} output mismatches against the request, ${s.tokens.missingServerUsage} without server usage`,
    '',
    line(header),
    ...body.map(line),
    ...(starred ? ['* too few samples for this percentile (p90 needs 10, p99 100): the value is the largest seen, not published'] : []),
    '',
    ...serverLines(s),
    ...failureLines(s),
    o.shard
      ? `verdict: none yet — these are shard ${o.shard.index} of ${o.shard.count}'s numbers (its share of the rate); the run is judged when all its shards are aggregated`
      : s.validity.valid
        ? 'verdict: valid'
        : `verdict: INVALID\n${s.validity.reasons.map((x) => `  - ${x}`).join('\n')}`,
    ...s.validity.notes.map((x) => `note: ${x}`),
    ...(s.comparison ? [`comparison: ${s.comparison.headline}`] : []),
  ];
  return out.join('\n');
}

/** The server's own account: what it saw, its distributions beside the client's, where TTFT went. */
function serverLines(s: Summary): string[] {
  const server = s.server;
  if (!server) return [];
  const rows = serverRows(server, s.latency);
  const header = ['server-side (ms)', 'count', 'p50', 'p90', 'p99', 'p50 within', 'client p50'];
  const body = rows.map((r) => [`server ${r.name}`, String(r.server.count), num(r.server.p50), num(r.server.p90), num(r.server.p99), bucketText(r.server.bounds.p50), r.client ? num(r.client.p50) : '']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const share = ttftShare(server, s.latency.ttft);
  return [`server: ${serverHeadline(server)}`, ...(body.length > 0 ? [line(header), ...body.map(line)] : []), ...(share ? [share] : []), ...server.notes.map((n) => `server note: ${n}`), ''];
}

/** The three most frequent failure messages (all of them, up to ten, are in summary.json and the report). */
function failureLines(s: Summary): string[] {
  const top = s.requests.errorMessages.slice(0, 3);
  if (top.length === 0) return [];
  return ['failed requests said:', ...top.map((e) => `  ${e.count} × ${e.type}${e.status !== null ? ` (HTTP ${e.status})` : ''}: ${e.message.length > 160 ? `${e.message.slice(0, 159)}…` : e.message}`), ''];
}

function num(x: number | null): string {
  if (x === null) return '–';
  return x >= 100 ? x.toFixed(1) : x.toFixed(3);
}
