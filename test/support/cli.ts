import { Writable } from 'node:stream';
import { EXIT, runCli } from '../../runtime/cli/program.ts';
import { systemClock } from '../../runtime/timing/clock.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/**
 * The command line run in-process, exactly as bin/inference-baseline.js runs it but with its
 * output captured (a bug still throws, as it would reach the entry point). `interrupt` stands in
 * for Ctrl-C.
 */
export async function cli(args: string[], o: { interrupt?: AbortSignal; interruptible?: (stopMessage: string) => void } = {}): Promise<CliResult> {
  const out = capture();
  const err = capture();
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
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

export { EXIT };
