import cluster, { type Worker } from 'node:cluster';
import { appendFile, readFile, rm } from 'node:fs/promises';
import { InputError } from '../core/errors.ts';
import { checkGroundTruthFile } from './ground-truth.ts';
import { simulatorUrl, startSimulator, type RunningSimulator } from './index.ts';
import type { SimulatorOptions } from './options.ts';

/**
 * The simulator on several cores: `workers` processes behind one port (node:cluster; the primary
 * hands each new connection to the next worker, and a keep-alive connection stays with its worker).
 * One process's event loop saturates at a few hundred req/s of 128-token streams (its CPU per
 * streamed token is measured in BENCHMARKS.md §1); a benchmark of the runner at higher rates needs a
 * server that is not the bottleneck.
 *
 * Each worker is a whole simulator with its own state, so with N workers: request draws come from
 * seed + worker number (still reproducible per worker and arrival order), `--max-concurrency` and
 * `/metrics` are per worker, and the ground truth is written per worker and appended to the one
 * file when the simulator stops (consumers key it by request id).
 *
 * The workers are independent replicas, like N vLLM pods behind one Service, not one engine: each
 * has its own prefix cache (a prompt repeated on another worker's connection misses) and its own
 * `/metrics` counters and histograms, and a scrape of the shared port reads whichever worker the
 * connection lands on. Nothing is shared between the processes, by design.
 */

type FromWorker = { type: 'listening'; port: number } | { type: 'failed'; message: string; input?: { input: string; problems: string[]; fix?: string } };
type ToWorker = { type: 'close' };

export interface SimulatorCluster {
  url: string;
  workers: number;
  /** Stops every worker and merges their ground truth into the requested file. */
  close(): Promise<void>;
}

export const isSimulatorWorker = (): boolean => cluster.isWorker;

const workerFile = (file: string, id: number): string => `${file}.worker-${id}`;

/** In the primary: forks the workers (which re-enter the CLI and call `serveAsWorker`). */
export async function startSimulatorCluster(options: SimulatorOptions, workers: number): Promise<SimulatorCluster> {
  // The workers write beside the file and this process appends their parts to it at the end: a
  // path that cannot be written is refused here, before any worker serves.
  if (options.groundTruthFile) checkGroundTruthFile(options.groundTruthFile);
  const forked: Worker[] = [];
  for (let i = 0; i < workers; i++) forked.push(cluster.fork());
  const exited = forked.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
  let port: number;
  try {
    const ports = await Promise.all(
      forked.map(
        (w) =>
          new Promise<number>((resolve, reject) => {
            w.on('message', (m: FromWorker) => {
              if (m.type === 'listening') resolve(m.port);
              else reject(m.input ? new InputError(m.input.input, m.input.problems, m.input.fix) : new Error(m.message));
            });
            w.once('exit', (code) => reject(new Error(`simulator worker ${w.id} exited with ${code} before listening`)));
          }),
      ),
    );
    port = ports[0]!;
  } catch (err) {
    for (const w of forked) w.kill();
    await Promise.all(exited);
    await removeWorkerFiles(options.groundTruthFile, forked);
    throw err;
  }
  return {
    url: simulatorUrl(options.host ?? '127.0.0.1', port),
    workers,
    async close() {
      for (const w of forked) if (w.isConnected()) w.send({ type: 'close' } satisfies ToWorker);
      await Promise.all(exited);
      const file = options.groundTruthFile;
      if (!file) return;
      for (const w of forked) {
        const part = await readFile(workerFile(file, w.id)).catch(() => null);
        if (part) await appendFile(file, part);
      }
      await removeWorkerFiles(file, forked);
    },
  };
}

async function removeWorkerFiles(file: string | undefined, forked: Worker[]): Promise<void> {
  if (file) await Promise.all(forked.map((w) => rm(workerFile(file, w.id), { force: true })));
}

/** In a worker: one simulator on the shared port until the primary (or Ctrl-C) says stop. */
export async function serveAsWorker(options: SimulatorOptions, interrupt: AbortSignal): Promise<number> {
  const id = cluster.worker!.id;
  let sim: RunningSimulator;
  try {
    sim = await startSimulator({
      ...options,
      seed: (options.seed ?? 1) + id,
      ...(options.groundTruthFile ? { groundTruthFile: workerFile(options.groundTruthFile, id) } : {}),
    });
  } catch (err) {
    const input = err instanceof InputError ? { input: err.input, problems: err.problems, ...(err.fix ? { fix: err.fix } : {}) } : undefined;
    // Then let go of the primary: the IPC channel would keep this process alive.
    await new Promise<void>((resolve) => process.send!({ type: 'failed', message: (err as Error).message, ...(input ? { input } : {}) } satisfies FromWorker, undefined, {}, () => resolve()));
    process.disconnect();
    return 2;
  }
  process.send!({ type: 'listening', port: sim.port } satisfies FromWorker);
  await new Promise<void>((resolve) => {
    interrupt.addEventListener('abort', () => resolve(), { once: true });
    // Ctrl-C while this worker was starting: its event has fired already.
    if (interrupt.aborted) resolve();
    process.on('message', (m: ToWorker) => m.type === 'close' && resolve());
    // The primary is gone (killed): do not outlive it.
    process.once('disconnect', () => resolve());
  });
  await sim.close();
  process.disconnect();
  return 0;
}
