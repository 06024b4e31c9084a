/**
 * The load generator's own error, against ground truth and beside the floor. For each rate, one
 * simulator process (pinned to its own core) logs when it wrote every chunk; first the floor client
 * (bench/support/floor-client.ts: raw sockets, no parsing — what this machine allows any Node
 * client), then the runner, send the same workload to it. Both are judged against the same ground
 * truth: schedule delay, |measured − written| for ttft and every itl gap, CPU per content event,
 * and the garbage collector's pauses during the runner's load.
 *
 * The clients run one after another, and this VM's speed drifts between their windows (the
 * simulator's CPU for the same requests moves with it, by up to a quarter): each client's CPU is
 * also given as a share of the simulator's over the same window, the same work at the same
 * moment, so that clients compare with the host's speed taken out.
 *
 *   npm run bench -- [--rates 1,10,100] [--duration 30] [--workers N] [--undici-floor] [--sim-args="--workers 2" --sim-cpus 0,1 --runner-cpus 0,1]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { RequestRecord } from '../runtime/core/records/record.ts';
import { startRunner } from '../runtime/runner/start.ts';
import { words } from '../runtime/runner/words.ts';
import type { GroundTruthEntry } from '../runtime/simulator/index.ts';
import { systemClock } from '../runtime/timing/clock.ts';
import { runFloorClient } from './support/floor-client.ts';
import { runUndiciFloorClient } from './support/undici-floor-client.ts';
import { benchRunOptions } from './support/bench-run.ts';
import { spawnSimulator } from './support/simulator-process.ts';
import { openStealWindow, stealPercent } from './support/steal.ts';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '1,10,100' },
    duration: { type: 'string', default: '30' },
    'sim-args': { type: 'string', default: '' },
    'sim-cpus': { type: 'string', default: '1' },
    'runner-cpus': { type: 'string', default: '0' },
    'no-floor': { type: 'boolean', default: false },
    // A third client between the floor and the runner: the floor's work on undici (bench/support/undici-floor-client.ts).
    'undici-floor': { type: 'boolean', default: false },
    // load.num_workers of the runner (worker threads; GC pauses are then not observed: they happen in the threads).
    workers: { type: 'string', default: '1' },
  },
});
const rates = values.rates.split(',').map(Number);
const workers = Number(values.workers);
const duration = Number(values.duration);
const simArgs = values['sim-args'].split(' ').filter(Boolean);
// Runner (every thread of this process) and simulator on separate cores, so neither's work lands in
// the other's timestamps. On a 2-core machine at high rates they compete anyway; the CPU columns say.
const pinned = pin(values['runner-cpus']);

function pin(list: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', list, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
const f = (x: number): string => x.toFixed(3);
const pq = (a: number[]): string => `${f(quantile(a, 0.5))} / ${f(quantile(a, 0.99))}`;

interface Measured {
  requestId: string;
  scheduledAt: number;
  sentAt: number;
  contentTimes: number[];
  ok: boolean;
}

/** Errors of one client's requests against the simulator's record of the same requests. */
function errors(ms: Measured[], truth: Map<string, GroundTruthEntry>): { delay: number[]; ttft: number[]; itl: number[]; events: number } {
  const delay: number[] = [];
  const ttft: number[] = [];
  const itl: number[] = [];
  let events = 0;
  for (const r of ms) {
    delay.push(r.sentAt - r.scheduledAt);
    events += r.contentTimes.length;
    const g = truth.get(r.requestId);
    if (!g || !r.ok || r.contentTimes.length !== g.contentWrites.length) continue;
    ttft.push(Math.abs(r.contentTimes[0]! - r.sentAt - (g.contentWrites[0]! - g.receivedAt)));
    for (let i = 1; i < r.contentTimes.length; i++) itl.push(Math.abs(r.contentTimes[i]! - r.contentTimes[i - 1]! - (g.contentWrites[i]! - g.contentWrites[i - 1]!)));
  }
  for (const a of [delay, ttft, itl]) a.sort((x, y) => x - y);
  return { delay, ttft, itl, events };
}

function prompt(seq: number): string {
  // 512 one-token words, different for every request from its first word (no prefix-cache hit anywhere).
  const out: string[] = [`floor${seq}`];
  for (let i = 1; i < 512; i++) out.push(words[(seq * 7919 + i * 104729) % words.length]!);
  return out.join(' ');
}

