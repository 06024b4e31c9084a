import { MAX_WORKERS } from '../../core/scenario/schema.ts';

/**
 * Worker threads that fit this machine. The config or preset may ask for more than it has CPUs (the
 * seed's four are sized for the Job's four-CPU pod): without --workers, a runner here uses at most
 * its CPUs and says so — more event loops than cores send late and make the run invalid. An
 * explicit --workers is obeyed (the runner warns when it exceeds the CPUs).
 */
export function fitWorkers(raw: unknown, flag: number | undefined, cpus: number): { count: number | undefined; note?: string } {
  const asked = (raw as { load?: { num_workers?: unknown } }).load?.num_workers;
  // An explicit --workers is obeyed; the runner itself warns when it exceeds the CPUs (runner/workers.ts).
  if (flag !== undefined) return { count: flag };
  // Above the bound the config is refused as it is, not silently fitted.
  if (typeof asked === 'number' && asked > cpus && asked <= MAX_WORKERS) {
    return { count: cpus, note: `note: load.num_workers ${asked} → ${cpus}: this machine has ${cpus} CPU(s), and workers that share one send late; pass --workers ${asked} to insist (the deployed Job keeps ${asked}, with a CPU each)` };
  }
  return { count: undefined };
}
