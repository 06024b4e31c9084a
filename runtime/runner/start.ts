import { InputError } from '../core/errors.ts';
import { workLimitProblems } from '../core/scenario/work-limits.ts';
import { runBenchmark } from './run.ts';
import type { RunOptions, RunResult } from './types.ts';
import { runWorkers } from './workers.ts';

/**
 * A runner (one pod, or one `run` on this machine): its shard on this event loop, or — with
 * `load.num_workers` > 1 — that many worker threads, each with its slice (workers.ts). The load is
 * checked first, per runner whatever its worker count: each worker prepares its part of it.
 */
export async function startRunner(o: RunOptions): Promise<RunResult> {
  const work = workLimitProblems(o.scenario, o.shard.count);
  if (work.length > 0) throw new InputError('the scenario', work, 'make the run smaller, or split it: --shard i/n on n runner machines.');
  return o.scenario.load.numWorkers > 1 ? runWorkers(o) : runBenchmark(o);
}
