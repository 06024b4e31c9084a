import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../core/errors.ts';
import { removeThisProcessSpools } from './prompt-spool.ts';
import { runCpuSteal, type RunManifest, type ShardManifest } from '../core/records/run-manifest.ts';
import { RunAccumulator, type AccumulatorSnapshot } from '../core/metrics/accumulator.ts';
import { InputTally } from '../core/records/input-report.ts';
import type { ResolvedScenario } from '../core/scenario/resolve.ts';
import { workerShard } from '../core/scenario/schedule.ts';
import { finish } from '../core/summary/finalize.ts';
import { loopThread, yieldBackgroundThreads } from '../timing/background-threads.ts';
import { systemClock } from '../timing/clock.ts';
import { Interrupted } from './interrupted.ts';
import { createRunDir } from './run-dir.ts';
import { ServerMetricsWindow } from './server-metrics.ts';
import type { RunOptions, RunResult, RunStatus } from './types.ts';

/**
 * `load.num_workers` > 1: that many worker threads in one runner, each with its own event loop,
 * connections, heap and slice of the schedule — a shard of its own. Worker w of runner (pod) i of N
 * is shard i + w·N of N·W, so the workers split exactly the requests the pod would have sent alone
 * (seq ≡ i mod N) and their files are merged by the aggregator like any shards'.
 *
 * This thread only coordinates: it creates the run's directory once every worker is prepared,
 * starts them together (one start time, so the slices interleave as the schedule says), relays
 * their notes, files and status, and merges the numbers each posts once at its end (its shard's
 * histograms and counters, not its records) into this runner's summary.
 * Workers read the system clock (a function cannot cross threads; `systemClock` is epoch-based, so
 * every thread reads the same time line).
 */

/** What a worker thread is started with: the runner's options that can cross a thread (no functions). */
export type WorkerData = Pick<RunOptions, 'scenario' | 'scenarioName' | 'configYaml' | 'runId' | 'outDir' | 'shard' | 'zone' | 'graceMs' | 'hub'> & {
  role: typeof RUNNER_WORKER;
};

export const RUNNER_WORKER = 'inference-baseline-runner-worker';
/** The error name of a worker stopped because another failed: a consequence, never the reported cause. */
export const ABANDONED = 'Abandoned';

export type FromWorker =
  | { type: 'note'; line: string }
  | { type: 'file'; rel: string }
  | { type: 'prepared' }
  /** `thread`: the worker's Linux thread id (its loop keeps its priority); absent without /proc. */
  | { type: 'ready'; run: RunManifest; thread?: number }
  | { type: 'status'; status: RunStatus }
  | { type: 'done'; shard: ShardManifest; numbers: AccumulatorSnapshot }
  | { type: 'failed'; error: SerializedError };

export type ToWorker = { type: 'dir' } | { type: 'go'; startAt: number } | { type: 'interrupt' } | { type: 'abandon'; reason: string };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  input?: { input: string; problems: string[]; fix?: string };
}

export function serializeError(err: unknown): SerializedError {
  const e = err as Error;
  if (err instanceof InputError) return { name: e.name, message: e.message, input: { input: err.input, problems: err.problems, ...(err.fix ? { fix: err.fix } : {}) } };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(e?.stack ? { stack: e.stack } : {}) };
}

function revive(s: SerializedError): Error {
  if (s.input) return new InputError(s.input.input, s.input.problems, s.input.fix);
  if (s.name === 'Interrupted') return new Interrupted();
  return Object.assign(new Error(s.message), { name: s.name, stack: s.stack });
}

/**
 * A worker thread running `script` (RunOptions.workerScript), or this module's sibling
 * worker-thread.ts. From source (tsx, vitest) the thread registers tsx first; in the runner bundle
 * this file *is* the bundle, whose entry point (cli/main.ts) serves as a worker when
 * `workerData.role` says so.
 */
