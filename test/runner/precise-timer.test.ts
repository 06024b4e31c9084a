import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../runtime/timing/clock.ts';
import { PreciseScheduler, sleepUntil } from '../../runtime/timing/precise-timer.ts';

describe('PreciseScheduler', () => {
  it('fires callbacks in deadline order (ties in insertion order), never before their deadline', async () => {
    const s = new PreciseScheduler(systemClock);
    const t0 = systemClock();
    const fired: Array<{ name: string; at: number; due: number }> = [];
    const add = (name: string, offset: number): void => s.at(t0 + offset, () => fired.push({ name, at: systemClock(), due: t0 + offset }));
    add('c', 30);
    add('a', 10);
    add('b', 20);
    add('b2', 20);
    add('late-added-first', 5);
    await sleepUntil(t0 + 60, systemClock);
    expect(fired.map((f) => f.name)).toEqual(['late-added-first', 'a', 'b', 'b2', 'c']);
    for (const f of fired) expect(f.at).toBeGreaterThanOrEqual(f.due);
    expect(s.pending).toBe(0);
  });

  it('keeps serving other deadlines after a callback throws', async () => {
    const s = new PreciseScheduler(systemClock);
    const t0 = systemClock();
    const fired: string[] = [];
    const errors: unknown[] = [];
    const onError = (e: unknown): void => void errors.push(e);
    process.on('uncaughtException', onError);
    try {
      s.at(t0 + 5, () => {
        throw new Error('boom');
      });
      s.at(t0 + 15, () => fired.push('after'));
      await sleepUntil(t0 + 40, systemClock);
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(errors).toHaveLength(1);
    expect(fired).toEqual(['after']);
  });

  it('clear drops everything pending', async () => {
    const s = new PreciseScheduler(systemClock);
    const t0 = systemClock();
    let fired = 0;
    s.at(t0 + 5, () => fired++);
    s.clear();
    await sleepUntil(t0 + 20, systemClock);
    expect(fired).toBe(0);
  });
});

/** A clock the test moves by hand, so what the waiters ask of Node's timers can be read exactly. */
function handClock(start: number): { clock: () => number; set: (t: number) => void } {
  let now = start;
  return { clock: () => now, set: (t) => void (now = t) };
}

describe('waiting without spinning', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a busy scheduler (more deadlines pending than spinWhilePending) waits on timers, never by polling the loop', async () => {
    const { clock, set } = handClock(1000);
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    const s = new PreciseScheduler(clock, 0); // busy from the first deadline
    const fired: string[] = [];
    s.at(1000.3, () => fired.push('a'));
    s.at(1000.6, () => fired.push('b'));
    s.at(1000.9, () => fired.push('c'));
    expect(timeouts).toHaveBeenCalledTimes(1);
    expect(timeouts.mock.calls[0]![1]).toBeCloseTo(0.3, 9);
    set(1000.2); // the 1 ms tick can come before a deadline on the real clock: nothing runs early
    await new Promise((r) => setTimeout(r, 5));
    expect(fired).toEqual([]);
    set(1000.7);
    await new Promise((r) => setTimeout(r, 5));
    expect(fired).toEqual(['a', 'b']);
    expect(immediates).not.toHaveBeenCalled();
    s.clear();
  });

  it('a quiet scheduler spins only the residue under 1 ms, and still never fires early', async () => {
    const { clock, set } = handClock(1000);
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    const s = new PreciseScheduler(clock, 2);
    const fired: string[] = [];
    s.at(1005, () => fired.push('a'));
    expect(timeouts.mock.calls[0]![1]).toBe(5); // the whole wait on a timer
    expect(immediates).not.toHaveBeenCalled();
    set(1004.6); // the timer fires 0.4 ms early: the rest is spun
    await new Promise((r) => setTimeout(r, 10));
    expect(fired).toEqual([]);
    expect(immediates).toHaveBeenCalled();
    set(1005);
    await new Promise((r) => setTimeout(r, 5));
    expect(fired).toEqual(['a']);
  });

  it('sleepUntil sleeps on a timer for the whole wait and spins only for what the timer leaves', async () => {
    const { clock, set } = handClock(1000);
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    let done = false;
    const slept = sleepUntil(1005, clock).then(() => (done = true));
    expect(timeouts).toHaveBeenCalledTimes(1);
    expect(timeouts.mock.calls[0]![1]).toBe(5);
    expect(immediates).not.toHaveBeenCalled();
    set(1004.6); // the timer fired 0.4 ms early: the rest is spun, and it does not resolve early
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    expect(immediates).toHaveBeenCalled();
    set(1005);
    await slept;
    expect(done).toBe(true);
  });
});

describe('sleepUntil', () => {
  it('resolves at or after the deadline', async () => {
    const deadline = systemClock() + 12;
    await sleepUntil(deadline, systemClock);
    expect(systemClock()).toBeGreaterThanOrEqual(deadline);
  });
});
