import type { Slot } from '../core/scenario/schedule.ts';

export { buildSchedule, shardSlice, type Slot } from '../core/scenario/schedule.ts';

/** What the loop should do now: send the next slot, wait, or stop. */
export type PaceDecision = { kind: 'send'; slot: Slot } | { kind: 'wait'; ms: number } | { kind: 'stop' };

/**
 * The pacer as vegeta has it: a pure function of elapsed time and how many requests were sent.
 * The loop owns the clock; the pacer owns no state, so it is tested with tables.
 */
export function pace(slots: readonly Slot[], elapsedMs: number, sent: number): PaceDecision {
  const next = slots[sent];
  if (!next) return { kind: 'stop' };
  const wait = next.offsetMs - elapsedMs;
  return wait > 0 ? { kind: 'wait', ms: wait } : { kind: 'send', slot: next };
}