// The Job runs the runner with RUNNER_NODE_FLAGS; a bench without them measures another process.
const flags = process.execArgv.filter((a) => a.startsWith('--') && a !== '--import' && !a.startsWith('--import='));
console.log(`runner accuracy — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version} ${flags.length ? flags.join(' ') : '(no V8 flags: not as the Job runs it)'}, baseline (512 in / 128 out, streaming), ${duration} s per rate and client; ${pinned ? `runner on cpu ${values['runner-cpus']}, simulator on cpu ${values['sim-cpus']}` : 'not pinned (no taskset)'}${simArgs.length ? `; simulator ${simArgs.join(' ')}` : ''}\n`);
console.log('| rate (req/s) | client | requests | schedule delay p50 / p99 (ms) | ttft error p50 / p99 (ms) | itl error p50 / p99 (ms) | client CPU µs / content event (user + sys) | client CPU ÷ simulator CPU | simulator CPU | CPU steal | GC pauses (count, max ms) | verdict |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const rate of rates) {
  const tmp = await mkdtemp(join(tmpdir(), 'ib-bench-'));
  const sim = await spawnSimulator(simArgs, join(tmp, 'truth.ndjson'), pinned ? values['sim-cpus'] : undefined);
  const rows: string[] = [];
  try {
    const model = ((await (await fetch(`${sim.url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data[0]!.id;
    type Cpu = { client: number; user: number; sim: number; wall: number; steal: number | null };
    // One of the bench's own clients, with its process CPU, the simulator's and the steal over its whole run.
    const timed = async (client: typeof runFloorClient): Promise<{ measured: Measured[]; cpu: Cpu }> => {
      const [c0, s0, w0, st] = [process.cpuUsage(), await sim.cpuMs(), systemClock(), openStealWindow()];
      const measured = await client({ url: sim.url, model, rate, durationS: duration, prompt, maxTokens: 128, clock: systemClock });
      const c = process.cpuUsage(c0);
      return { measured, cpu: { client: (c.user + c.system) / 1000, user: c.user / 1000, sim: (await sim.cpuMs()) - s0, wall: systemClock() - w0, steal: st.share() } };
    };
    const none = { measured: [] as Measured[], cpu: { client: 0, user: 0, sim: 0, wall: 0, steal: null } as Cpu };
    const { measured: floor, cpu: floorCpu } = values['no-floor'] ? none : await timed(runFloorClient);
    const { measured: undici, cpu: undiciCpu } = values['undici-floor'] ? await timed(runUndiciFloorClient) : none;

    const gc: Array<{ kind: number; ms: number }> = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gc.push({ kind: ((e as unknown as { detail: { kind: number } }).detail).kind, ms: e.duration });
    });
    const dir = join(tmp, 'run');
    let [c0, s0, steal] = [process.cpuUsage(), await sim.cpuMs(), openStealWindow()];
    let c = process.cpuUsage(c0);
    let [loadStart, loadEnd] = [0, 0];
    let simEnd: Promise<number> = Promise.resolve(0);
    const { summary } = await startRunner({
      // CPU is counted as the floors' is: from opening the connections to the last response
      // (calibration and warm-up before, the summary after, excluded); GC from the first status line.
      ...benchRunOptions({
        baseUrl: sim.url,
        rate,
        duration,
        workers,
        outDir: dir,
        onLoadStart: () => obs.observe({ entryTypes: ['gc'] }),
        onLoadEnd: () => {
          c = process.cpuUsage(c0);
          loadEnd = systemClock();
          simEnd = sim.cpuMs();
        },
      }),
      beforeLoad: async () => {
        s0 = await sim.cpuMs();
        loadStart = systemClock();
        c0 = process.cpuUsage();
        steal = openStealWindow();
      },
    });
    obs.disconnect();
    const runnerCpu = { client: (c.user + c.system) / 1000, user: c.user / 1000, sim: (await simEnd) - s0, wall: loadEnd - loadStart, steal: steal.share() };
    const files = (await readdir(join(dir, 'requests'))).filter((x) => x.endsWith('.ndjson.gz'));
    const runner: Measured[] = (await Promise.all(files.map(async (x) => gunzipSync(await readFile(join(dir, 'requests', x))).toString('utf8'))))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => RequestRecord.parse(JSON.parse(l)))
      .map((r) => ({ requestId: `bench-${r.seq}`, scheduledAt: r.scheduledAt!, sentAt: r.sentAt!, contentTimes: r.contentTimes, ok: r.error === null }));

    const truth = new Map((await sim.stop()).map((g) => [g.requestId, g]));
    const row = (name: string, ms: Measured[], cpu: Cpu, gcs: string, verdict: string): void => {
      const e = errors(ms, truth);
      const perEvent = (cpuMs: number): string => ((cpuMs * 1000) / Math.max(1, e.events)).toFixed(1);
      rows.push(`| ${rate} | ${name} | ${ms.length} | ${pq(e.delay)} | ${pq(e.ttft)} | ${pq(e.itl)} | ${perEvent(cpu.client)} (${perEvent(cpu.user)} + ${perEvent(cpu.client - cpu.user)}) | ${(cpu.client / cpu.sim).toFixed(3)} | ${Math.round((100 * cpu.sim) / cpu.wall)} % | ${stealPercent(cpu.steal)} | ${gcs} | ${verdict} |`);
    };
    if (floor.length > 0) row('floor', floor, floorCpu, '–', '–');
    if (undici.length > 0) row('floor on undici', undici, undiciCpu, '–', '–');
    const minor = gc.filter((g) => g.kind === perf.NODE_PERFORMANCE_GC_MINOR);
    const major = gc.filter((g) => g.kind !== perf.NODE_PERFORMANCE_GC_MINOR);
    // count, longest pause and their total, in ms.
    const pauses = (of: Array<{ ms: number }>): string => `${of.length}, ${f(Math.max(0, ...of.map((g) => g.ms)))} (sum ${Math.round(of.reduce((a, g) => a + g.ms, 0))})`;
    const gcs = workers > 1 ? '– (in the threads)' : `minor ${pauses(minor)}; other ${pauses(major)}`;
    row(workers > 1 ? `runner, ${workers} workers` : 'runner', runner, runnerCpu, gcs, summary.validity.valid ? 'valid' : `invalid: ${summary.validity.reasons.map((r) => r.split(':')[0]).join('; ')}`);
  } finally {
    if (sim.child.exitCode === null) await sim.stop().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
  for (const r of rows) console.log(r);
}
