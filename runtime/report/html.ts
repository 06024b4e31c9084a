import type { ReportData } from '../core/report/report-data.ts';
import { unsupportedValue, type DistributionStats } from '../core/metrics/latency-histogram.ts';
import type { ReportAssets } from './assets.ts';
import { changeText } from '../core/history/comparison.ts';
import { formatSteal } from '../timing/cpu-steal.ts';
import { bucketText, serverHeadline, serverRows, ttftShare } from '../core/summary/server-view.ts';
import { CHARTS_SCRIPT, REPORT_CSS } from './page-assets.ts';

/**
 * report.html: one self-contained page (uPlot and the data inlined, no network): the verdict and its
 * reasons, the percentile table, latency distributions (percentile curves from the merged HDR
 * histograms), latency over the run, and schedule delay. Pure: data + assets in, HTML out.
 */
export function renderReport(data: ReportData, assets: ReportAssets): string {
  const s = data.summary;
  const verdict = s.validity.valid ? 'VALID BASELINE' : 'INVALID — not a baseline';
  const reasons = s.validity.reasons.length
    ? `<ul class="reasons">${s.validity.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`
    : '<p>All validity rules passed.</p>';
  const notes = s.validity.notes.length ? `<ul class="reasons">${s.validity.notes.map((n) => `<li class="note">${esc(n)}</li>`).join('')}</ul>` : '';
  const json = JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(s.run.scenario)} · ${esc(s.run.model)} · ${esc(s.run.runId)}</title>
<style>${assets.uplotCss}</style>
<style>
${REPORT_CSS}</style>
</head>
<body>
<h1>${esc(s.run.scenario)} · ${esc(s.run.model)}</h1>
<div>run <code>${esc(s.run.runId)}</code> · ${esc(s.run.runner.kind)} ${esc(s.run.runner.version)} · ${esc(s.run.startedAt ?? '?')} → ${esc(s.run.endedAt ?? '?')}</div>
<h2>Verdict</h2>
<div id="verdict" class="verdict ${s.validity.valid ? 'valid' : 'invalid'}">${verdict}</div>
${reasons}${notes}
${runSection(s)}
${problemsList(s)}
${failuresSection(s)}
${comparisonSection(s)}
${percentilesSection(s)}
${serverSection(s)}
<h2>Latency distributions</h2>
<p class="note">Value at each percentile, from the merged HDR histograms (x: 0.3 = p50, 1 = p90, 2 = p99, 3 = p99.9).</p>
<div id="dist-ttft" class="chart"></div><div id="dist-itl" class="chart"></div><div id="dist-e2e" class="chart"></div>
<h2>Latency over the run</h2>
<div id="timeline-latency" class="chart"></div>
<h2>Schedule delay</h2>
${scheduleDelayNote(s)}
<div id="dist-schedule_delay" class="chart"></div><div id="timeline-schedule_delay" class="chart"></div>
<script>${assets.uplotJs.replace(/<\/script/gi, '<\\/script')}</script>
<script id="report-data" type="application/json">${json}</script>
<script>
${CHARTS_SCRIPT}
</script>
</body>
</html>
`;
}

type Summary = ReportData['summary'];

/** Where and how the run went: target, zone, requests, load, throughput, the files read. */
function runSection(s: Summary): string {
  const errors = Object.entries(s.requests.errors).map(([t, n]) => `${esc(t)}: ${n}`).join(', ') || 'none';
  return `<h2>Run</h2>
