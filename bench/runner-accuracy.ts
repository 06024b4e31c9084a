/**
 * The load generator's own error, against ground truth and beside the floor. For each rate, one
 * simulator process (pinned to its own core) logs when it wrote every chunk; the floor client
 * (bench/support/floor-client.ts: raw sockets, no parsing — what this machine allows any Node
 * client) and the runner send the same workload to it. Both are judged against the same ground
 * truth: schedule delay, |measured − written| for ttft and every itl gap, CPU per content event,
 * and the garbage collector's pauses during the runner's load.
 *
 * This VM's speed drifts by up to a quarter within minutes (the simulator's CPU for the same
 * requests moves with it), so the clients do not run one after another: each client's duration is
 * cut into `--slices` runs, and the clients take turns, one slice each, in alternating order, so a
 * slow spell lands on all of them. Each client's CPU is also given as a share of the simulator's
 * over its own slices, the same work at the same moments.
 *
 *   npm run bench -- [--rates 1,10,100] [--duration 30] [--slices 3] [--workers N] [--undici-floor] [--only floor|undici|runner] [--windows PATH] [--sim-args="--workers 2" --sim-cpus 0,1 --runner-cpus 0,1]
 *
 * Where each client's CPU goes (bench/perf-window.sh): Linux perf over the whole bench, its samples
 * placed in each client's load windows by the times `--windows` writes.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants as perf, type PerformanceEntry } from 'node:perf_hooks';
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
import { loadWindowLine } from './support/load-windows.ts';
import { spawnSimulator } from './support/simulator-process.ts';
import { openStealWindow, stealPercent } from './support/steal.ts';
import { loopThread, yieldBackgroundThreads } from '../runtime/timing/background-threads.ts';

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
    // Each client's duration is run in this many slices, the clients taking turns (see below).
    slices: { type: 'string', default: '3' },
    // One client alone (floor, undici or runner).
    only: { type: 'string' },
    // A file to append each client's load windows to, one line each: client, start and end (seconds
    // on CLOCK_MONOTONIC, perf's clock with `perf record -k CLOCK_MONOTONIC`), content events.
    windows: { type: 'string' },
    // load.num_workers of the runner (worker threads; GC pauses are then not observed: they happen in the threads).
    workers: { type: 'string', default: '1' },
    // Leave this process's other threads at their priority (the runner's and the bench's own
    // renice off: the A/B of "The loop's own threads" in BENCHMARKS.md).
    'leave-threads': { type: 'boolean', default: false },
  },
});
const rates = values.rates.split(',').map(Number);
const workers = Number(values.workers);
const duration = Number(values.duration);
const slices = Number(values.slices);
const only = values.only;
if (only !== undefined && !['floor', 'undici', 'runner'].includes(only)) {
  console.error(`--only ${only}: not a client. Fix: --only floor, --only undici or --only runner.`);
  process.exit(2);
}
// process.hrtime is libuv's CLOCK_MONOTONIC: the clock a profile recorded with -k CLOCK_MONOTONIC stamps its samples on.
const monotonicS = (): number => Number(process.hrtime.bigint()) / 1e9;
type ClientKey = 'floor' | 'undici' | 'runner';
const contentEvents = (measured: Measured[]): number => measured.reduce((n, m) => n + m.contentTimes.length, 0);
const sliceS = duration / slices;
const simArgs = values['sim-args'].split(' ').filter(Boolean);
// Runner (every thread of this process) and simulator on separate cores, so neither's work lands in
// the other's timestamps. On a 2-core machine at high rates they compete anyway; the CPU columns say.
const pinned = pin(values['runner-cpus']);
// The runner lowers its process's other threads before its load (timing/background-threads.ts); the
// bench does it once at the start, so the floor clients, which share the process, run alike from their first slice.
const leaveThreads = values['leave-threads'];
const reniced = leaveThreads ? [] : yieldBackgroundThreads(loopThread());

function pin(list: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', list, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Two stretches of one client's work as one: CPU and time add up; steal is weighted by each stretch's length. */
function addCpu<C extends { client: number; user: number; sim: number; wall: number; steal: number | null }>(a: C, b: C): C {
  const steal = a.steal === null || b.steal === null ? (a.steal ?? b.steal) : (a.steal * a.wall + b.steal * b.wall) / Math.max(1, a.wall + b.wall);
  return { ...a, client: a.client + b.client, user: a.user + b.user, sim: a.sim + b.sim, wall: a.wall + b.wall, steal };
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
console.log(`runner accuracy — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version} ${flags.length ? flags.join(' ') : '(no V8 flags: not as the Job runs it)'}, baseline (512 in / 128 out, streaming), ${duration} s per rate and client in ${slices} slice(s) taken in turn; ${pinned ? `runner on cpu ${values['runner-cpus']}, simulator on cpu ${values['sim-cpus']}` : 'not pinned (no taskset)'}${simArgs.length ? `; simulator ${simArgs.join(' ')}` : ''}; ${leaveThreads ? "the process's other threads left at their priority" : `the process's other threads at nice 19 (${reniced.length})`}\n`);
console.log('| rate (req/s) | client | requests | schedule delay p50 / p99 (ms) | ttft error p50 / p99 (ms) | itl error p50 / p99 (ms) | client CPU µs / content event (user + sys) | client CPU ÷ simulator CPU | simulator CPU | CPU steal | GC pauses (count, max ms) | verdict |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
// Lines printed after the table.
const notes: string[] = [];
for (const rate of rates) {
  const tmp = await mkdtemp(join(tmpdir(), 'ib-bench-'));
  const sim = await spawnSimulator(simArgs, join(tmp, 'truth.ndjson'), pinned ? values['sim-cpus'] : undefined);
  const rows: string[] = [];
  try {
    const model = ((await (await fetch(`${sim.url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data[0]!.id;
    type Cpu = { client: number; user: number; sim: number; wall: number; steal: number | null };
    // `window`: the load's start and end on monotonicS, for --windows.
    type Slice = { measured: Measured[]; cpu: Cpu; window: [number, number]; verdict?: string };
    // One of the bench's own clients, with its process CPU, the simulator's and the steal over its whole run.
    const timed = async (client: typeof runFloorClient, slice: number): Promise<Slice> => {
      const [c0, s0, w0, st] = [process.cpuUsage(), await sim.cpuMs(), systemClock(), openStealWindow()];
      const from = monotonicS();
      const measured = await client({ url: sim.url, model, rate, durationS: sliceS, prompt, maxTokens: 128, clock: systemClock, slice });
      const c = process.cpuUsage(c0);
      const window: [number, number] = [from, monotonicS()];
      return { measured, window, cpu: { client: (c.user + c.system) / 1000, user: c.user / 1000, sim: (await sim.cpuMs()) - s0, wall: systemClock() - w0, steal: st.share() } };
    };

    // The runner's GC pauses: the observer sees the whole process, so only those inside its load windows count.
    const gc: Array<{ kind: number; ms: number; at: number }> = [];
    const loadWindows: Array<[number, number]> = [];
    const gcEntry = (e: PerformanceEntry): (typeof gc)[number] => ({ kind: (e as unknown as { detail: { kind: number } }).detail.kind, ms: e.duration, at: e.startTime });
    const obs = new PerformanceObserver((list) => void gc.push(...list.getEntries().map(gcEntry)));
    obs.observe({ entryTypes: ['gc'] });
    const runnerSlice = async (slice: number): Promise<Slice> => {
      const dir = join(tmp, `run-${slice}`);
      const runId = `bench${slice}`;
      let [c0, s0, steal] = [process.cpuUsage(), await sim.cpuMs(), openStealWindow()];
      let c = process.cpuUsage(c0);
      let [loadStart, loadEnd] = [0, 0];
      let [windowStart, windowEnd] = [0, 0];
      let simEnd: Promise<number> = Promise.resolve(0);
      const { summary } = await startRunner({
        // CPU is counted as the floors' is: from opening the connections to the last response
        // (calibration and warm-up before, the summary after, excluded); GC from the first status line.
        ...benchRunOptions({
          runId,
          baseUrl: sim.url,
          rate,
          duration: sliceS,
          workers,
          outDir: dir,
          yieldThreads: !leaveThreads,
          onLoadStart: () => loadWindows.push([performance.now(), Number.POSITIVE_INFINITY]),
          onLoadEnd: () => {
            c = process.cpuUsage(c0);
            windowEnd = monotonicS();
            loadEnd = systemClock();
            simEnd = sim.cpuMs();
            loadWindows[loadWindows.length - 1]![1] = performance.now();
          },
        }),
        beforeLoad: async () => {
          s0 = await sim.cpuMs();
          loadStart = systemClock();
          c0 = process.cpuUsage();
          steal = openStealWindow();
          windowStart = monotonicS();
        },
      });
      const files = (await readdir(join(dir, 'requests'))).filter((x) => x.endsWith('.ndjson.gz'));
      const measured: Measured[] = (await Promise.all(files.map(async (x) => gunzipSync(await readFile(join(dir, 'requests', x))).toString('utf8'))))
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => RequestRecord.parse(JSON.parse(l)))
        .map((r) => ({ requestId: `${runId}-${r.seq}`, scheduledAt: r.scheduledAt!, sentAt: r.sentAt!, contentTimes: r.contentTimes, ok: r.error === null }));
      const cpu = { client: (c.user + c.system) / 1000, user: c.user / 1000, sim: (await simEnd) - s0, wall: loadEnd - loadStart, steal: steal.share() };
      return { measured, cpu, window: [windowStart, windowEnd], verdict: summary.validity.valid ? undefined : summary.validity.reasons.map((r) => r.split(':')[0]).join('; ') };
    };

    const clients: Array<{ key: ClientKey; name: string; run: (slice: number) => Promise<Slice> }> = [];
    const wanted = (key: ClientKey, flag: boolean): boolean => (only === undefined ? flag : only === key);
    if (wanted('floor', !values['no-floor'])) clients.push({ key: 'floor', name: 'floor', run: (k) => timed(runFloorClient, k) });
    if (wanted('undici', values['undici-floor'])) clients.push({ key: 'undici', name: 'floor on undici', run: (k) => timed(runUndiciFloorClient, k) });
    if (wanted('runner', true)) clients.push({ key: 'runner', name: workers > 1 ? `runner, ${workers} workers` : 'runner', run: runnerSlice });
    // The clients take turns, one slice each, in alternating order (A B C, C B A, …): the host's
    // drift over the run then lands on every client alike instead of on whichever ran in a slow spell.
    const tallies = clients.map(() => ({ measured: [] as Measured[], cpu: { client: 0, user: 0, sim: 0, wall: 0, steal: null } as Cpu, invalid: [] as string[], perSlice: [] as number[] }));
    for (let k = 0; k < slices; k++) {
      const order = clients.map((_, i) => i);
      if (k % 2 === 1) order.reverse();
      for (const i of order) {
        const { measured, cpu, window, verdict } = await clients[i]!.run(k);
        const events = contentEvents(measured);
        if (values.windows) appendFileSync(values.windows, loadWindowLine(clients[i]!.key, window, events));
        const t = tallies[i]!;
        t.measured.push(...measured);
        t.cpu = addCpu(t.cpu, cpu);
        t.perSlice[k] = (cpu.client * 1000) / Math.max(1, events);
        if (verdict) t.invalid.push(slices > 1 ? `slice ${k + 1}: ${verdict}` : verdict);
      }
    }
    gc.push(...obs.takeRecords().map(gcEntry));
    obs.disconnect();
    const runnerGc = gc.filter((g) => loadWindows.some(([a, b]) => g.at >= a && g.at <= b));

    const truth = new Map((await sim.stop()).map((g) => [g.requestId, g]));
    const row = (name: string, ms: Measured[], cpu: Cpu, gcs: string, verdict: string): void => {
      const e = errors(ms, truth);
      const perEvent = (cpuMs: number): string => ((cpuMs * 1000) / Math.max(1, e.events)).toFixed(1);
      rows.push(`| ${rate} | ${name} | ${ms.length} | ${pq(e.delay)} | ${pq(e.ttft)} | ${pq(e.itl)} | ${perEvent(cpu.client)} (${perEvent(cpu.user)} + ${perEvent(cpu.client - cpu.user)}) | ${(cpu.client / cpu.sim).toFixed(3)} | ${Math.round((100 * cpu.sim) / cpu.wall)} % | ${stealPercent(cpu.steal)} | ${gcs} | ${verdict} |`);
    };
    const minor = runnerGc.filter((g) => g.kind === perf.NODE_PERFORMANCE_GC_MINOR);
    const major = runnerGc.filter((g) => g.kind !== perf.NODE_PERFORMANCE_GC_MINOR);
    // count, longest pause and their total, in ms.
    const pauses = (of: Array<{ ms: number }>): string => `${of.length}, ${f(Math.max(0, ...of.map((g) => g.ms)))} (sum ${Math.round(of.reduce((a, g) => a + g.ms, 0))})`;
    const gcs = workers > 1 ? '– (in the threads)' : `minor ${pauses(minor)}; other ${pauses(major)}`;
    clients.forEach((c, i) => {
      const t = tallies[i]!;
      const isRunner = c.key === 'runner';
      row(c.name, t.measured, t.cpu, isRunner ? gcs : '–', isRunner ? (t.invalid.length === 0 ? 'valid' : `invalid: ${t.invalid.join('; ')}`) : '–');
    });
    // The spread a ratio of the whole rows carries: each slice's CPU per event, and the last client's
    // over the first's slice by slice (neighbours in time, so the host's drift is mostly shared).
    if (slices > 1) {
      const bySlice = clients.map((c, i) => `${c.name} ${tallies[i]!.perSlice.map((x) => x.toFixed(1)).join(' / ')}`).join('; ');
      const [a, b] = [tallies[0]!, tallies[tallies.length - 1]!];
      const ratios = clients.length > 1 ? `; ${clients[clients.length - 1]!.name} ÷ ${clients[0]!.name} by slice ${b.perSlice.map((x, k) => (x / a.perSlice[k]!).toFixed(2)).join(' / ')}` : '';
      notes.push(`${rate} req/s, CPU µs / content event by slice: ${bySlice}${ratios}`);
    }
  } finally {
    if (sim.child.exitCode === null) await sim.stop().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
  for (const r of rows) console.log(r);
}
if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
