import { describe, expect, it } from 'vitest';
import { KEY_METRICS, type RunEstimates } from '../../runtime/core/compare/compare.ts';
import { InputError } from '../../runtime/core/errors.ts';
import { compareWithHistory, compareWithRuns, type ComparedRun } from '../../runtime/core/history/comparison.ts';
import { contextChanges, runContext, targetIdentity, workloadFingerprint, workloadOf } from '../../runtime/core/history/context.ts';
import type { RunContext, Workload } from '../../runtime/core/summary/context.ts';
import type { HistoryEntry } from '../../runtime/core/history/entry.ts';
import { regressionNotice } from '../../runtime/core/history/notice.ts';
import { historyRootOf, historySeriesPath } from '../../runtime/core/run-layout.ts';
import { parseScenario, presetConfig, resolveScenario, layerConfig } from '../../runtime/core/scenario/index.ts';
import { runMetricValues } from '../../runtime/core/summary/published.ts';
import type { Summary } from '../../runtime/core/summary/schema.ts';

const workload: Workload = workloadOf(resolveScenario(parseScenario(presetConfig('baseline'), 'baseline')));

function context(over: Partial<RunContext> = {}): RunContext {
  return {
    fingerprint: workloadFingerprint(workload),
    workload,
    target: 'http://qwen3-vllm.default:8000',
    model: 'qwen3-8b',
    runner: { kind: 'native', version: '0.1.0' },
    server: { version: '0.11.0', settings: {} },
    pod: { name: 'qwen3-0', node: 'ip-10-0-1-5', instanceType: 'g6.xlarge', images: ['vllm/vllm-openai:v0.11.0', 'busybox:1.36'] },
    ...over,
  };
}

function estimates(value: number, se = value * 0.005): RunEstimates {
  return Object.fromEntries(KEY_METRICS.map((m) => [m.name, { value, se, n: 300, supported: true }])) as RunEstimates;
}

let clock = Date.UTC(2026, 10, 1, 2);
function entry(value: number, over: Partial<HistoryEntry> = {}): HistoryEntry {
  clock += 86_400_000;
  const startedAt = new Date(clock).toISOString();
  return {
    v: 1,
    runId: `${startedAt.replace(/[-:]/g, '').slice(0, 15)}Z-h${String(clock % 10000).padStart(5, '0')}`,
    scenario: 'baseline',
    model: 'qwen3-8b',
    startedAt,
    endedAt: startedAt,
    valid: true,
    partial: false,
    reasons: [],
    context: context(),
    metrics: estimates(value),
    verdict: null,
    regressed: [],
    changes: [],
    location: 's3://b/runs/x/',
    serverTtft: null,
    ...over,
  };
}

function current(value: number, over: Partial<ComparedRun> = {}): ComparedRun {
  return { runId: '20991231T020000Z-now000', startedAt: '2099-12-31T02:00:00.000Z', valid: true, context: context(), estimates: estimates(value), ...over };
}