<table class="meta">
<tr><th>target</th><td>${esc(s.run.target)}</td></tr>
<tr><th>zone</th><td>${esc(s.run.zone ?? 'unknown')}</td></tr>
<tr><th>api</th><td>${esc(s.run.api)}${s.run.streaming ? ' (streaming)' : ''}</td></tr>
<tr><th>requests</th><td>scheduled ${s.requests.scheduled} · sent ${s.requests.sent} · succeeded ${s.requests.succeeded} · failed ${s.requests.failed} (${errors})</td></tr>
<tr><th>load</th><td>${esc(s.load.arrival)} · requested ${s.load.requestedRate} req/s · achieved ${s.load.achievedRate ?? '?'} req/s over ${s.load.sendDurationS ?? '?'} s${s.load.cpuSteal !== null ? ` · CPU steal ${formatSteal(s.load.cpuSteal)}` : ''}</td></tr>
<tr><th>throughput</th><td>${s.throughput.requestsPerS ?? '?'} req/s · ${s.throughput.inputTokensPerS ?? '?'} input tok/s · ${s.throughput.outputTokensPerS ?? '?'} output tok/s</td></tr>
<tr><th>input</th><td>${s.input.source}: ${s.input.files} file(s), ${s.input.records} records used, ${s.input.badRecords} bad records, ${s.input.badFiles} bad files</td></tr>
</table>`;
}

/** Files or records the aggregator could not use, by name. */
function problemsList(s: Summary): string {
  if (!s.input.problems.length) return '';
  return `<ul>${s.input.problems.map((p) => `<li><code>${esc(p.file)}</code>${p.where ? ` ${esc(p.where)}` : ''}: ${esc(p.problem)}</li>`).join('')}${s.input.omittedProblems ? `<li>… and ${s.input.omittedProblems} more</li>` : ''}</ul>`;
}

/** What the failed requests said: the most frequent distinct messages. */
function failuresSection(s: Summary): string {
  if (!s.requests.errorMessages.length) return '';
  return `<h2>Failed requests</h2>
<p class="note">The most frequent distinct messages (type, HTTP status, message) of the ${s.requests.failed} failed requests.</p>
<table id="failures"><tr><th>count</th><th>type</th><th>status</th><th>message</th></tr>
${s.requests.errorMessages.map((e) => `<tr><td>${e.count}</td><th>${esc(e.type)}</th><td>${e.status ?? '–'}</td><td class="msg">${esc(e.message)}</td></tr>`).join('\n')}
</table>`;
}

const PERCENTILE_COLUMNS = ['count', 'mean', 'min', 'p50', 'p90', 'p95', 'p99', 'p999', 'max'] as const;

/** The percentile table; a value with too few samples behind it is starred, and the star explained. */
function percentilesSection(s: Summary): string {
  const rows: Array<[string, DistributionStats, string]> = [
    ['ttft', s.latency.ttft, 'first content event − request sent'],
    ['itl', s.latency.itl, 'gaps between content events (pooled)'],
    ['tpot', s.latency.tpot, '(last − first content event) / (output tokens − 1)'],
    ['ntpot', s.latency.ntpot, 'e2e / output tokens'],
    ['e2e', s.latency.e2e, 'last byte − request sent'],
    ['schedule_delay', s.load.schedule_delay, `request sent − request scheduled (source: ${s.load.scheduleDelaySource})`],
  ];
  const cell = (d: DistributionStats, c: (typeof PERCENTILE_COLUMNS)[number]): string =>
    unsupportedValue(d, c)
      ? `<td class="insufficient" title="too few samples for this percentile: the largest value seen, not published">${fmtCell(d[c], false)}*</td>`
      : `<td>${fmtCell(d[c], c === 'count')}</td>`;
  const table = rows.map(([name, d, def]) => `<tr><th title="${esc(def)}">${name}</th>${PERCENTILE_COLUMNS.map((c) => cell(d, c)).join('')}</tr>`).join('\n');
  const starred = rows.some(([, d]) => d.insufficient.length > 0 && d.count > 0);
  return `<h2>Percentiles (ms)</h2>
<table id="percentiles"><tr><th>metric</th>${PERCENTILE_COLUMNS.map((c) => `<th>${c === 'p999' ? 'p99.9' : c}</th>`).join('')}</tr>
${table}
</table>
${starred ? '<p class="note">* too few samples for this percentile (p90 needs 10, p99 100, p99.9 1,000): the value is the largest seen; it is not published as a baseline.</p>' : ''}`;
}

/** The server's own account: scrapes, foreign load, prefix cache, its distributions beside the client's. */
function serverSection(s: Summary): string {
  const server = s.server;
  if (!server) return '';
  const rows = serverRows(server, s.latency)
    .map((r) => `<tr><th>${r.name}</th><td>${r.server.count}</td><td>${ms(r.server.p50)}</td><td>${ms(r.server.p90)}</td><td>${ms(r.server.p99)}</td><td>${esc(bucketText(r.server.bounds.p50))}</td><td>${r.client ? ms(r.client.p50) : ''}</td><td><code>${esc(r.server.metric)}</code></td></tr>`)
    .join('\n');
  const replicas = server.requests.replicas
    .map((r) => `<tr><td><code>${esc(r.endpoint)}</code></td><td>${esc(r.server ?? 'unknown')}</td><td>${r.seen ?? '–'}</td><td>${r.reset ? 'restarted' : ''}</td></tr>`)
    .join('\n');
  const share = ttftShare(server, s.latency.ttft);
  return `<h2>The server's account</h2>
