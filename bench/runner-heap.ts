/**
 * What the runner's memory holds during a run, as opposed to its peak RSS (bench/runner-memory.ts):
 * the runner in this process at one rate, `process.memoryUsage()` sampled every few seconds of the
 * load, and the heap after a full collection at the end. Retention shows as a heap that climbs from
 * one part of the run to the next; garbage waiting for V8's next major collection does not.
 *
 *   taskset -c 0 node --expose-gc --import tsx bench/runner-heap.ts [--rate 50] [--duration 240]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { runBenchmark } from '../runtime/runner/run.ts';
import { systemClock } from '../runtime/timing/clock.ts';
import { benchRunOptions } from './support/bench-run.ts';
import { spawnSimulator } from './support/simulator-process.ts';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '50' }, duration: { type: 'string', default: '240' } } });
const rate = Number(values.rate);
const duration = Number(values.duration);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);
const samples: Array<{ t: number; rss: number; heapUsed: number; external: number }> = [];
const pauses: Array<{ kind: number; ms: number }> = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push({ kind: (e as unknown as { detail: { kind: number } }).detail.kind, ms: e.duration });
});

const tmp = await mkdtemp(join(tmpdir(), 'ib-bench-'));
const sim = await spawnSimulator([], join(tmp, 'truth.ndjson'), '1');
try {
  let loadStart = 0;
  let sampler: NodeJS.Timeout | undefined;
  await runBenchmark(
    benchRunOptions({
      baseUrl: sim.url,
      rate,
      duration,
      workers: 1,
      outDir: join(tmp, 'run'),
      onLoadStart: () => {
        loadStart = systemClock();
        observer.observe({ entryTypes: ['gc'] });
        sampler = setInterval(() => {
          const m = process.memoryUsage();
          samples.push({ t: (systemClock() - loadStart) / 1000, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
        }, 2000);
      },
    }),
  );
  clearInterval(sampler);
  observer.disconnect();
  gc();
  const after = process.memoryUsage();

  console.log(`runner heap — ${rate} req/s for ${duration} s, node ${process.version}; memoryUsage every 2 s of the load\n`);
  console.log('| part of the run | samples | heap used min – max (MB) | external max (MB) | RSS max (MB) |');
  console.log('|---|---:|---:|---:|---:|');
  const parts = 4;
  for (let p = 0; p < parts; p++) {
    const inPart = samples.filter((x) => x.t >= (p * duration) / parts && x.t < ((p + 1) * duration) / parts);
    if (inPart.length === 0) continue;
    const used = inPart.map((x) => x.heapUsed);
    console.log(`| ${p + 1} of ${parts} | ${inPart.length} | ${mb(Math.min(...used))} – ${mb(Math.max(...used))} | ${mb(Math.max(...inPart.map((x) => x.external)))} | ${mb(Math.max(...inPart.map((x) => x.rss)))} |`);
  }
  const minor = pauses.filter((x) => x.kind === perf.NODE_PERFORMANCE_GC_MINOR);
  const other = pauses.filter((x) => x.kind !== perf.NODE_PERFORMANCE_GC_MINOR);
  console.log(`\nafter the run and a full collection: heap used ${mb(after.heapUsed)} MB, RSS ${mb(after.rss)} MB; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
  console.log(`GC during the load: minor ${minor.length} (max ${Math.max(0, ...minor.map((x) => x.ms)).toFixed(1)} ms), other ${other.length} (max ${Math.max(0, ...other.map((x) => x.ms)).toFixed(1)} ms)`);
} finally {
  if (sim.child.exitCode === null) await sim.stop().catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
}
