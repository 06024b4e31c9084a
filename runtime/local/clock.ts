/**
 * The local cloud's time: what AWS and Kubernetes would count — the workflow's Wait states, its
 * TimeoutSeconds, the Job controller's activeDeadlineSeconds, an image pull, the timestamps they
 * report. The `workflow` command runs it in real time. Tests run it as virtual time: a Wait state
 * passes at once whenever nothing real is running (no pod's process), and a test may move the clock
 * on, so a 21 s deadline or a 30-poll bound costs milliseconds. What runs in the pods (the runner's
 * pacing and timestamps) always reads the real clock.
 */
export interface CloudClock {
  /** Epoch milliseconds on this clock. */
  now(): number;
  /** The time on this clock of a real epoch-ms instant (what the ASL interpreter stamps). */
  fromReal(realMs: number): number;
  /** Calls `fn` once `ms` have passed on this clock; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
  sleep(ms: number): Promise<void>;
  /**
   * A Wait state of `ms` begins: returns the real milliseconds it takes. `busy` says whether
   * something real (a pod's process) is running, which virtual time cannot skip over.
   */
  waitState(ms: number, busy: boolean): number;
}

export const realCloudClock: CloudClock = {
  now: () => Date.now(),
  fromReal: (realMs) => realMs,
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  waitState: (ms) => ms,
};

interface Timer {
  due: number;
  fn: () => void;
  handle: NodeJS.Timeout | undefined;
}

/**
 * Real time plus an offset that only grows. A Wait state with nothing real running moves the
 * offset by its whole length (firing every timer that falls due on the way, in order); while a
 * pod's process runs, the Wait lasts `busyWaitMs` of real time and the clock runs at real speed, so
 * a poll finds a finished Job within that much of its end. Timers also fire when real time reaches
 * them.
 */
export class VirtualClock implements CloudClock {
  private offset = 0;
  /** Offsets in effect from a real instant on (for `fromReal`). */
  private readonly history: Array<{ fromRealMs: number; offset: number }> = [{ fromRealMs: Number.NEGATIVE_INFINITY, offset: 0 }];
  private readonly timers = new Set<Timer>();

  constructor(private readonly o: { busyWaitMs?: number } = {}) {}

  now(): number {
    return Date.now() + this.offset;
  }

  fromReal(realMs: number): number {
    let offset = 0;
    for (const h of this.history) if (h.fromRealMs <= realMs) offset = h.offset;
    return realMs + offset;
  }

  after(ms: number, fn: () => void): () => void {
    const t: Timer = { due: this.now() + ms, fn, handle: undefined };
    this.timers.add(t);
    this.arm(t);
    return () => {
      if (t.handle) clearTimeout(t.handle);
      this.timers.delete(t);
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => void this.after(ms, resolve));
  }

  waitState(ms: number, busy: boolean): number {
    if (busy) return Math.min(ms, this.o.busyWaitMs ?? 500);
    this.advance(ms);
    return 0;
  }

  /** Moves the clock on by `ms`, firing in order every timer that falls due. */
  advance(ms: number): void {
    if (!(ms > 0)) return;
    const target = this.now() + ms;
    for (;;) {
      const next = [...this.timers].filter((t) => t.due <= target).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.setOffset(Math.max(this.offset, next.due - Date.now()));
      this.fire(next);
    }
    this.setOffset(Math.max(this.offset, target - Date.now()));
    for (const t of this.timers) this.arm(t);
  }

  private setOffset(offset: number): void {
    if (offset === this.offset) return;
    this.offset = offset;
    this.history.push({ fromRealMs: Date.now(), offset });
  }

  private arm(t: Timer): void {
    if (t.handle) clearTimeout(t.handle);
    t.handle = setTimeout(() => this.fire(t), Math.max(0, t.due - this.now()));
  }

  private fire(t: Timer): void {
    if (!this.timers.delete(t)) return;
    if (t.handle) clearTimeout(t.handle);
    t.fn();
  }
}