<p id="server-headline">${esc(serverHeadline(server))}</p>
${share ? `<p id="ttft-share">${esc(share)}</p>` : ''}
${rows ? `<table id="server-percentiles"><tr><th>server-side (ms)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p50 within</th><th>client p50</th><th>metric</th></tr>\n${rows}\n</table>
<p class="note">From the delta of the server's histograms over the run: interpolated within buckets as Prometheus's histogram_quantile does, kept within what the bucket and the histogram's sum prove (the "p50 within" interval; a wide interval means the server's buckets cannot say more).</p>` : ''}
<table id="server-replicas"><tr><th>replica</th><th>server</th><th>requests seen</th><th></th></tr>\n${replicas}\n</table>
${server.notes.length ? `<ul>${server.notes.map((n) => `<li class="note">${esc(n)}</li>`).join('')}</ul>` : ''}`;
}

function scheduleDelayNote(s: Summary): string {
  if (s.load.scheduleDelaySource === 'inference-perf-summary') return "<p class=\"note\">Schedule delay comes from inference-perf's summary file (percentiles only; its records carry no scheduled time), so it has no curve or timeline here.</p>";
  if (s.load.scheduleDelaySource === 'unavailable') return '<p class="note">Schedule delay is unavailable for this run.</p>';
  return '';
}

/** The comparison with the series: headline, per-metric table, what changed, and the trend charts' places. */
function comparisonSection(s: Summary): string {
  const c = s.comparison;
  if (!c) return '';
  const rows = c.metrics
    .map((m) => `<tr><th>${esc(m.metric)}</th><td>${ms(m.baseline)}</td><td>${ms(m.value)}</td><td>${esc(changeText(m))}</td><td class="${m.verdict}">${esc(m.verdict)}</td></tr>`)
    .join('\n');
  const changed = c.changes.length
    ? `<p>What changed since the previous run (<code>${esc(c.previousRunId ?? '')}</code>):</p><ul id="changes">${c.changes.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`
    : c.previousRunId
      ? `<p id="changes">Nothing the run records changed since the previous run (<code>${esc(c.previousRunId)}</code>).</p>`
      : '';
  return `<h2>Against the baseline</h2>
<div id="comparison-verdict" class="${c.verdict}">${esc(c.verdict)}</div>
<p>${esc(c.headline)}</p>
<p class="note">Each key metric against the mean of ${c.against === 'reference' ? 'the named runs' : `the last ${c.method.windowSize} (at least ${c.method.minWindow}) earlier valid runs of the same workload and target`}; a change is flagged when it exceeds both ${(c.method.minEffect * 100).toFixed(0)} % and its uncertainty (the run's own sampling error and the window's night-to-night spread, at a ${(c.method.falseAlarmRate * 100).toFixed(0)} % false-alarm rate per run).</p>
${rows ? `<table id="comparison"><tr><th>metric (ms)</th><th>baseline</th><th>this run</th><th>change (± needed)</th><th>verdict</th></tr>\n${rows}\n</table>` : ''}
${changed}
<div id="trend-ttft" class="chart"></div><div id="trend-itl" class="chart"></div><div id="trend-e2e" class="chart"></div>`;
}

/** A latency in a table cell: 3 decimals below 100 ms, 1 above; a dash for none. */
function ms(x: number | null): string {
  return x === null ? '–' : x >= 100 ? x.toFixed(1) : x.toFixed(3);
}

function fmtCell(x: number | null, integer: boolean): string {
  if (x === null) return '–';
  if (integer) return String(x);
  return x >= 100 ? x.toFixed(1) : x.toFixed(3);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
