import { describe, expect, it } from 'vitest';
import { realCloudClock, VirtualClock } from '../../runtime/local/clock.ts';

describe('the local cloud\'s virtual clock', () => {
  it('a Wait with nothing real running passes at once and moves the clock by its whole length, firing what falls due in order', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const t0 = clock.now();
    clock.after(21_000, () => fired.push(`deadline at +${Math.round((clock.now() - t0) / 1000)} s`));
    clock.after(1_500, () => fired.push(`pull at +${Math.round((clock.now() - t0) / 1000)} s`));
    expect(clock.waitState(5_000, false)).toBe(0);
    expect(fired).toEqual(['pull at +2 s']);
    for (let i = 0; i < 4; i++) clock.waitState(5_000, false);
    expect(fired).toEqual(['pull at +2 s', 'deadline at +21 s']);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(25_000);
  });

  it('while a pod\'s process runs, a Wait takes real time (at most busyWaitMs) and the clock does not skip', () => {
    const clock = new VirtualClock({ busyWaitMs: 200 });
    const t0 = clock.now();
    expect(clock.waitState(5_000, true)).toBe(200);
    expect(clock.waitState(100, true)).toBe(100);
    expect(clock.now() - t0).toBeLessThan(5_000);
  });

  it('a cancelled timer never fires; timers also fire when real time reaches them', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const cancel = clock.after(1_000, () => fired.push('cancelled'));
    cancel();
    clock.advance(2_000);
    await clock.sleep(20);
    clock.after(10, () => fired.push('real'));
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toEqual(['real']);
  });

  it('maps a real instant to the clock in effect then (what the interpreter stamps)', () => {
    const clock = new VirtualClock();
    const before = Date.now();
    clock.advance(60_000);
    expect(clock.fromReal(before - 1)).toBe(before - 1);
    // One reading of the real clock: two readings a millisecond apart made this flaky.
    const now = Date.now();
    expect(clock.fromReal(now)).toBeGreaterThanOrEqual(now + 60_000);
  });

  it('the real clock waits every Wait out and maps nothing', () => {
    expect(realCloudClock.waitState(5_000, false)).toBe(5_000);
    expect(realCloudClock.fromReal(123)).toBe(123);
  });
});