describe('the run context', () => {
  it('a loopback target is one target whatever its port; others keep their URL', () => {
    expect(targetIdentity('http://127.0.0.1:41234')).toBe('http://localhost');
    expect(targetIdentity('http://localhost:8000/')).toBe('http://localhost');
    expect(targetIdentity('http://qwen3-vllm.default:8000/')).toBe('http://qwen3-vllm.default:8000');
  });

  it('the fingerprint follows what is measured (token counts, load), not the seed or the target', () => {
    const with_ = (over: Record<string, unknown>) => workloadFingerprint(workloadOf(resolveScenario(parseScenario(layerConfig(presetConfig('baseline'), over), 'x'))));
    const base = with_({});
    expect(base).toMatch(/^wl-[0-9a-f]{16}$/);
    expect(with_({ load: { base_seed: 7 } })).toBe(base);
    expect(with_({ server: { base_url: 'http://elsewhere:8000' } })).toBe(base);
    expect(with_({ data: { input_distribution: { mean: 1024, min: 1024, max: 1024, std_dev: 0 } } })).not.toBe(base);
    expect(with_({ load: { stages: [{ rate: 2, duration: 300 }] } })).not.toBe(base);
  });

  it('names what changed in words a person acts on', () => {
    const after = context({
      server: { version: '0.12.0', settings: { ttftMs: '46' } },
      pod: { name: 'qwen3-1', node: 'ip-10-0-2-7', instanceType: 'g6e.xlarge', images: ['vllm/vllm-openai:v0.12.0', 'busybox:1.36'] },
    });
    expect(contextChanges(context({ server: { version: '0.11.0', settings: { ttftMs: '40' } } }), after)).toEqual([
      'server version 0.11.0 → 0.12.0',
      'server setting ttftMs 40 → 46',
      'image vllm/vllm-openai:v0.11.0 → vllm/vllm-openai:v0.12.0',
      'node type g6.xlarge → g6e.xlarge',
      'node ip-10-0-1-5 → ip-10-0-2-7',
    ]);
    expect(contextChanges(context(), context())).toEqual([]);
    const longer = { ...workload, input: 'fixed 1024' };
    expect(contextChanges(context(), context({ workload: longer, fingerprint: workloadFingerprint(longer) }))).toEqual([`workload input "${workload.input}" → "fixed 1024"`]);
  });

  it('takes the target and runner from the summary', () => {
    const c = runContext({ run: { target: 'http://127.0.0.1:9999', model: 'm', runner: { kind: 'native', version: '1' } } as Summary['run'] }, workload, null, null);
    expect(c).toMatchObject({ target: 'http://localhost', model: 'm', server: null, pod: null, fingerprint: workloadFingerprint(workload) });
  });
});

