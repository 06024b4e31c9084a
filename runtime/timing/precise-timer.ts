import type { Clock } from './clock.ts';

/**
 * Node's timers count whole milliseconds on the loop's cached clock: one can fire up to about 1 ms
 * before its deadline (the cached clock lags) and any wait shorter than this becomes 1 ms.
 */
const timerResolutionMs = 1;

/**
 * Sleeps until an absolute time on `clock` with sub-millisecond lateness.
 *
 * `setTimeout` alone can fire up to 1 ms early or late (later under load), which would put the
 * load generator's own error into schedule delay. We sleep on a timer for the whole wait and spin
 * with `setImmediate` only for what the timer leaves (under 1 ms): the event loop keeps serving I/O
 * (other requests' chunks are still timestamped) while we wait for that last fraction.
 *
 * Why not a longer spin margin: on a shared vCPU a spin of a few milliseconds made sends later, not
 * earlier, at several times the CPU (BENCHMARKS.md §1, "Waiting for a deadline", has the figures).
 * A busy vCPU is the one the hypervisor preempts.
 */
export function sleepUntil(deadline: number, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    const step = (): void => {
      const remaining = deadline - clock();
      if (remaining <= 0) resolve();
      else if (remaining < timerResolutionMs) setImmediate(step);
      else setTimeout(step, remaining);
    };
    step();
  });
}

/**
 * One timer loop for many deadlines (the simulator writes thousands of chunks a second): a min-heap
 * of due callbacks served by a single timer, never before their deadline.
 *
 * It waits as `sleepUntil` does — a timer for the whole wait, a spin for the sub-millisecond residue
 * the timer leaves — only while few deadlines are pending (at most `spinWhilePending`: the
 * simulator has one per stream in flight). Busier, it never spins: a deadline under 1 ms away waits
 * for the next 1 ms tick, and everything due by then runs together (as a real server's engine step
 * writes every running stream's token at once). With thousands of deadlines a second the next one is
 * always under 1 ms away, so spinning would keep a core busy whatever the load, taking it from the
 * client on the same machine (BENCHMARKS.md §1, "Waiting for a deadline"). So a quiet simulator
 * writes on time, and a busy one up to about 1 ms late — which its ground truth records.
 */
export class PreciseScheduler {
  private readonly heap: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly spinWhilePending = 8,
  ) {}

  at(deadline: number, fn: () => void): void {
    const head = this.heap[0];
    this.push({ at: deadline, seq: this.seq++, fn });
    // Re-arm only when the new deadline comes first; otherwise the armed wake-up still serves it.
    if (!head || deadline < head.at || (!this.timer && !this.immediate)) this.arm();
  }

  /** Drops every pending callback (server shutdown). */
  clear(): void {
    this.heap.length = 0;
    this.disarm();
  }

  get pending(): number {
    return this.heap.length;
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private arm(): void {
    this.disarm();
    const next = this.heap[0];
    if (!next) return;
    const remaining = next.at - this.clock();
    const spin = remaining < timerResolutionMs && this.heap.length <= this.spinWhilePending;
    if (remaining <= 0 || spin) this.immediate = setImmediate(() => this.run());
    // A timer for under 1 ms is a 1 ms timer: the residue waits for that tick.
    else this.timer = setTimeout(() => this.run(), remaining);
  }

  private run(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const now = this.clock();
    try {
      while (this.heap.length > 0 && this.heap[0]!.at <= now) this.pop().fn();
    } finally {
      // A callback that throws must not stall every other deadline.
      this.arm();
    }
  }

  private push(item: { at: number; seq: number; fn: () => void }): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): { at: number; seq: number; fn: () => void } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
