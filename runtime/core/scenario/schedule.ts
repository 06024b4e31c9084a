import { mulberry32, seedFromText } from '../random.ts';
import type { Arrival } from './resolve.ts';

/** One planned request: when (ms after the run's start) and in which stage. */
export interface Slot {
  seq: number;
  stage: number;
  offsetMs: number;
}

type Stages = ReadonlyArray<{ rate: number; duration: number }>;

/** Requests a stage sends: round(rate × duration), at least one (runs of a scenario compare request for request). */
export function stageRequests(st: { rate: number; duration: number }): number {
  return Math.max(1, Math.round(st.rate * st.duration));
}

/** Requests in the whole schedule, computed without building it (so an absurd run is refused cheaply). */
export function scheduleSize(stages: Stages): number {
  return stages.reduce((n, st) => n + stageRequests(st), 0);
}

/**
 * The seed of a run's prompts and schedule: the configured one (`load.base_seed`, `--seed`), which
 * reproduces a run exactly, or by default one derived from the run id — so no two runs send the
 * same prompts, and a server's prefix cache never serves a run the prompts of the night before.
 */
export function runSeed(explicit: number | null, runId: string): { value: number; from: 'config' | 'run-id' } {
  return explicit !== null ? { value: explicit, from: 'config' } : { value: seedFromText(runId), from: 'run-id' };
}

/**
 * The whole run's schedule as offsets from its start, a pure function of the load config and seed,
 * produced one request at a time (as vegeta's pacer computes each hit): a run's memory does not
 * grow with its length.
 * - `even`: request i of a stage at i / rate (what "1 request/s" means to a reader).
 * - `poisson`: exponential gaps with mean 1 / rate; rate × duration requests.
 * - `normalized-exponential`: inference-perf's "constant": exponential gaps rescaled so the stage's
 *   requests span exactly its duration (offered for side-by-side comparisons). The rescaling needs
 *   each stage's total first: one pass draws the gaps and keeps only the sums, the second redraws them.
 * Stages follow each other with `intervalS` of idle between them.
 */
export function* scheduleSlots(stages: Stages, arrival: Arrival, intervalS: number, seed: number): Generator<Slot> {
  const totals = arrival === 'normalized-exponential' ? stageGapTotals(stages, seed) : null;
  const random = mulberry32(seed);
  let seq = 0;
  let stageStartMs = 0;
  for (let stage = 0; stage < stages.length; stage++) {
    const st = stages[stage]!;
    const n = stageRequests(st);
    const durationMs = st.duration * 1000;
    // The first request goes at the stage's start; gap i separates request i from i + 1.
    let t = 0;
    let last = 0;
    for (let i = 0; i < n; i++) {
      let offset: number;
      if (arrival === 'even') offset = (i * 1000) / st.rate;
      else {
        offset = t;
        const gap = -Math.log(1 - random()) * (1000 / st.rate);
        t += totals ? (gap * durationMs) / totals[stage]! : gap;
      }
      last = offset;
      yield { seq: seq++, stage, offsetMs: stageStartMs + offset };
    }
    stageStartMs += Math.max(durationMs, last + 1) + intervalS * 1000;
  }
}

function stageGapTotals(stages: Stages, seed: number): number[] {
  const random = mulberry32(seed);
  return stages.map((st) => {
    let total = 0;
    for (let i = 0, n = stageRequests(st); i < n; i++) total += -Math.log(1 - random()) * (1000 / st.rate);
    return total;
  });
}

/** The whole schedule at once (tests, the aggregator's per-stage figures). */
export function buildSchedule(stages: Stages, arrival: Arrival, intervalS: number, seed: number): Slot[] {
  return Array.from(scheduleSlots(stages, arrival, intervalS, seed));
}

/** The slice of a schedule one shard of an Indexed Job sends: every N-th request, starting at i. */
export function* shardSlots(slots: Iterable<Slot>, shard: number, shards: number): Generator<Slot> {
  for (const s of slots) if (s.seq % shards === shard) yield s;
}

export function shardSlice(slots: readonly Slot[], shard: number, shards: number): Slot[] {
  return Array.from(shardSlots(slots, shard, shards));
}

/** The schedule positions shard `shard` of `shards` sends, without drawing the schedule. */
export function* shardSeqs(total: number, shard: number, shards: number): Generator<number> {
  for (let seq = shard; seq < total; seq += shards) yield seq;
}

/** How many of `total` requests shard `shard` of `shards` sends. */
export function shardSize(total: number, shard: number, shards: number): number {
  return total > shard ? Math.floor((total - 1 - shard) / shards) + 1 : 0;
}

/**
 * The send rate each stage's schedule asks for, (n − 1) / (last − first scheduled offset): the
 * requested rate for even arrivals, the drawn schedule's own rate otherwise. The achieved rate is
 * judged against this — computed from the plan, not from the shards' clocks, so shards that did
 * not run together cannot hide it.
 */
export function scheduledRates(stages: Stages, arrival: Arrival, intervalS: number, seed: number): Array<number | null> {
  if (arrival === 'even') return stages.map((st) => (stageRequests(st) > 1 ? st.rate : null));
  const slots = buildSchedule(stages, arrival, intervalS, seed);
  return stages.map((_, stage) => {
    const mine = slots.filter((s) => s.stage === stage);
    if (mine.length < 2) return null;
    const span = (mine[mine.length - 1]!.offsetMs - mine[0]!.offsetMs) / 1000;
    return span > 0 ? (mine.length - 1) / span : null;
  });
}

/**
 * Worker w (of W) of runner i (of N) is shard i + w·N of N·W: the workers split exactly the requests
 * runner i would have sent alone (seq ≡ i mod N), and each is a shard like any other.
 */
export function workerShard(runner: { index: number; count: number }, worker: number, workers: number): { index: number; count: number } {
  return { index: runner.index + worker * runner.count, count: runner.count * workers };
}