describe('compareWithHistory: which earlier runs are a baseline', () => {
  it('only earlier valid runs of the same workload and target, the last seven', () => {
    const other = { ...workload, output: 'fixed 256' };
    const history = [
      ...Array.from({ length: 3 }, () => entry(50)),
      entry(100, { valid: false }),
      entry(100, { context: context({ target: 'http://other:8000' }) }),
      entry(100, { context: context({ workload: other, fingerprint: workloadFingerprint(other) }) }),
      ...Array.from({ length: 7 }, () => entry(100)),
    ];
    const later = entry(10, { startedAt: '2100-01-01T00:00:00.000Z' });
    const c = compareWithHistory(current(100), [...history, later]);
    expect(c.baselineRuns).toEqual(history.slice(-7).map((e) => e.runId));
    expect(c.series).toEqual({ earlierRuns: 13, usable: 10, otherWorkload: 1, otherTarget: 1, invalid: 1 });
    expect(c.verdict).toBe('unchanged');
    expect(c.previousRunId).toBe(history.at(-1)!.runId);
  });

  it('says plainly when there is too little history, and why', () => {
    const other = { ...workload, output: 'fixed 256' };
    const c = compareWithHistory(current(100), [entry(100), entry(100, { valid: false }), entry(100, { context: context({ workload: other, fingerprint: workloadFingerprint(other) }) })]);
    expect(c.verdict).toBe('insufficient-history');
    expect(c.headline).toMatch(/^insufficient history: 1 earlier valid run with this workload and target, 3 needed; not compared \(not baselines for this run: 1 of another workload, 1 invalid\); what changed since the previous run: workload output/);
  });

  it('a regression names the metrics, their change and uncertainty, and what changed since the previous run', () => {
    const history = Array.from({ length: 5 }, (_, i) => entry(100 + (i % 2)));
    const run = current(100.5, { estimates: { ...estimates(100.5), ttft_p50: { value: 115, se: 0.5, n: 300, supported: true } }, context: context({ server: { version: '0.12.0', settings: {} } }) });
    const c = compareWithHistory(run, history);
    expect(c.verdict).toBe('regressed');
    expect(c.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric)).toEqual(['ttft_p50']);
    expect(c.headline).toMatch(/^regressed against 5 earlier runs: ttft_p50 \+14\.\d % \(±\d+\.\d %\); what changed since the previous run: server version 0\.11\.0 → 0\.12\.0$/);
  });

  describe("whose a TTFT p50 change is, from the server's own TTFT", () => {
    // Baseline client TTFT p50 100.4 ms (the mean of 100, 101, 100, 101, 100); the run's is 115 ms (+14.6 ms).
    const history = (server: (i: number) => HistoryEntry['serverTtft']) => Array.from({ length: 5 }, (_, i) => entry(100 + (i % 2), { serverTtft: server(i) }));
    const slower = (serverTtft: ComparedRun['serverTtft']) => current(100.5, { estimates: { ...estimates(100.5), ttft_p50: { value: 115, se: 0.5, n: 300, supported: true } }, serverTtft });

    it("the server's when its own p50 moved with the client's", () => {
      const c = compareWithHistory(slower({ p50: 108, bucket: [100, 250] }), history(() => ({ p50: 95, bucket: [80, 100] })));
      expect(c.ttftAttribution).toBe("the TTFT change is the server's: the server's own TTFT p50 moved +13.0 ms of the client's +14.6 ms");
      expect(c.headline).toContain("ttft_p50 +14.");
      expect(c.headline).toContain("(the TTFT change is the server's: ");
    });

    it("the path's when the server's stayed put and its buckets were fine enough to show the change", () => {
      const c = compareWithHistory(slower({ p50: 95.5, bucket: [95, 100] }), history(() => ({ p50: 95, bucket: [95, 100] })));
      expect(c.ttftAttribution).toBe("the TTFT change is the path's (network, proxy, the server's front end), not the engine's: the server's own TTFT p50 moved +0.50 ms of the client's +14.6 ms");
    });

    it('not said when the buckets are as wide as the change, or a baseline run has no server-side TTFT', () => {
      const coarse = compareWithHistory(slower({ p50: 95.5, bucket: [80, 100] }), history(() => ({ p50: 95, bucket: [80, 100] })));
      expect(coarse.ttftAttribution).toMatch(/^whose the TTFT change is cannot be told: .* buckets \(up to 20\.0 ms wide\) are too coarse/);
      const gap = compareWithHistory(slower({ p50: 108, bucket: [100, 250] }), history((i) => (i === 2 ? null : { p50: 95, bucket: [80, 100] })));
      expect(gap.verdict).toBe('regressed');
      expect(gap.ttftAttribution).toBeNull();
    });

    it('not said when TTFT p50 did not move', () => {
      const c = compareWithHistory(current(100.5, { serverTtft: { p50: 60, bucket: [40, 60] } }), history(() => ({ p50: 40, bucket: [20, 40] })));
      expect(c.verdict).toBe('unchanged');
      expect(c.ttftAttribution).toBeNull();
    });
  });

  it('an invalid run is not compared (its numbers are not a baseline), yet says what changed', () => {
    const c = compareWithHistory(current(150, { valid: false, context: context({ pod: { ...context().pod!, instanceType: 'g5.xlarge' } }) }), Array.from({ length: 4 }, () => entry(100)));
    expect(c.verdict).toBe('not-a-baseline');
    expect(c.metrics).toEqual([]);
    expect(c.changes).toEqual(['node type g6.xlarge → g5.xlarge']);
  });

  it('named reference runs must be in the series', () => {
    expect(() => compareWithHistory(current(100), [entry(100)], { reference: ['20000101T000000Z-gone00'] })).toThrow(InputError);
    const refs = [entry(100), entry(100)];
    const c = compareWithHistory(current(100), refs, { reference: [refs[0]!.runId] });
    expect(c).toMatchObject({ against: 'reference', baselineRuns: [refs[0]!.runId], verdict: 'unchanged' });
  });

  it('compareWithRuns refuses runs of another workload, naming what differs', () => {
    const other = { ...workload, input: 'fixed 64' };
    const ref: ComparedRun = { ...current(100), runId: '20250101T000000Z-ref000', context: context({ workload: other, fingerprint: workloadFingerprint(other) }) };
    expect(() => compareWithRuns(current(100), [ref])).toThrow(/run 20250101T000000Z-ref000 measured another workload: workload input "fixed 64" → /);
  });
});

