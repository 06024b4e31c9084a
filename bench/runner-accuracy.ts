/**
 * The load generator's own error, against ground truth. For each rate, the simulator runs in its own
 * process and logs when it wrote every chunk; the runner measures the same requests. Prints schedule
 * delay p50/p99 and p50/p99 of |measured − ground truth| for ttft and for every itl gap.
 *
 *   npm run bench -- [--rates 1,10,100] [--duration 30]
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { RequestRecord } from '../runtime/core/records/record.ts';
import { layerConfig, parseScenario, presetConfig } from '../runtime/core/scenario/index.ts';
import { resolveScenario } from '../runtime/core/scenario/resolve.ts';
import { runBenchmark } from '../runtime/runner/run.ts';
import type { GroundTruthEntry } from '../runtime/simulator/index.ts';
import { systemClock } from '../runtime/timing/clock.ts';
import { spawnSimulator } from './support/simulator-process.ts';

const { values } = parseArgs({ options: { rates: { type: 'string', default: '1,10,100' }, duration: { type: 'string', default: '30' } } });
const rates = values.rates.split(',').map(Number);
const duration = Number(values.duration);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
const f = (x: number): string => x.toFixed(3);

console.log(`runner accuracy — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, seed baseline (512 in / 128 out, streaming), ${duration} s per rate\n`);
console.log('| rate (req/s) | requests | schedule delay p50 / p99 (ms) | ttft error p50 / p99 (ms) | itl error p50 / p99 (ms) | itl gaps | verdict |');
console.log('|---:|---:|---:|---:|---:|---:|---|');
for (const rate of rates) {
  const tmp = await mkdtemp(join(tmpdir(), 'ib-bench-'));
  const sim = await spawnSimulator([], join(tmp, 'truth.ndjson'));
  const dir = join(tmp, 'run');
  const raw = layerConfig(presetConfig('baseline'), { server: { base_url: sim.url }, load: { stages: [{ rate, duration }] } });
  let summary;
  let truth = new Map<string, GroundTruthEntry>();
  try {
    ({ summary } = await runBenchmark({ scenario: resolveScenario(parseScenario(raw, 'bench')), scenarioName: 'baseline', configYaml: '', runId: 'bench', outDir: dir, shard: { index: 0, count: 1 }, zone: null, clock: systemClock, interrupt: new AbortController().signal, graceMs: 10_000 }));
  } finally {
    truth = new Map((await sim.stop()).map((g) => [g.requestId, g]));
  }
  const files = (await readdir(join(dir, 'requests'))).filter((x) => x.endsWith('.ndjson.gz'));
  const records = (await Promise.all(files.map(async (x) => gunzipSync(await readFile(join(dir, 'requests', x))).toString('utf8'))))
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => RequestRecord.parse(JSON.parse(l)));
  const delay: number[] = [];
  const ttftErr: number[] = [];
  const itlErr: number[] = [];
  for (const r of records) {
    delay.push(r.sentAt! - r.scheduledAt!);
    const g = truth.get(`bench-${r.seq}`);
    if (!g || r.error || r.contentTimes.length !== g.contentWrites.length) continue;
    ttftErr.push(Math.abs(r.firstTokenAt! - r.sentAt! - (g.contentWrites[0]! - g.receivedAt)));
    for (let i = 1; i < r.contentTimes.length; i++) itlErr.push(Math.abs(r.contentTimes[i]! - r.contentTimes[i - 1]! - (g.contentWrites[i]! - g.contentWrites[i - 1]!)));
  }
  [delay, ttftErr, itlErr].forEach((a) => a.sort((x, y) => x - y));
  await rm(tmp, { recursive: true, force: true });
  console.log(`| ${rate} | ${records.length} | ${f(quantile(delay, 0.5))} / ${f(quantile(delay, 0.99))} | ${f(quantile(ttftErr, 0.5))} / ${f(quantile(ttftErr, 0.99))} | ${f(quantile(itlErr, 0.5))} / ${f(quantile(itlErr, 0.99))} | ${itlErr.length} | ${summary.validity.valid ? 'valid' : `invalid: ${summary.validity.reasons.map((r) => r.split(':')[0]).join('; ')}`} |`);
}
