/**
 * When the bench's loop was kept off its core, and by whom: reads the kernel's context switches
 * (`perf record -a -e sched:sched_switch -k CLOCK_MONOTONIC`, then `perf script -F
 * comm,pid,tid,cpu,time,event,trace`) and the bench's `--windows` file, and for each client's load
 * windows sums the spells in which the main thread was runnable but another task had its core, or
 * blocked in the kernel (state D: a page fault waiting, a lock), of at least `min-ms` — split into
 * the bench process's own threads (V8's compiler and platform workers, libuv's pool) and everything
 * else (other processes, kernel threads). A schedule-delay p99 over 10 ms in a 10 s slice is one
 * such spell at 100–200 req/s; this says whose it was.
 *
 *   bench/sched-window.sh OUT [rates] [duration] [slices]      # records and prints this
 *   node --import tsx bench/sched-gaps.ts OUT.sched OUT.windows [min-ms]
 *
 * The bench's main thread is the task perf started (its first context switch names it `perf-exec`).
 */
import { parseLoadWindows, readBenchInput } from './support/load-windows.ts';

const [schedPath, windowsPath, minArg] = process.argv.slice(2);
if (!schedPath || !windowsPath) {
  console.error('usage: node --import tsx bench/sched-gaps.ts OUT.sched OUT.windows [min-ms]  (bench/sched-window.sh writes both)');
  process.exit(2);
}
const minMs = Number(minArg ?? 1);
const FIX = 'pass the files bench/sched-window.sh wrote (OUT.sched, OUT.windows).';

interface Spell {
  at: number;
  ms: number;
  state: string;
  /** ms each other task ran on the loop's core meanwhile, by thread id (with its name). */
  ran: Map<string, { comm: string; ms: number }>;
}

// "node 17124/17127 [000] 81492.066754: sched:sched_switch: prev_comm=… prev_pid=… prev_prio=… prev_state=R ==> next_comm=… next_pid=… next_prio=…"
const SWITCH = /^\s*(.+?)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+): sched:sched_switch: prev_comm=.*? prev_pid=(\d+) .*?prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)/;
const schedText = readBenchInput(schedPath, FIX);
const windows = parseLoadWindows(readBenchInput(windowsPath, FIX));
const loop = /next_comm=perf-exec next_pid=(\d+)/.exec(schedText)?.[1];
if (!loop) {
  console.error(`${schedPath}: no task named perf-exec, so no bench process to follow. Fix: record with bench/sched-window.sh (perf record … -- node …).`);
  process.exit(2);
}

// One pass: the loop's spells off its core, who ran on it meanwhile, and the bench process's
// threads (every task that switched out under the bench's process id).
const own = new Set<string>();
const spells: Spell[] = [];
const onCpu = new Map<string, { comm: string; tid: string; since: number }>();
let off: Spell | undefined;
let offCpu = '';
for (const l of schedText.split('\n')) {
  const m = SWITCH.exec(l);
  if (!m) continue;
  const [pid, tid, cpu, ts, prevTid, state, nextComm, nextTid] = [m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7]!, m[8]!, m[9]!];
  if (pid === loop) own.add(tid);
  const t = Number(ts);
  const cur = onCpu.get(cpu);
  if (off && cpu === offCpu && cur && cur.tid !== loop) {
    const r = off.ran.get(cur.tid) ?? { comm: cur.comm, ms: 0 };
    off.ran.set(cur.tid, { comm: r.comm, ms: r.ms + (t - cur.since) * 1000 });
  }
  onCpu.set(cpu, { comm: nextComm, tid: nextTid, since: t });
  if (prevTid === loop) {
    // Sleeping (S) is the loop waiting for work; R and D are it wanting its core.
    off = state.startsWith('S') || state.startsWith('I') ? undefined : { at: t, ms: 0, state, ran: new Map() };
    offCpu = cpu;
  }
  if (nextTid === loop && off) {
    off.ms = (t - off.at) * 1000;
    if (off.ms >= minMs) spells.push(off);
    off = undefined;
  }
}
const ownMs = (s: Spell): number => [...s.ran].reduce((a, [tid, r]) => a + (own.has(tid) ? r.ms : 0), 0);

const fmt = (x: number): string => x.toFixed(1);
const who = (s: Spell): string =>
  [...s.ran]
    .filter(([, r]) => r.ms >= 0.5)
    .map(([tid, r]) => `${r.comm}/${tid}${own.has(tid) ? ' (own)' : ''} ${fmt(r.ms)}`)
    .join(', ');

console.log(`The bench's main thread (${loop}) off its core while runnable or blocked (R/D), spells of ≥ ${minMs} ms, by load window:\n`);
console.log('| window | client | spells | total ms | max ms | of which the process\'s own threads ran (ms) | spells ≥ 5 ms: state, length, who ran |');
console.log('|---:|---|---:|---:|---:|---:|---|');
const byClient = new Map<string, { n: number; ms: number; max: number; own: number; windows: number }>();
windows.forEach((w, i) => {
  const inside = spells.filter((s) => s.at >= w.from && s.at <= w.to);
  const ms = inside.reduce((a, s) => a + s.ms, 0);
  const max = Math.max(0, ...inside.map((s) => s.ms));
  const ownTotal = inside.reduce((a, s) => a + ownMs(s), 0);
  const c = byClient.get(w.client) ?? { n: 0, ms: 0, max: 0, own: 0, windows: 0 };
  byClient.set(w.client, { n: c.n + inside.length, ms: c.ms + ms, max: Math.max(c.max, max), own: c.own + ownTotal, windows: c.windows + 1 });
  const long = inside.filter((s) => s.ms >= 5).map((s) => `${s.state} ${fmt(s.ms)} [${who(s)}]`);
  console.log(`| ${i + 1} | ${w.client} | ${inside.length} | ${fmt(ms)} | ${fmt(max)} | ${fmt(ownTotal)} | ${long.join('; ') || '–'} |`);
});
console.log('\nBy client (all its windows):\n');
for (const [client, c] of byClient) console.log(`- ${client}: ${c.n} spells in ${c.windows} windows, ${fmt(c.ms)} ms, max ${fmt(c.max)} ms; the process's own threads ran ${fmt(c.own)} ms of it`);
