/**
 * What the coordinator thread of a runner with several workers (runtime/runner/workers.ts) spends on
 * what its workers send it: its event-loop utilization, its garbage collections and the bytes of
 * messages it receives, during the load. The runner here, the simulator in its own process; the
 * worker threads run from the sources (tsx), as `run --workers N` does from a checkout.
 *
 *   node --import tsx bench/worker-traffic.ts [--rate 100] [--duration 30] [--workers 2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startRunner } from '../runtime/runner/start.ts';
import { systemClock } from '../runtime/timing/clock.ts';
import { benchRunOptions } from './support/bench-run.ts';
import { spawnSimulator } from './support/simulator-process.ts';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '100' }, duration: { type: 'string', default: '30' }, workers: { type: 'string', default: '2' } } });
const rate = Number(values.rate);
const duration = Number(values.duration);
const workers = Number(values.workers);

const pauses: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push(e.duration);
});

const tmp = await mkdtemp(join(tmpdir(), 'ib-bench-'));
const sim = await spawnSimulator([], join(tmp, 'truth.ndjson'));
try {
  let loadStart = 0;
  let elu0 = performance.eventLoopUtilization();
  let heap0 = 0;
  const result = await startRunner(
    benchRunOptions({
      baseUrl: sim.url,
      rate,
      duration,
      workers,
      outDir: join(tmp, 'run'),
      onLoadStart: () => {
        loadStart = systemClock();
        elu0 = performance.eventLoopUtilization();
        heap0 = process.memoryUsage().heapUsed;
        observer.observe({ entryTypes: ['gc'] });
      },
    }),
  );
  const elu = performance.eventLoopUtilization(elu0);
  observer.disconnect();
  const loadS = (systemClock() - loadStart) / 1000;
  const total = pauses.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({
    rate, duration, workers,
    sent: result.summary.requests.sent,
    coordinator: {
      eventLoopUtilization: Number(elu.utilization.toFixed(4)),
      busyMsPerS: Number((elu.active / loadS).toFixed(2)),
      gcCount: pauses.length,
      gcMs: Number(total.toFixed(1)),
      gcMaxMs: Number(Math.max(0, ...pauses).toFixed(2)),
      heapGrowthMb: Number(((process.memoryUsage().heapUsed - heap0) / 1048576).toFixed(1)),
    },
    scheduleDelayP99Ms: result.summary.load.schedule_delay.p99,
  }));
} finally {
  await sim.stop();
  await rm(tmp, { recursive: true, force: true });
}
