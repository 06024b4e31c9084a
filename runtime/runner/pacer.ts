import type { Slot } from '../core/scenario/schedule.ts';

export { buildSchedule, scheduleSlots, shardSeqs, shardSize, shardSlice, shardSlots, type Slot } from '../core/scenario/schedule.ts';

/** What the loop should do now: send the next slot, wait, or stop. */
export type PaceDecision = { kind: 'send'; slot: Slot } | { kind: 'wait'; ms: number } | { kind: 'stop' };

/**
 * The pacer as vegeta has it: a pure function of elapsed time and the next request of the schedule
 * (none: the schedule is done). The loop owns the clock and the schedule's cursor; the pacer owns no
 * state, so it is tested with tables.
 */
export function pace(next: Slot | undefined, elapsedMs: number): PaceDecision {
  if (!next) return { kind: 'stop' };
  const wait = next.offsetMs - elapsedMs;
  return wait > 0 ? { kind: 'wait', ms: wait } : { kind: 'send', slot: next };
}
