import { mulberry32 } from '../core/random.ts';
import type { Arrival } from '../core/scenario/resolve.ts';

/** One planned request: when (ms after the run's start) and in which stage. */
export interface Slot {
  seq: number;
  stage: number;
  offsetMs: number;
}

/**
 * The whole run's schedule as offsets from its start, a pure function of the load config and seed.
 * - `even`: request i of a stage at i / rate (what "1 request/s" means to a reader).
 * - `poisson`: exponential gaps with mean 1 / rate; rate × duration requests.
 * - `normalized-exponential`: inference-perf's "constant": exponential gaps rescaled so the stage's
 *   requests span exactly its duration (offered for side-by-side comparisons).
 * Stages follow each other with `intervalS` of idle between them. Every stage sends
 * round(rate × duration) requests so that runs of the same scenario are comparable request-for-request.
 */
export function buildSchedule(
  stages: ReadonlyArray<{ rate: number; duration: number }>,
  arrival: Arrival,
  intervalS: number,
  seed: number,
): Slot[] {
  const random = mulberry32(seed);
  const slots: Slot[] = [];
  let stageStartMs = 0;
  stages.forEach((st, stage) => {
    const n = Math.max(1, Math.round(st.rate * st.duration));
    const durationMs = st.duration * 1000;
    let offsets: number[];
    if (arrival === 'even') {
      offsets = Array.from({ length: n }, (_, i) => (i * 1000) / st.rate);
    } else {
      const gaps = Array.from({ length: n }, () => -Math.log(1 - random()) * (1000 / st.rate));
      if (arrival === 'normalized-exponential') {
        const total = gaps.reduce((a, g) => a + g, 0);
        for (let i = 0; i < gaps.length; i++) gaps[i] = (gaps[i]! * durationMs) / total;
      }
      // The first request goes at the stage's start; gap i separates request i from i + 1.
      offsets = [];
      let t = 0;
      for (let i = 0; i < n; i++) {
        offsets.push(t);
        t += gaps[i]!;
      }
    }
    for (const off of offsets) slots.push({ seq: slots.length, stage, offsetMs: stageStartMs + off });
    stageStartMs += Math.max(durationMs, offsets[offsets.length - 1]! + 1) + intervalS * 1000;
  });
  return slots;
}

/** The slice of a schedule one shard of an Indexed Job sends: every N-th request, starting at i. */
export function shardSlice(slots: readonly Slot[], shard: number, shards: number): Slot[] {
  return slots.filter((s) => s.seq % shards === shard);
}

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
