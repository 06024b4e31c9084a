import { Writable } from 'node:stream';
import { EXIT, runCli } from '../../runtime/cli/program.ts';
import type { LocalStack } from '../../runtime/core/ports/local-stack.ts';
import { systemClock } from '../../runtime/timing/clock.ts';
import { DEFAULT_HUB, type HubAccess } from '../../runtime/runner/tokenizer-source.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(onChunk?: (text: string) => void): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      onChunk?.(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/**
 * The command line run in-process, exactly as bin/inference-baseline.js runs it but with its
 * output captured (a bug still throws, as it would reach the entry point). `interrupt` stands in
 * for Ctrl-C; `cpus` stands in for the machine's CPU count (default 64: enough for any worker count);
 * `onStderr` sees stderr as it is written (to act at a moment of the run).
 */
export async function cli(
  args: string[],
  o: { interrupt?: AbortSignal; interruptible?: (stopMessage: string) => void; cpus?: number; localStack?: () => Promise<LocalStack>; onStderr?: (text: string) => void; hub?: HubAccess } = {},
): Promise<CliResult> {
  const out = capture();
  const err = capture(o.onStderr);
  const code = await runCli(args, {
    stdout: out.stream,
    stderr: err.stream,
    clock: systemClock,
    now: () => new Date(),
    random: Math.random,
    interruptible: (stopMessage) => {
      o.interruptible?.(stopMessage);
      return o.interrupt ?? new AbortController().signal;
    },
    version: 'test',
    // The machine is an input: a test that is not about fitting workers to CPUs does not depend on this one's.
    cpus: o.cpus ?? 64,
    // Offline unless a test serves a hub on loopback: no test may reach huggingface.co.
    hub: o.hub ?? { ...DEFAULT_HUB, offline: true },
    ...(o.localStack ? { localStack: o.localStack } : {}),
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

export { EXIT };
