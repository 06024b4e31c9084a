import { VERSION } from '../core/version.ts';
import { systemClock } from '../timing/clock.ts';
import { isRunnerWorker, serveRunnerWorker } from '../runner/worker-thread.ts';
import { EXIT, runCli } from './program.ts';

/**
 * The `inference-baseline` entry point: wires the process (streams, clock, signals) to the
 * command line in program.ts and sets the exit code. Nothing else lives here.
 */

function interruptible(stopMessage: string): AbortSignal {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    process.stderr.write(`\n${stopMessage} (Ctrl-C again to quit now)\n`);
    controller.abort();
  });
  // Kubernetes stops a pod with SIGTERM, then SIGKILL after the grace period: stop the same way.
  process.on('SIGTERM', () => controller.abort());
  return controller.signal;
}

// In the runner bundle this file is also the entry of the runner's worker threads (runner/workers.ts).
if (isRunnerWorker()) await serveRunnerWorker();
else {
  try {
    process.exitCode = await runCli(process.argv.slice(2), {
      stdout: process.stdout,
      stderr: process.stderr,
      clock: systemClock,
      now: () => new Date(),
      random: Math.random,
      interruptible,
      version: VERSION,
    });
  } catch (err) {
    process.stderr.write(`internal error (a bug in inference-baseline, not in your input; please report it):\n${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT.bug;
  }
}
