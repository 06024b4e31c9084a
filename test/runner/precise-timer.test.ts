import { describe, expect, it } from 'vitest';
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

describe('sleepUntil', () => {
  it('resolves at or after the deadline', async () => {
    const deadline = systemClock() + 12;
    await sleepUntil(deadline, systemClock);
    expect(systemClock()).toBeGreaterThanOrEqual(deadline);
  });
});
