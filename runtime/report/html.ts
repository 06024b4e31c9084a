import type { ReportData } from '../core/summary/report-data.ts';
import { unsupportedValue, type DistributionStats } from '../core/metrics/latency-histogram.ts';
import type { ReportAssets } from './assets.ts';
import { changeText } from '../core/history/comparison.ts';
import { formatSteal } from '../timing/cpu-steal.ts';

/**
 * report.html: one self-contained page (uPlot and the data inlined, no network): the verdict and its
 * reasons, the percentile table, latency distributions (percentile curves from the merged HDR
 * histograms), latency over the run, and schedule delay. Pure: data + assets in, HTML out.
 */
export function renderReport(data: ReportData, assets: ReportAssets): string {
  const s = data.summary;
  const verdict = s.validity.valid ? 'VALID BASELINE' : 'INVALID — not a baseline';
  const rows: Array<[string, DistributionStats, string]> = [
    ['ttft', s.latency.ttft, 'first content event − request sent'],
    ['itl', s.latency.itl, 'gaps between content events (pooled)'],
    ['tpot', s.latency.tpot, '(last − first content event) / (output tokens − 1)'],
    ['ntpot', s.latency.ntpot, 'e2e / output tokens'],
    ['e2e', s.latency.e2e, 'last byte − request sent'],
    ['schedule_delay', s.load.schedule_delay, `request sent − request scheduled (source: ${s.load.scheduleDelaySource})`],
  ];
  const cols = ['count', 'mean', 'min', 'p50', 'p90', 'p95', 'p99', 'p999', 'max'] as const;
  const table = rows
    .map(
      ([name, d, def]) =>
        `<tr><th title="${esc(def)}">${name}</th>${cols
          .map((c) =>
            unsupportedValue(d, c)
              ? `<td class="insufficient" title="too few samples for this percentile: the largest value seen, not published">${fmtCell(d[c], false)}*</td>`
              : `<td>${fmtCell(d[c], c === 'count')}</td>`,
          )
          .join('')}</tr>`,
    )
    .join('\n');
  const reasons = s.validity.reasons.length
    ? `<ul class="reasons">${s.validity.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`
    : '<p>All validity rules passed.</p>';
  const errors = Object.entries(s.requests.errors).map(([t, n]) => `${esc(t)}: ${n}`).join(', ') || 'none';
  const failures = s.requests.errorMessages.length
    ? `<h2>Failed requests</h2>\n<p class="note">The most frequent distinct messages (type, HTTP status, message) of the ${s.requests.failed} failed requests.</p>\n<table id="failures"><tr><th>count</th><th>type</th><th>status</th><th>message</th></tr>\n${s.requests.errorMessages
        .map((e) => `<tr><td>${e.count}</td><th>${esc(e.type)}</th><td>${e.status ?? '–'}</td><td class="msg">${esc(e.message)}</td></tr>`)
        .join('\n')}\n</table>`
    : '';
  const comparison = comparisonSection(s);
  const problems = s.input.problems.length
    ? `<ul>${s.input.problems.map((p) => `<li><code>${esc(p.file)}</code>${p.where ? ` ${esc(p.where)}` : ''}: ${esc(p.problem)}</li>`).join('')}${s.input.omittedProblems ? `<li>… and ${s.input.omittedProblems} more</li>` : ''}</ul>`
    : '';
  const sdNote =
    s.load.scheduleDelaySource === 'inference-perf-summary'
      ? "<p class=\"note\">Schedule delay comes from inference-perf's summary file (percentiles only; its records carry no scheduled time), so it has no curve or timeline here.</p>"
      : s.load.scheduleDelaySource === 'unavailable'
        ? '<p class="note">Schedule delay is unavailable for this run.</p>'
        : '';
  const json = JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(s.run.scenario)} · ${esc(s.run.model)} · ${esc(s.run.runId)}</title>
