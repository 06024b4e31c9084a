/**
 * Aggregation of a large inference-perf `per_request_lifecycle_metrics.json` (default 1 GB): MB/s
 * and peak RSS. The input is generated once under /tmp in the documented v0.6.x shape and reused.
 * Usage: node --import tsx bench/aggregate-inference-perf.ts [--mb 1024] [--dir /tmp/ib-bench-ip]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeInferencePerfRun } from './support/generate.ts';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, dir: { type: 'string', default: '/tmp/ib-bench-ip' } } });
const targetBytes = Number(values.mb) * 1024 * 1024;
const dir = `${values.dir}-${values.mb}mb`;
const file = join(dir, 'per_request_lifecycle_metrics.json');
const shape = { version: '0.6.1' as const, tokens: 128, promptBytes: 2600, rate: 10 };

if (!existsSync(file) || Math.abs(statSync(file).size - targetBytes) / targetBytes > 0.05) {
  // Measure one record's size, then write enough of them.
  const probe = await writeInferencePerfRun(`${dir}-probe`, { ...shape, requests: 200 });
  await rm(`${dir}-probe`, { recursive: true, force: true });
  const requests = Math.ceil(targetBytes / (probe.perRequestBytes / 200));
  const t = performance.now();
  await writeInferencePerfRun(dir, { ...shape, requests });
  console.log(`generated ${requests} records (${(statSync(file).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const bytes = statSync(file).size;
const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'aggregate-measure.ts'), dir], { encoding: 'utf8' });
const m = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; aggregateSeconds: number; peakRssMB: number; records: number };
console.log(`inference-perf per-request file: ${(bytes / 1e6).toFixed(0)} MB, ${m.records} records`);
console.log(`  aggregate + outputs: ${m.seconds.toFixed(1)} s  →  ${(bytes / 1e6 / m.seconds).toFixed(1)} MB/s  (${(m.records / m.seconds).toFixed(0)} records/s)`);
console.log(`  peak RSS: ${m.peakRssMB.toFixed(0)} MB  (file/RSS = ${(bytes / 1024 / 1024 / m.peakRssMB).toFixed(1)}x)`);
// The reference on the same file: json.load + numpy percentiles (bench/support/numpy-reference.py).
try {
  const ref = JSON.parse(execFileSync('python3', [join(import.meta.dirname, 'support', 'numpy-reference.py'), file], { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').at(-1)!) as { seconds: number; peakRssMB: number };
  console.log(`numpy reference (json.load + np.percentile): ${ref.seconds.toFixed(1)} s  →  ${(bytes / 1e6 / ref.seconds).toFixed(1)} MB/s, peak RSS ${ref.peakRssMB.toFixed(0)} MB`);
} catch (e) {
  console.log(`numpy reference not run: ${(e as Error).message.split('\n')[0]}`);
}
