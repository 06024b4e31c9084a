import type { ChildProcess } from 'node:child_process';

/**
 * Ctrl-C twice, as a person does it: the first once `ready(stderr)` says the process is at the
 * moment under test, the second once it has acknowledged the first ("Ctrl-C again to quit now").
 * Resolves with the exit code, everything written to stderr, and how many signals were sent.
 */
export function interruptTwice(child: ChildProcess, ready: (stderr: string) => boolean): Promise<{ code: number | null; stderr: string; interrupts: number }> {
  let stderr = '';
  let interrupts = 0;
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    if (interrupts === 0 && ready(stderr)) {
      interrupts = 1;
      child.kill('SIGINT');
    } else if (interrupts === 1 && stderr.includes('Ctrl-C again to quit now')) {
      interrupts = 2;
      child.kill('SIGINT');
    }
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, interrupts })));
}