<style>${assets.uplotCss}</style>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;font-weight:700;color:#fff}
.valid{background:#1a7f37}.invalid{background:#cf222e}
table{border-collapse:collapse}td,th{padding:3px 8px;border:1px solid #ddd;text-align:right}th{text-align:left}
.meta td{text-align:left}td.insufficient{color:#888}.regressed{color:#cf222e;font-weight:700}.improved{color:#1a7f37;font-weight:700}td.msg{text-align:left;font-family:ui-monospace,monospace;white-space:pre-wrap}.note{color:#666}.chart{margin:8px 0 16px}.reasons li{margin:4px 0}
</style>
</head>
<body>
<h1>${esc(s.run.scenario)} · ${esc(s.run.model)}</h1>
<div>run <code>${esc(s.run.runId)}</code> · ${esc(s.run.runner.kind)} ${esc(s.run.runner.version)} · ${esc(s.run.startedAt ?? '?')} → ${esc(s.run.endedAt ?? '?')}</div>
<h2>Verdict</h2>
<div id="verdict" class="verdict ${s.validity.valid ? 'valid' : 'invalid'}">${verdict}</div>
${reasons}
<h2>Run</h2>
<table class="meta">
<tr><th>target</th><td>${esc(s.run.target)}</td></tr>
<tr><th>zone</th><td>${esc(s.run.zone ?? 'unknown')}</td></tr>
<tr><th>api</th><td>${esc(s.run.api)}${s.run.streaming ? ' (streaming)' : ''}</td></tr>
<tr><th>requests</th><td>scheduled ${s.requests.scheduled} · sent ${s.requests.sent} · succeeded ${s.requests.succeeded} · failed ${s.requests.failed} (${errors})</td></tr>
<tr><th>load</th><td>${esc(s.load.arrival)} · requested ${s.load.requestedRate} req/s · achieved ${s.load.achievedRate ?? '?'} req/s over ${s.load.sendDurationS ?? '?'} s${s.load.cpuSteal !== null ? ` · CPU steal ${formatSteal(s.load.cpuSteal)}` : ''}</td></tr>
<tr><th>throughput</th><td>${s.throughput.requestsPerS ?? '?'} req/s · ${s.throughput.inputTokensPerS ?? '?'} input tok/s · ${s.throughput.outputTokensPerS ?? '?'} output tok/s</td></tr>
<tr><th>input</th><td>${s.input.source}: ${s.input.files} file(s), ${s.input.records} records used, ${s.input.badRecords} bad records, ${s.input.badFiles} bad files</td></tr>
</table>
${problems}
${failures}
${comparison}
<h2>Percentiles (ms)</h2>
<table id="percentiles"><tr><th>metric</th>${cols.map((c) => `<th>${c === 'p999' ? 'p99.9' : c}</th>`).join('')}</tr>
${table}
</table>
${rows.some(([, d]) => d.insufficient.length > 0 && d.count > 0) ? '<p class="note">* too few samples for this percentile (p90 needs 10, p99 100, p99.9 1,000): the value is the largest seen; it is not published as a baseline.</p>' : ''}
<h2>Latency distributions</h2>
<p class="note">Value at each percentile, from the merged HDR histograms (x: 0.3 = p50, 1 = p90, 2 = p99, 3 = p99.9).</p>
<div id="dist-ttft" class="chart"></div><div id="dist-itl" class="chart"></div><div id="dist-e2e" class="chart"></div>
<h2>Latency over the run</h2>
<div id="timeline-latency" class="chart"></div>
<h2>Schedule delay</h2>
${sdNote}
<div id="dist-schedule_delay" class="chart"></div><div id="timeline-schedule_delay" class="chart"></div>
<script>${assets.uplotJs.replace(/<\/script/gi, '<\\/script')}</script>
<script id="report-data" type="application/json">${json}</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var charts = [];
  window.__reportCharts = charts;
  var width = Math.min(1000, document.body.clientWidth || 1000);
  function pLabel(n) { if (n >= 4.2) return 'max'; var p = 100 * (1 - Math.pow(10, -n)); return 'p' + (Math.round(p * 100) / 100); }
  function curve(name, title, color) {
    var c = data.curves[name], el = document.getElementById('dist-' + name);
    if (!c || !el) return;
    charts.push(new uPlot({
      title: title, width: width, height: 260,
      scales: { x: { time: false } },
      axes: [{ splits: function () { return [0, Math.log10(2), 1, 2, 3, 4.2]; }, values: function (u, splits) { return splits.map(function (v) { return v === 0 ? 'min' : pLabel(v); }); } }, { label: 'ms' }],
      series: [{ label: 'percentile', value: function (u, v) { return v == null ? '' : pLabel(v); } },
               { label: name + ' (ms)', stroke: color, width: 2 }]
    }, [c.nines, c.valuesMs], el));
  }
  curve('ttft', 'TTFT by percentile', '#0969da');
  curve('itl', 'ITL by percentile', '#8250df');
  curve('e2e', 'End-to-end latency by percentile', '#1a7f37');
  curve('schedule_delay', 'Schedule delay by percentile', '#bf8700');
  var t = data.timeline;
  if (t.t.length > 0) {
    var el = document.getElementById('timeline-latency');
    // TTFT is tens of ms beside an e2e of seconds: on one axis it is a flat line. Its own axis (left)
    // and e2e's (right) show both moving.
    charts.push(new uPlot({
      title: 'Latency over the run (per ' + t.stepS + ' s: mean and max)', width: width, height: 300,
      scales: { x: { time: false }, ttft: {}, e2e: {} },
      axes: [{ label: 's since first request' },
             { scale: 'ttft', label: 'ttft ms', stroke: '#0969da' },
             { scale: 'e2e', label: 'e2e ms', side: 1, stroke: '#1a7f37', grid: { show: false } }],
      series: [{ label: 's' },
               { label: 'ttft mean', scale: 'ttft', stroke: '#0969da', width: 2 }, { label: 'ttft max', scale: 'ttft', stroke: '#0969da', dash: [4, 4] },
               { label: 'e2e mean', scale: 'e2e', stroke: '#1a7f37', width: 2 }, { label: 'e2e max', scale: 'e2e', stroke: '#1a7f37', dash: [4, 4] }]
    }, [t.t, t.ttftMean, t.ttftMax, t.e2eMean, t.e2eMax], el));
    var hasSd = t.scheduleDelayMax.some(function (v) { return v != null; });
    if (hasSd) {
      charts.push(new uPlot({
        title: 'Schedule delay over the run (per ' + t.stepS + ' s)', width: width, height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 's since first request' }, { label: 'ms' }],
        series: [{ label: 's' }, { label: 'mean', stroke: '#bf8700', width: 2 }, { label: 'max', stroke: '#bf8700', dash: [4, 4] }]
      }, [t.t, t.scheduleDelayMean, t.scheduleDelayMax], document.getElementById('timeline-schedule_delay')));
    }
  }
  var tr = data.trend;
  if (tr && tr.runIds.length > 0) {
    var xs = tr.runIds.map(function (_, i) { return i; });
    var label = function (i) { var s = tr.startedAt[i]; return s ? s.slice(5, 16).replace('T', ' ') : tr.runIds[i]; };
    // This run (the last point) behind a band, so it stands out from its baseline window.
    var highlight = function (u) {
      var x0 = u.valToPos(tr.current - 0.4, 'x', true), x1 = u.valToPos(tr.current + 0.4, 'x', true);
      u.ctx.save(); u.ctx.fillStyle = 'rgba(207,34,46,0.10)'; u.ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height); u.ctx.restore();
    };
    [['trend-ttft', 'TTFT over the baseline window and this run (ms)', [['ttft_p50', '#0969da'], ['ttft_p90', '#54aeff'], ['ttft_p99', '#033d8b']]],
     ['trend-itl', 'ITL and TPOT over the baseline window and this run (ms)', [['itl_p50', '#8250df'], ['itl_p99', '#512a97'], ['tpot_p50', '#bf8700']]],
     ['trend-e2e', 'End-to-end latency over the baseline window and this run (ms)', [['e2e_p50', '#1a7f37'], ['e2e_p99', '#0f5323']]]].forEach(function (spec) {
      var el = document.getElementById(spec[0]);
      if (!el) return;
      charts.push(new uPlot({
        title: spec[1], width: width, height: 240,
        scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } },
        axes: [{ splits: function () { return xs; }, values: function (u, v) { return v.map(label); } }, { label: 'ms' }],
        series: [{ label: 'run', value: function (u, v) { return v == null ? '' : tr.runIds[v]; } }].concat(spec[2].map(function (m) {
          return { label: m[0], stroke: m[1], width: 2, points: { show: true, size: 7 } };
        })),
        hooks: { drawClear: [highlight] }
      }, [xs].concat(spec[2].map(function (m) { return tr.metrics[m[0]]; })), el));
    });
  }
  document.body.setAttribute('data-charts', String(charts.length));
})();
</script>
</body>
</html>
`;
}

/** The comparison with the series: headline, per-metric table, what changed, and the trend charts' places. */
function comparisonSection(s: ReportData['summary']): string {
  const c = s.comparison;
  if (!c) return '';
  const ms = (x: number | null): string => (x === null ? '–' : x >= 100 ? x.toFixed(1) : x.toFixed(3));
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

function fmtCell(x: number | null, integer: boolean): string {
  if (x === null) return '–';
  if (integer) return String(x);
  return x >= 100 ? x.toFixed(1) : x.toFixed(3);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
