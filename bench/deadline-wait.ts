/**
 * How late a wait for a deadline wakes, and what it costs, for each way of waiting in Node. The
 * ways take turns (wait 1 the first, wait 2 the second, …) so that each sees the same machine: on a
 * VM whose host takes CPU at random, back-to-back runs of one way and then the other compare the host.
 *
 *   taskset -c 0 node --import tsx bench/deadline-wait.ts [--hz 20] [--waits 4800]
 *
 * - sleepUntil: the runner's (runtime/timing/precise-timer.ts): a timer for the whole wait, then a
 *   `setImmediate` spin for what the timer leaves (Node's timers count whole ms on the loop's
 *   cached clock, so one can fire up to ~1 ms early).
 * - spin 4 ms / spin 1 ms: a timer until that long before, then the spin (the runner's way before).
 * - timer only: `setTimeout` alone, rounded up to the next tick (the simulator's scheduler).
 * - timer thread: a worker thread sleeps in `Atomics.wait` (a futex, µs resolution) until 0.5 ms
 *   before the deadline and wakes the loop with a message; the loop spins the rest.
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { systemClock as clock } from '../runtime/timing/clock.ts';
import { sleepUntil } from '../runtime/timing/precise-timer.ts';
import { openStealWindow, stealPercent } from './support/steal.ts';

const { values } = parseArgs({ options: { hz: { type: 'string', default: '20' }, waits: { type: 'string', default: '4800' } } });
const hz = Number(values.hz);
const waits = Number(values.waits);

const spinTo = (deadline: number, resolve: () => void): void => {
  const spin = (): void => {
    if (clock() >= deadline) resolve();
    else setImmediate(spin);
  };
  spin();
};
const timerThenSpin = (deadline: number, marginMs: number): Promise<void> =>
  new Promise((resolve) => setTimeout(() => spinTo(deadline, resolve), Math.max(0, deadline - clock() - marginMs)));

// The timer thread: the loop publishes the next wake-up time (ms on process.hrtime, which every
// thread shares) and a generation number; the thread sleeps until then unless the generation changes, then posts.
const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const shared = new SharedArrayBuffer(16);
const generation = new Int32Array(shared, 0, 1);
const wakeAt = new Float64Array(shared, 8, 1);
wakeAt[0] = Number.POSITIVE_INFINITY;
const thread = new Worker(
  `const { workerData, parentPort } = require('node:worker_threads');
   const generation = new Int32Array(workerData.shared, 0, 1), wakeAt = new Float64Array(workerData.shared, 8, 1);
   const now = () => Number(process.hrtime.bigint()) / 1e6;
   for (;;) {
     const g = Atomics.load(generation, 0), at = wakeAt[0];
     if (!(at < Infinity)) { Atomics.wait(generation, 0, g); continue; }
     if (at > now() && Atomics.wait(generation, 0, g, at - now()) !== 'timed-out') continue;
     if (now() < at) continue;
     wakeAt[0] = Infinity;
     parentPort.postMessage(0);
     Atomics.wait(generation, 0, g);
   }`,
  { eval: true, workerData: { shared } },
);
thread.unref();
let onWake: (() => void) | undefined;
thread.on('message', () => onWake?.());
const viaThread = (deadline: number): Promise<void> =>
  new Promise((resolve) => {
    onWake = () => spinTo(deadline, resolve);
    wakeAt[0] = deadline - 0.5 - clock() + hrMs();
    Atomics.add(generation, 0, 1);
    Atomics.notify(generation, 0);
  });

const ways: Record<string, (deadline: number) => Promise<void>> = {
  sleepUntil: (d) => sleepUntil(d, clock),
  'spin 4 ms': (d) => timerThenSpin(d, 4),
  'spin 1 ms': (d) => timerThenSpin(d, 1),
  // As the simulator's scheduler: a timer for what is left (at least one tick) until the deadline has passed.
  'timer only': (d) =>
    new Promise((resolve) => {
      const step = (): void => (clock() >= d ? resolve() : void setTimeout(step, d - clock()));
      step();
    }),
  'timer thread': viaThread,
};
const names = Object.keys(ways);
const late = new Map(names.map((n) => [n, [] as number[]]));
const cpu = new Map(names.map((n) => [n, 0]));

await new Promise((r) => setTimeout(r, 200)); // the thread is up
const steal = openStealWindow();
const t0 = clock() + 50;
for (let i = 0; i < waits; i++) {
  const name = names[i % names.length]!;
  const deadline = t0 + (i * 1000) / hz;
  const c0 = process.cpuUsage();
  await ways[name]!(deadline);
  late.get(name)!.push(clock() - deadline);
  const c = process.cpuUsage(c0);
  cpu.set(name, cpu.get(name)! + c.user + c.system);
}
const stolen = steal.share();

const q = (a: number[], p: number): string => a[Math.min(a.length - 1, Math.floor(p * a.length))]!.toFixed(3);
console.log(`deadline waits — ${hz} Hz, ${waits} waits taking turns, node ${process.version}; the machine's CPU steal meanwhile: ${stealPercent(stolen)}\n`);
console.log('| way | waits | late p50 (ms) | p90 | p99 | p99.9 | max | CPU µs / wait |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const name of names) {
  const a = late.get(name)!.sort((x, y) => x - y);
  console.log(`| ${name} | ${a.length} | ${q(a, 0.5)} | ${q(a, 0.9)} | ${q(a, 0.99)} | ${q(a, 0.999)} | ${a.at(-1)!.toFixed(3)} | ${Math.round(cpu.get(name)! / a.length)} |`);
}
process.exit(0);