function spawn(data: WorkerData, script?: URL): Worker {
  if (script) return new Worker(script, { workerData: data });
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(here), { workerData: data });
  const tsx = tsxEsmApi(here);
  const entry = new URL('./worker-thread.ts', here).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); }).then((m) => m.serveRunnerWorker());`;
  return new Worker(code, { eval: true, workerData: data });
}

/** tsx's ESM API as a file URL (its `import` export: require.resolve would give the CommonJS one, which cannot register from a thread). */
function tsxEsmApi(from: string): string {
  const require = createRequire(from);
  const pkgFile = require.resolve('tsx/package.json');
  const pkg = require(pkgFile) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
}

/** Per-worker share of the run: the slice (shard), and an in-flight cap split across workers. */
export function workerScenario(sc: ResolvedScenario): ResolvedScenario {
  const w = sc.load.numWorkers;
  return { ...sc, load: { ...sc.load, numWorkers: 1, maxInFlight: sc.load.maxInFlight === null ? null : Math.ceil(sc.load.maxInFlight / w) } };
}

let spoolsRemovedOnExit = false;
/**
 * A worker thread's own exit handler does not run when the main thread calls process.exit (a second
 * Ctrl-C): the threads' prompt spools are removed from here, on the way out (once per process).
 */
function removeSpoolsOnExit(): void {
  if (spoolsRemovedOnExit) return;
  spoolsRemovedOnExit = true;
  process.once('exit', () => removeThisProcessSpools());
}

export async function runWorkers(o: RunOptions): Promise<RunResult> {
  const workers = o.scenario.load.numWorkers;
  const cpus = availableParallelism();
  // More event loops than CPUs: they wait for each other in the OS scheduler, and it shows as
  // schedule delay (BENCHMARKS.md §1, four workers on one core at 1 req/s).
  if (workers > cpus) o.onNote?.(`load.num_workers is ${workers} but this machine gives the runner ${cpus} CPU${cpus === 1 ? '' : 's'}: the workers will wait for each other (watch schedule delay); use --workers ${cpus} or fewer here`);
  const scenario = workerScenario(o.scenario);
  removeSpoolsOnExit();
  const threads = Array.from({ length: workers }, (_, w) =>
    spawn({ role: RUNNER_WORKER, scenario, scenarioName: o.scenarioName, configYaml: o.configYaml, runId: o.runId, outDir: o.outDir, shard: workerShard(o.shard, w, workers), zone: o.zone, graceMs: o.graceMs, hub: o.hub }, o.workerScript),
  );
  const post = (m: ToWorker): void => threads.forEach((t) => t.postMessage(m));
  const acc = new RunAccumulator(o.scenario.server.ignoreEos);
  const statuses: Array<RunStatus | undefined> = [];
  const notes = new Set<string>();
  const shards: ShardManifest[] = [];
  let failure: Error | null = null;
  const fail = (err: Error): void => {
    // The first real failure is the one reported; the others' are its consequences.
    if (err.name === ABANDONED && failure) return;
    if (!failure || (failure instanceof Interrupted && !(err instanceof Interrupted))) failure = err;
    post({ type: 'abandon', reason: err.message });
  };
  // This runner's coordinator reads the server's metrics around all its workers' load (runner 0 of a multi-pod run).
  // The threads stamp their records on systemClock (a clock cannot cross into a thread): so do the scrapes.
  const metrics = ServerMetricsWindow.forShard(o, systemClock);
  const barrier = new StartBarrier(workers, {
    createDir: () => createRunDir(o.outDir),
    beforeLoad: async () => {
      await o.beforeLoad?.();
      await metrics?.open();
    },
    // The coordinator's thread keeps its priority too: it takes the workers' messages.
    loopThreads: (workerThreads) => (o.yieldThreads === false ? undefined : yieldBackgroundThreads([...loopThread(), ...workerThreads])),
    post,
    fail,
    failed: () => failure !== null,
  });
  const onInterrupt = (): void => post({ type: 'interrupt' });
  o.interrupt.addEventListener('abort', onInterrupt, { once: true });
  if (o.interrupt.aborted) onInterrupt();

  const ticker = setInterval(() => {
    const s = statuses.filter((x): x is RunStatus => x !== undefined);
    if (s.length === workers) o.onStatus?.(sumStatus(s));
  }, 1000);
  try {
    await Promise.all(
      threads.map(
        (t, w) =>
          new Promise<void>((resolve) => {
            let settled = false;
            const settle = (err?: Error): void => {
              if (settled) return;
              settled = true;
              if (err) fail(err);
              resolve();
            };
            t.on('message', (m: FromWorker) => {
              switch (m.type) {
                case 'note':
                  if (!notes.has(m.line)) o.onNote?.(m.line);
                  notes.add(m.line);
                  break;
                case 'file':
                  o.onFileClosed?.(m.rel);
                  break;
                case 'prepared':
                  barrier.prepared(w);
                  break;
                case 'ready':
                  barrier.ready(w, m.run, m.thread);
                  break;
                case 'status':
                  statuses[w] = m.status;
                  break;
                case 'done':
                  acc.merge(RunAccumulator.fromSnapshot(o.scenario.server.ignoreEos, m.numbers));
                  shards[w] = m.shard;
                  settle();
                  break;
                case 'failed':
                  settle(revive(m.error));
                  break;
              }
            });
            t.once('error', (err) => settle(err));
            t.once('exit', (code) => settle(new Error(`runner worker ${w} exited with code ${code} before it finished`)));
          }),
      ),
    );
    if (failure === null && !shards.some((sh) => sh.partial)) await metrics?.close();
  } finally {
    clearInterval(ticker);
    o.interrupt.removeEventListener('abort', onInterrupt);
    await metrics?.abandon();
    await Promise.all(threads.map((t) => t.terminate()));
  }
  if (failure) {
    // Nothing was sent: what the workers created (the directory, run.json, config.yml) goes with
    // them, as when a lone runner fails its preparation. createRunDir made sure it was ours.
    if (barrier.dirCreated && !barrier.started) await rm(o.outDir, { recursive: true, force: true });
    throw failure;
  }
  const run = barrier.runManifest!;
  const tally = new InputTally('native');
  tally.files = shards.reduce((a, s) => a + s.parts.length, 0);
  tally.records = shards.reduce((a, s) => a + s.records, 0);
  const partial = shards.some((s) => s.partial);
  const scheduled = shards.reduce((a, s) => a + s.scheduled, 0);
  const summary = finish(acc.measure(run.identity, run.request, { scheduled, partial, cpuSteal: runCpuSteal(shards) }), run.request, tally.report());
  const last = statuses.filter((x): x is RunStatus => x !== undefined);
  if (last.length === workers) o.onStatus?.(sumStatus(last));
  return { summary, dir: o.outDir, shards, partial, accumulator: acc };
}

/**
 * Where the workers line up: once every worker is prepared, the run's directory is created (once)
 * and they are told to write their files; once every worker is ready (files written, connections
 * warm), `beforeLoad` runs (the CLI's upload), the process's other threads yield to the loops'
 * (timing/background-threads.ts) and they get one start time, 50 ms ahead.
 */
class StartBarrier {
  private readonly preparedWorkers = new Set<number>();
  private readonly readyWorkers = new Set<number>();
  private readonly workerThreads: number[] = [];
  private dirAsked = false;
  private goAsked = false;
  dirCreated = false;
  started = false;
  /** Worker 0's run manifest (every worker's is the same run). */
  runManifest: RunManifest | undefined;

  constructor(
    private readonly workers: number,
    private readonly o: {
      createDir(): Promise<void>;
      beforeLoad(): Promise<void>;
      /** Once every worker is ready: the loops' threads, whose priority the rest of the process yields to. */
      loopThreads(workerThreads: number[]): void;
      post(m: ToWorker): void;
      fail(err: Error): void;
      failed(): boolean;
    },
  ) {}

  prepared(w: number): void {
    this.preparedWorkers.add(w);
    if (this.dirAsked || this.preparedWorkers.size < this.workers) return;
    this.dirAsked = true;
    void this.step(async () => {
      await this.o.createDir();
      // Only a directory this run created may be removed on failure: one that held results is refused by createDir.
      this.dirCreated = true;
      this.o.post({ type: 'dir' });
    });
  }

  ready(w: number, run: RunManifest, thread?: number): void {
    this.readyWorkers.add(w);
    if (thread !== undefined) this.workerThreads.push(thread);
    if (w === 0) this.runManifest = run;
    if (this.goAsked || this.readyWorkers.size < this.workers) return;
    this.goAsked = true;
    void this.step(async () => {
      await this.o.beforeLoad();
      this.o.loopThreads(this.workerThreads);
      this.started = true;
      this.o.post({ type: 'go', startAt: systemClock() + 50 });
    });
  }

  private async step(fn: () => Promise<void>): Promise<void> {
    if (this.o.failed()) return;
    try {
      await fn();
    } catch (err) {
      this.o.fail(err as Error);
    }
  }
}

const phases: RunStatus['phase'][] = ['preparing', 'running', 'draining', 'done'];

/** The runner's status: counts summed, the phase of the least advanced worker. */
export function sumStatus(s: RunStatus[]): RunStatus {
  const sum = (k: 'scheduled' | 'sent' | 'inFlight' | 'succeeded' | 'failed'): number => s.reduce((a, x) => a + x[k], 0);
  return {
    phase: phases[Math.min(...s.map((x) => phases.indexOf(x.phase)))]!,
    elapsedS: Math.max(...s.map((x) => x.elapsedS)),
    totalS: Math.max(...s.map((x) => x.totalS)),
    scheduled: sum('scheduled'),
    sent: sum('sent'),
    inFlight: sum('inFlight'),
    succeeded: sum('succeeded'),
    failed: sum('failed'),
  };
}
