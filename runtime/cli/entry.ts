import { availableParallelism } from 'node:os';
import type { LocalStack } from '../core/ports/local-stack.ts';
import { VERSION } from '../core/version.ts';
import { systemClock } from '../timing/clock.ts';
import { isRunnerWorker, serveRunnerWorker } from '../runner/worker-thread.ts';
import { hubFromEnv } from '../runner/tokenizer-source.ts';
import { EXIT, runCli, type QuitHook } from './program.ts';

/**
 * The `inference-baseline` process: wires it (streams, clock, signals) to the command line in
 * program.ts and sets the exit code. bin/inference-baseline.js calls it with the local cloud's
 * stack; the runner bundle (main.ts) without.
 */

function interruptible(stopMessage: string, onQuit?: QuitHook): AbortSignal {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) {
      let said: string | undefined;
      try {
        said = onQuit?.say?.();
      } catch (err) {
        said = `quitting now (second Ctrl-C); saving what was measured failed: ${(err as Error)?.message ?? String(err)}`;
      }
      process.stderr.write(`\n${said ?? 'quitting now (second Ctrl-C): requests in flight are not recorded; files already written stay, and `inference-baseline aggregate <run dir>` (the directory printed at the start) reads them'}\n`);
      process.exit(EXIT.interrupted);
    }
    process.stderr.write(`\n${stopMessage} (Ctrl-C again to quit now)\n`);
    controller.abort();
  });
  // Kubernetes stops a pod with SIGTERM, then SIGKILL after the grace period: stop the same way.
  process.on('SIGTERM', () => controller.abort());
  return controller.signal;
}

export async function main(wiring: { localStack?: () => Promise<LocalStack> } = {}): Promise<void> {
  // In the runner bundle this is also the entry of the runner's worker threads (runner/workers.ts).
  if (isRunnerWorker()) return serveRunnerWorker();
  // `… | head` closes the pipe early: the reader has what it wanted, which is no error of ours.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
      throw err;
    });
  }
  try {
    process.exitCode = await runCli(process.argv.slice(2), {
      stdout: process.stdout,
      stderr: process.stderr,
      clock: systemClock,
      now: () => new Date(),
      random: Math.random,
      interruptible,
      version: VERSION,
      cpus: availableParallelism(),
      hub: hubFromEnv(process.env),
      ...wiring,
    });
  } catch (err) {
    process.stderr.write(`internal error (a bug in inference-baseline, not in your input; please report it):\n${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT.bug;
  }
}
