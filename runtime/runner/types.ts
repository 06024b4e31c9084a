import type { RunAccumulator } from '../core/metrics/accumulator.ts';
import type { RunManifest, ShardManifest } from '../core/records/run-manifest.ts';
import type { ResolvedScenario } from '../core/scenario/resolve.ts';
import type { Summary } from '../core/summary/schema.ts';
import type { Clock } from '../timing/clock.ts';
import type { CpuTicks } from '../timing/cpu-steal.ts';
import type { HubAccess } from './tokenizer-source.ts';

/** What a runner is given, what it reports while it runs, and what it returns (run.ts, workers.ts, start.ts). */

export interface RunOptions {
  scenario: ResolvedScenario;
  scenarioName: string;
  /** The config as the user wrote it (stored beside the results). */
  configYaml: string;
  runId: string;
  /** The run's directory; must not exist or be empty. */
  outDir: string;
  shard: { index: number; count: number };
  zone: string | null;
  clock: Clock;
  /** The machine's CPU counters, for the CPU steal while the shard sends (default: /proc/stat). */
  cpuTicks?: () => CpuTicks | null;
  /** Where a tokenizer named by a Hugging Face model id is fetched from (HF_ENDPOINT …; default the hub). */
  hub?: HubAccess;
  /** Aborting it stops scheduling; in-flight requests get `graceMs`, then are cancelled. */
  interrupt: AbortSignal;
  graceMs: number;
  onStatus?: (s: RunStatus) => void;
  /** Extra log lines (calibration progress, notes). */
  onNote?: (line: string) => void;
  /**
   * Called with a path relative to the run directory whenever a file is complete (run.json,
   * config.yml, each request part as it closes), so results can leave the machine during the run.
   */
  onFileClosed?: (relPath: string) => void;
  /**
   * Awaited once the run's own files exist and before the first request (the CLI uploads them to
   * S3 here): a destination that cannot be written ends the run before anything is measured.
   */
  beforeLoad?: () => Promise<void>;
  /**
   * Set for one worker of several (runner/workers.ts): the points where the workers line up. A lone
   * runner creates the run's directory itself and starts 50 ms after its connections are warm.
   */
  coordination?: Coordination;
  /**
   * The server's Prometheus endpoints (one per replica), scraped around the load by the runner whose
   * shard index is 0 (runner/server-metrics.ts); empty: not scraped.
   */
  metricsUrls?: readonly string[];
  /**
   * The module the worker threads run when `load.num_workers` > 1 (runner/workers.ts): by default
   * this runner's own code — the bundle in a pod, the sources through tsx from a checkout.
   */
  workerScript?: URL;
  /**
   * false: leave the process's other threads at their priority. By default, right before the load
   * the runner lowers every thread but its loops' to nice 19 (timing/background-threads.ts), so V8's
   * compiler threads wait for the loop instead of taking its core (the bench's A/B turns it off).
   */
  yieldThreads?: boolean;
}

/** How a worker waits for the others: see runner/workers.ts. */
export interface Coordination {
  /** Resolves once every worker is prepared (target inspected, prompts calibrated, warm-up done) and the run's directory exists. */
  prepared(): Promise<void>;
  /** This worker's files are written and its connections warm; resolves with the start time every worker shares. */
  ready(run: RunManifest): Promise<number>;
}

export interface RunStatus {
  phase: 'preparing' | 'running' | 'draining' | 'done';
  elapsedS: number;
  totalS: number;
  scheduled: number;
  sent: number;
  inFlight: number;
  succeeded: number;
  failed: number;
}

export interface RunResult {
  /** This runner's numbers, all its workers together (not written: summary.json belongs to the aggregator). */
  summary: Summary;
  dir: string;
  /** The shard manifests this runner wrote: one, or one per worker. */
  shards: ShardManifest[];
  /** Interrupted before the schedule's end. */
  partial: boolean;
  /** The numbers behind `summary` (a worker posts their snapshot to the runner that started it). */
  accumulator: RunAccumulator;
}
