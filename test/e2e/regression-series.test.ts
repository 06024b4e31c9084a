import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { RequestRecord } from '../../runtime/core/records/record.ts';
import type { RunManifest } from '../../runtime/core/records/run-manifest.ts';
import { parseScenario, resolveScenario } from '../../runtime/core/scenario/index.ts';
import type { Summary } from '../../runtime/core/summary/schema.ts';
import { RUNNER_VERSION } from '../../runtime/runner/run.ts';
import { resolveSimulatorOptions, startSimulator } from '../../runtime/simulator/index.ts';
import { interTokenGapMs, requestRng, timeToFirstTokenMs } from '../../runtime/simulator/latency-model.ts';
import { behaviourSettings } from '../../runtime/simulator/server.ts';
import { writeNativeRun } from '../../bench/support/generate.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/**
 * The nightly question on one machine: five nights of an unchanged server (the built-in simulator,
 * TTFT 40 ms), then the server restarted with TTFT raised 15 % (46 ms) and measured once more. The
 * five nights are written as the runner writes a run (run.json, config.yml, one shard) from seeded
 * draws of the simulator's own latency model, and aggregated night after night through the CLI: their
 * verdicts are the product's, and the same on any machine, busy or not. The last night is real: the
 * runner against the simulator over loopback, the real aggregator and history. `compare`, `history`
 * and report.html must all say "regressed" and name the changed setting; the unchanged nights must
 * say "unchanged".
 */
const quiet = { ttftMs: 40, ttftJitterMs: 0, itlMs: 12, jitterMs: 1 };
const BEFORE = 5;
/**
 * The baseline preset with 32-token outputs and the load-fidelity rules loosened (schedule delay
 * 1 s, rate 50 %): this file tests the comparison, not the runner's timing (a busy machine may send
 * the real run's requests late). Every night uses it, so they share one workload.
 */
const CONFIG = [
  'api: { type: completion, streaming: true }',
  'data:',
  '  type: random',
  '  input_distribution: { mean: 512, std_dev: 0, min: 512, max: 512 }',
  '  output_distribution: { mean: 32, std_dev: 0, min: 32, max: 32 }',
  'load:',
  '  type: constant',
  '  stages: [{ rate: 10, duration: 3 }]',
  'server: { type: vllm, model_name: qwen3-8b, base_url: http://unused:8000, ignore_eos: true }',
  'validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5 }',
  '',
].join('\n');
let config: string;
let out: string;
const runIds: string[] = [];
const exits: number[] = [];
const stdouts: string[] = [];

const runIdOf = (i: number): string => `20250101T02${String(i).padStart(2, '0')}00Z-series`;

/**
 * Night `i` as the runner would have written it against a simulator with TTFT `ttftMs`: each
 * request's times drawn as that simulator draws them (its latency model, seed 1, request by
 * request), plus 0.3 ms of loopback each way; the server facts its `/version` reports.
 */
