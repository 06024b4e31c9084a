import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lets the load loop win its core from the process's own helper threads.
 *
 * Node's process has, besides each event loop's thread, V8's platform workers (TurboFan compiles
 * hot functions there, and the WebAssembly tier-up of undici's HTTP parser; without
 * `--single-threaded-gc` they also mark and scavenge) and libuv's pool. Where the loop's core is
 * shared with them (one CPU in a pod, or the bench's `taskset`), the kernel gives a busy compile
 * job its time slice at the loop's expense: a scheduler trace of the runner at 150–200 req/s on one
 * core (BENCHMARKS.md §1, "The loop's own threads") shows the loop runnable but off its core for
 * 4–12 ms while those threads compiled, and a single such spell is a schedule-delay p99 over the
 * validity limit in a 10 s slice.
 *
 * Linux keeps the nice value per thread, so raising the helpers' to 19 (any process may lower its
 * own priority) leaves the work to them but gives them the loop's core far less often: their time
 * on it fell by about 70 % in that trace, the longest wait from 8–10 ms to one 4 ms tick or two
 * (the kernel's EEVDF scheduler still gives a nice-19 thread a full slice when its turn comes). On a
 * machine with free cores nothing changes. `SCHED_IDLE` would do a little better, but Node can
 * only set it through a native call or a `chrt` process per thread. Threads created later (none
 * are, once the runner has prepared: the pool starts at the first file operation) keep their
 * creator's value. The loops' threads are named by their Linux thread ids.
 *
 * Returns the threads it reniced; none where there is no /proc (macOS, Windows) or it is refused.
 */
export function yieldBackgroundThreads(loopThreads: readonly number[], os: ThreadControl = linuxThreads): number[] {
  const keep = new Set(loopThreads);
  const reniced: number[] = [];
  for (const tid of os.threads()) {
    if (keep.has(tid) || os.nice(tid) === BACKGROUND_NICE) continue;
    if (os.renice(tid, BACKGROUND_NICE)) reniced.push(tid);
  }
  return reniced;
}

/** The lowest priority: the helpers get the core only when no loop wants it. */
export const BACKGROUND_NICE = 19;

/** This thread's id as a list of loop threads: empty without /proc (nothing is reniced then anyway). */
export function loopThread(): number[] {
  const tid = currentThreadId();
  return tid === undefined ? [] : [tid];
}

/** This thread's Linux id (the process id on the main thread); undefined without /proc. */
export function currentThreadId(): number | undefined {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

export interface ThreadControl {
  threads(): number[];
  /** The thread's nice value; undefined when it cannot be read (it has exited). */
  nice(tid: number): number | undefined;
  /** false when refused or the thread has exited. */
  renice(tid: number, nice: number): boolean;
}

export const linuxThreads: ThreadControl = {
  threads() {
    try {
      return readdirSync('/proc/self/task').map(Number).filter((t) => Number.isInteger(t) && t > 0);
    } catch {
      return [];
    }
  },
  nice(tid) {
    try {
      return statNice(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  },
  renice(tid, nice) {
    try {
      // setpriority(PRIO_PROCESS, tid): on Linux, that thread alone.
      setPriority(tid, nice);
      return true;
    } catch {
      return false;
    }
  },
};

/** The nice field of a /proc/<pid>/task/<tid>/stat line (the 19th; the command name may hold spaces and parentheses). */
export function statNice(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state, the 3rd field of the line; nice is the 19th.
  const nice = Number(fields[16]);
  return Number.isInteger(nice) ? nice : undefined;
}
