import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { currentThreadId } from '../timing/background-threads.ts';
import { systemClock } from '../timing/clock.ts';
import { runBenchmark } from './run.ts';
import { ABANDONED, RUNNER_WORKER, serializeError, type FromWorker, type ToWorker, type WorkerData } from './workers.ts';

/** True in a thread that runner/workers.ts started (the bundle's entry point asks before anything else). */
export function isRunnerWorker(): boolean {
  return !isMainThread && (workerData as Partial<WorkerData> | null)?.role === RUNNER_WORKER;
}

/**
 * One worker of a runner: a shard of its own (runner/workers.ts), talking to the thread that
 * started it. Records go to the shard's files here; the coordinator gets the status lines and, once
 * at the end, the shard's numbers (its accumulator's snapshot: histograms and counters) for the
 * runner's summary. Never throws: the outcome is a message.
 */
export async function serveRunnerWorker(): Promise<void> {
  const d = workerData as WorkerData;
  const port = parentPort!;
  const post = (m: FromWorker): void => port.postMessage(m);
  const interrupt = new AbortController();
  let dir: { resolve(): void; reject(e: Error): void } | undefined;
  let go: { resolve(startAt: number): void; reject(e: Error): void } | undefined;
  let abandoned: Error | undefined;
  port.on('message', (m: ToWorker) => {
    if (m.type === 'interrupt') interrupt.abort();
    else if (m.type === 'dir') dir?.resolve();
    else if (m.type === 'go') go?.resolve(m.startAt);
    else {
      // Another worker failed: this one stops where it is (its error is not the one reported).
      abandoned = Object.assign(new Error(`stopped: another worker failed (${m.reason})`), { name: ABANDONED });
      dir?.reject(abandoned);
      go?.reject(abandoned);
      interrupt.abort();
    }
  });
  try {
    const result = await runBenchmark({
      scenario: d.scenario,
      scenarioName: d.scenarioName,
      configYaml: d.configYaml,
      runId: d.runId,
      outDir: d.outDir,
      shard: d.shard,
      zone: d.zone,
      clock: systemClock,
      interrupt: interrupt.signal,
      graceMs: d.graceMs,
      onNote: (line) => post({ type: 'note', line }),
      onFileClosed: (rel) => post({ type: 'file', rel }),
      onStatus: (status) => post({ type: 'status', status }),
      coordination: {
        prepared: () =>
          new Promise<void>((resolve, reject) => {
            if (abandoned) return reject(abandoned);
            dir = { resolve, reject };
            post({ type: 'prepared' });
          }),
        ready: (run) =>
          new Promise<number>((resolve, reject) => {
            if (abandoned) return reject(abandoned);
            go = { resolve, reject };
            post({ type: 'ready', run, thread: currentThreadId() });
          }),
      },
    });
    post({ type: 'done', shard: result.shards[0]!, numbers: result.accumulator.snapshot() });
  } catch (err) {
    post({ type: 'failed', error: serializeError(abandoned ?? err) });
  }
}