async function writeNight(i: number, ttftMs: number): Promise<string> {
  const runId = runIdOf(i);
  const dir = join(out, runId);
  const sc = resolveScenario(parseScenario(parse(CONFIG) as Record<string, unknown>, 'series.yml'));
  const sim = resolveSimulatorOptions({ ...quiet, ttftMs });
  const t0 = Date.UTC(2025, 0, 1, 2, i) + 50;
  const records: RequestRecord[] = Array.from({ length: 30 }, (_, seq) => {
    const rng = requestRng(sim.seed + i, seq);
    const scheduledAt = t0 + seq * 100;
    const sentAt = scheduledAt + 0.3;
    const contentTimes: number[] = [];
    let t = sentAt + 0.3 + timeToFirstTokenMs(sim, 512, rng);
    for (let k = 0; k < 32; k++) {
      if (k > 0) t += interTokenGapMs(sim, rng);
      contentTimes.push(Math.round(t * 1000) / 1000);
    }
    return {
      v: 1, runId, shard: 0, seq, stage: 0, scheduledAt, sentAt, firstTokenAt: contentTimes[0]!, doneAt: contentTimes.at(-1)! + 0.3, contentTimes,
      inputTokens: { requested: 512, client: 512, server: 512 }, outputTokens: { requested: 32, client: 32, server: 32 }, status: 200, error: null,
    };
  });
  await writeNativeRun(dir, records, { shards: 1, tokens: 32, rate: 10, runId });
  const manifest: RunManifest = {
    v: 1,
    identity: { runId, scenario: 'baseline', model: 'qwen3-8b', target: 'http://127.0.0.1:8000', zone: null, runner: { kind: 'native', version: RUNNER_VERSION }, api: 'completion', streaming: true },
    request: { arrival: sc.load.arrival, stages: sc.load.stages, intervalS: sc.load.intervalS, ignoreEos: true, validity: sc.validity, seed: { value: i, from: 'run-id' } },
    scheduled: 30,
    shards: 1,
    server: { version: sim.version, settings: Object.fromEntries(Object.entries(behaviourSettings(sim)).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)])) },
  };
  await writeFile(join(dir, 'run.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(dir, 'config.yml'), CONFIG);
  return dir;
}

async function record(runId: string, r: { code: number; stdout: string; stderr: string }): Promise<void> {
  runIds.push(runId);
  exits.push(r.code);
  stdouts.push(r.stdout + r.stderr);
}

beforeAll(async () => {
  out = await tempDir();
  await mkdir(out, { recursive: true });
  config = join(await tempDir(), 'series.yml');
  await writeFile(config, CONFIG);
  for (let i = 0; i < BEFORE; i++) await record(runIdOf(i), await cli(['aggregate', await writeNight(i, quiet.ttftMs)]));
  // The last night is measured for real: the simulator restarted with TTFT 46 ms.
  const sim = await startSimulator({ ...quiet, ttftMs: 46, keepGroundTruth: false });
  try {
    await record(runIdOf(BEFORE), await cli(['run', '--config', config, '--name', 'baseline', '--target', sim.url, '--out', out, '--run-id', runIdOf(BEFORE), '--workers', '1']));
  } finally {
    await sim.close();
  }
}, 120_000);

const summaryOf = async (runId: string): Promise<Summary> => JSON.parse(await readFile(join(out, runId, 'summary.json'), 'utf8')) as Summary;

/**
 * The changed run's ttft_p50 row as its summary has it — what the headline, `compare` and the report
 * must print. The numbers are measured (the simulator's 40 and 46 ms plus loopback, more on a
 * loaded machine), so they are read, not assumed; only their floors are physics.
 */
async function ttftRow(): Promise<{ baseline: string; value: string; change: string }> {
  const m = (await summaryOf(runIds.at(-1)!)).comparison!.metrics.find((x) => x.metric === 'ttft_p50')!;
  expect(m.baseline!).toBeGreaterThanOrEqual(40);
  expect(m.value!).toBeGreaterThanOrEqual(46);
  const re = (s: string): string => s.replace(/[.+]/g, (c) => `\\${c}`);
  const ms = (x: number): string => re(x >= 100 ? x.toFixed(1) : x.toFixed(3));
  return { baseline: ms(m.baseline!), value: ms(m.value!), change: re(`+${(m.change! * 100).toFixed(1)} %`) };
}

describe('a local series with one change: the simulator\'s TTFT raised 15 %', () => {
  it('every run is valid and leaves a history entry under <out>/history/<scenario>/<model>/', async () => {
    // On failure, the runs' own output says why (their validity reasons).
    expect(exits, stdouts.join('\n')).toEqual(Array(BEFORE + 1).fill(0));
    expect((await readdir(join(out, 'history', 'baseline', 'qwen3-8b'))).sort()).toEqual(runIds.map((id) => `${id}.json`));
  });

  it('the first runs have too little history, the unchanged ones are "unchanged", and the changed one is "regressed"', async () => {
    const verdicts = await Promise.all(runIds.map(async (id) => (await summaryOf(id)).comparison?.verdict));
    expect(verdicts).toEqual(['insufficient-history', 'insufficient-history', 'insufficient-history', 'unchanged', 'unchanged', 'regressed']);
    const last = await summaryOf(runIds.at(-1)!);
    const ttft = last.comparison!.metrics.find((m) => m.metric === 'ttft_p50')!;
    expect(ttft.verdict).toBe('regressed');
    // 46 ms against 40: at least +10 % (a busy machine can only add to the measured TTFT).
    expect(ttft.change!).toBeGreaterThan(0.1);
    expect(last.comparison!.baselineRuns).toEqual(runIds.slice(0, BEFORE));
    expect(last.comparison!.changes).toEqual(['server setting ttftMs 40 → 46']);
    expect(stdouts.at(-1)).toMatch(new RegExp(`^comparison: regressed against 5 earlier runs: ttft_p50 ${(await ttftRow()).change}[^\\n]*; what changed since the previous run: server setting ttftMs 40 → 46$`, 'm'));
  });

  it('compare names the change and exits 4; compare of an unchanged run exits 0', async () => {
    const r = await cli(['compare', join(out, runIds.at(-1)!)]);
    const row = await ttftRow();
    expect(r.stdout).toMatch(new RegExp(`^ttft_p50\\s+${row.baseline}\\s+${row.value}\\s+${row.change} \\(±\\d+\\.\\d %\\)\\s+regressed$`, 'm'));
    expect(r.stdout).toContain(`what changed since the previous run (${runIds[BEFORE - 1]}):\n  - server setting ttftMs 40 → 46`);
    expect(r.stdout).toMatch(/^verdict: regressed — /m);
    expect(r.code).toBe(4);
    const unchanged = await cli(['compare', join(out, runIds[BEFORE - 1]!)]);
    expect(unchanged.stdout).toMatch(/^verdict: unchanged — /m);
    expect(unchanged.code).toBe(0);
  });

  it('compare against one named run judges sampling error only, and says so', async () => {
    const r = await cli(['compare', join(out, runIds.at(-1)!), join(out, runIds[0]!)]);
    const said = /verdict: regressed — regressed against 1 named run \(sampling error only: with fewer than 3 runs the night-to-night spread is unknown\): ttft_p50 \+(\d+\.\d) %/.exec(r.stdout);
    expect(said, r.stdout).not.toBeNull();
    // The change is the two runs' own ttft_p50 (their history entries), whatever this machine measured.
    const entry = async (id: string): Promise<number> => (JSON.parse(await readFile(join(out, 'history', 'baseline', 'qwen3-8b', `${id}.json`), 'utf8')) as { metrics: { ttft_p50: { value: number } } }).metrics.ttft_p50.value;
    const [now, then] = [await entry(runIds.at(-1)!), await entry(runIds[0]!)];
    expect(Number(said![1])).toBeCloseTo(((now - then) / then) * 100, 0);
    expect(r.code).toBe(4);
  });

  it('history lists the series run by run, with the verdicts and what changed', async () => {
    const r = await cli(['history', out]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^series baseline \/ qwen3-8b — 6 run\(s\), 1 workload\(s\), 1 target\(s\); /);
    const rows = lines.filter((l) => l.includes('-series'));
    expect(rows).toHaveLength(6);
    expect(rows.slice(3, 5).every((l) => /\byes\b.*\bunchanged\b/.test(l))).toBe(true);
    expect(rows[5]).toMatch(/\byes\b.*regressed \(ttft_p50[^)]*\)\s+server setting ttftMs 40 → 46$/);
  });

  it('report.html shows the comparison, what changed, and the trend of the window with this run', async () => {
    const html = await readFile(join(out, runIds.at(-1)!, 'report.html'), 'utf8');
    expect(html).toContain('<div id="comparison-verdict" class="regressed">regressed</div>');
    const row = await ttftRow();
    expect(html).toMatch(new RegExp(`<tr><th>ttft_p50</th><td>${row.baseline}</td><td>${row.value}</td><td>${row.change} \\(±[\\d.]+ %\\)</td><td class="regressed">regressed</td></tr>`));
    expect(html).toContain('<ul id="changes"><li>server setting ttftMs 40 → 46</li></ul>');
    const data = JSON.parse(/<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!) as { trend: { runIds: string[]; current: number; metrics: { ttft_p50: number[] } } };
    expect(data.trend.runIds).toEqual(runIds);
    expect(data.trend.current).toBe(BEFORE);
    expect(data.trend.metrics.ttft_p50).toHaveLength(BEFORE + 1);
  });
});
