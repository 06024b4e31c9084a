import type { Clock } from './clock.ts';

/**
 * Sleeps until an absolute time on `clock` with sub-millisecond lateness.
 *
 * `setTimeout` alone fires 1–2 ms late (and later under load), which would put the load generator's
 * own error into schedule delay and the simulator's into its ITL. We sleep with a timer until
 * `spinMs` before the deadline, then yield with `setImmediate` until it passes: the event loop keeps
 * serving I/O (other requests' chunks are still timestamped) while we wait for the last fraction.
 * The cost is CPU for at most `spinMs` per wait.
 *
 * The default margin is 4 ms because that is how late a timer can fire here: on the 2-vCPU
 * development VM, 300 waits at 10 Hz on an idle, pinned core were late by p99 3.1 ms with a 1.5 ms
 * margin and 1.05 ms with 4 ms (BENCHMARKS.md §1, "This machine's floor is above the bar"). A request's send time is the
 * product; the spin's CPU is small next to it.
 */
export function sleepUntil(deadline: number, clock: Clock, spinMs = 4): Promise<void> {
  return new Promise((resolve) => {
    const spin = (): void => {
      if (clock() >= deadline) resolve();
      else setImmediate(spin);
    };
    const remaining = deadline - clock();
    if (remaining > spinMs) setTimeout(spin, remaining - spinMs);
    else spin();
  });
}

/**
 * One timer loop for many deadlines (the simulator writes thousands of chunks a second): a min-heap
 * of due callbacks served by a single `sleepUntil`-style waiter, so spinning costs one loop, not one
 * per stream.
 */
export class PreciseScheduler {
  private readonly heap: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly spinMs = 1.5,
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
    if (remaining > this.spinMs) this.timer = setTimeout(() => this.run(), remaining - this.spinMs);
    else this.immediate = setImmediate(() => this.run());
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
