/**
 * The page's charts (uPlot): percentile curves, latency and schedule delay over the run, and the
 * trend of the baseline window. Browser code, inlined by html.ts after uPlot and the report data.
 */
export const CHARTS_SCRIPT = `(function () {
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
})();`;

export const REPORT_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;font-weight:700;color:#fff}
.valid{background:#1a7f37}.invalid{background:#cf222e}
table{border-collapse:collapse}td,th{padding:3px 8px;border:1px solid #ddd;text-align:right}th{text-align:left}
.meta td{text-align:left}td.insufficient{color:#888}.regressed{color:#cf222e;font-weight:700}.improved{color:#1a7f37;font-weight:700}td.msg{text-align:left;font-family:ui-monospace,monospace;white-space:pre-wrap}.note{color:#666}.chart{margin:8px 0 16px}.reasons li{margin:4px 0}
`;
