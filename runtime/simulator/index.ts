import { systemClock, type Clock } from '../timing/clock.ts';
import { resolveSimulatorOptions, type ResolvedSimulatorOptions, type SimulatorOptions } from './options.ts';
import type { GroundTruthEntry } from './ground-truth.ts';
import { SimulatorServer } from './server.ts';

export type { GroundTruthEntry } from './ground-truth.ts';
export type { FailureMode, ResolvedSimulatorOptions, SimulatorOptions } from './options.ts';
export { resolveSimulatorOptions, SimulatorOptionsSchema } from './options.ts';
export { dialectNames, type DialectName } from './dialects/index.ts';

export interface RunningSimulator {
  /** `http://127.0.0.1:PORT` (the host it listens on; a wildcard host is reached over loopback). */
  url: string;
  port: number;
  options: ResolvedSimulatorOptions;
  /** Every completions/chat request so far, in arrival order (copies); needs `keepGroundTruth` (the default). */
  groundTruth(): GroundTruthEntry[];
  /** Ground-truth entries held in memory right now. */
  retainedGroundTruth(): number;
  /** Stops timers, destroys open sockets (stalled streams too), flushes the ground-truth file. */
  close(): Promise<void>;
}

/**
 * Starts the vLLM-compatible simulator. Invalid options throw an `InputError` listing
 * every problem. `clock` timestamps the ground truth and drives the token schedule.
 */
export async function startSimulator(options: SimulatorOptions = {}, clock: Clock = systemClock): Promise<RunningSimulator> {
  const resolved = resolveSimulatorOptions(options);
  const sim = new SimulatorServer(resolved, clock);
  const port = await sim.listen();
  return {
    url: simulatorUrl(resolved.host, port),
    port,
    options: resolved,
    groundTruth: () => sim.groundTruth(),
    retainedGroundTruth: () => sim.retainedGroundTruth,
    close: () => sim.close(),
  };
}

/** The URL a client uses for a simulator listening on `host`:`port`. */
export function simulatorUrl(host: string, port: number): string {
  return `http://${urlHost(host)}:${port}`;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === 'localhost') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