describe('what a comparison publishes, and the notice', () => {
  const summaryWith = (comparison: Summary['comparison']): Summary => ({ run: { runId: 'r1', scenario: 'baseline', model: 'qwen3-8b' }, comparison, latency: {}, load: {}, requests: {}, throughput: {}, validity: { valid: true, reasons: [] } }) as unknown as Summary;

  it('RegressionCount and change_* only for a judged run', () => {
    const judged = compareWithHistory(current(100, { estimates: { ...estimates(100), e2e_p99: { value: 130, se: 0.1, n: 300, supported: true } } }), Array.from({ length: 4 }, () => entry(100)));
    const values = Object.fromEntries(runMetricValues({ ...summaryWith(judged), latency: { ttft: stats(), itl: stats(), tpot: stats(), ntpot: stats(), e2e: stats() }, load: { schedule_delay: stats(), achievedRate: 1 }, requests: { sent: 1, succeeded: 1, failed: 0 }, throughput: { outputTokensPerS: 1 } } as unknown as Summary).map((m) => [m.name, m.value]));
    expect(values.RegressionCount).toBe(1);
    expect(values.change_e2e_p99).toBeCloseTo(30, 1);
    expect(values.change_ttft_p50).toBe(0);
    const short = compareWithHistory(current(100), [entry(100)]);
    const none = runMetricValues({ ...summaryWith(short), latency: { ttft: stats(), itl: stats(), tpot: stats(), ntpot: stats(), e2e: stats() }, load: { schedule_delay: stats(), achievedRate: 1 }, requests: { sent: 1, succeeded: 1, failed: 0 }, throughput: { outputTokensPerS: 1 } } as unknown as Summary);
    expect(none.map((m) => m.name).filter((n) => n === 'RegressionCount' || n.startsWith('change_'))).toEqual([]);
  });

  it('the notice lists the regressed metrics and what changed; empty when nothing regressed', () => {
    const c = compareWithHistory(current(100, { estimates: { ...estimates(100), ttft_p99: { value: 140, se: 0.5, n: 300, supported: true } }, context: context({ pod: { ...context().pod!, images: ['vllm/vllm-openai:v0.12.0', 'busybox:1.36'] } }) }), Array.from({ length: 4 }, () => entry(100)));
    const text = regressionNotice(summaryWith(c), 's3://b/runs/baseline/qwen3-8b/r1/report.html');
    expect(text).toBe(
      [
        'inference-baseline: baseline / qwen3-8b regressed in run r1',
        `Against 4 earlier valid run(s) of the same workload and target (${c.baselineRuns.join(', ')}):`,
        `  ttft_p99  100.0 → 140.0 ms  +40.0 % (±${((c.metrics.find((m) => m.metric === 'ttft_p99')!.uncertainty ?? 0) * 100).toFixed(1)} %)`,
        `What changed since the previous run (${c.previousRunId}):`,
        '  - image vllm/vllm-openai:v0.11.0 → vllm/vllm-openai:v0.12.0',
        'Report: s3://b/runs/baseline/qwen3-8b/r1/report.html',
      ].join('\n'),
    );
    expect(regressionNotice(summaryWith(compareWithHistory(current(100), Array.from({ length: 4 }, () => entry(100)))), 'x')).toBe('');
  });
});

describe('where history lives', () => {
  it('beside runs/ in a bucket, beside the run directory locally', () => {
    expect(historySeriesPath('baseline', 'Qwen/Qwen3-8B')).toBe('history/baseline/Qwen-Qwen3-8B/');
    expect(historyRootOf('runs/baseline/qwen3-8b/20250101T020000Z-abc123/')).toBe('');
    expect(historyRootOf('team-a/runs/baseline/qwen3-8b/20250101T020000Z-abc123/')).toBe('team-a/');
    expect(historyRootOf('/home/me/results/20250101T020000Z-abc123')).toBe('/home/me/results/');
    expect(historyRootOf('custom/prefix/20250101T020000Z-abc123/')).toBe('custom/prefix/');
  });
});

function stats() {
  return { count: 300, mean: 1, min: 1, p50: 1, p90: 1, p95: 1, p99: 1, p999: 1, max: 1, insufficient: [] };
}
