import cliProgress from 'cli-progress';
import type { RunStatus } from '../../runner/types.ts';

export interface StatusOutput {
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** A live progress bar on a terminal; a JSON status line every 10 s otherwise (Kubernetes logs). */
export function statusPrinter(io: StatusOutput): { update: (s: RunStatus) => void; note: (line: string) => void; stop: () => void } {
  if (io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: '{bar} {percentage}% | {value}/{total} sent | in flight {inFlight} | ok {succeeded} | failed {failed} | {elapsedS}s', stream: io.stderr, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (s) => {
        const payload = { inFlight: s.inFlight, succeeded: s.succeeded, failed: s.failed, elapsedS: Math.round(s.elapsedS) };
        if (!started) {
          bar.start(s.scheduled, s.sent, payload);
          started = true;
        } else bar.update(s.sent, payload);
      },
      // The bar redraws itself on its next update, so a note just takes the current line.
      note: (line) => io.stderr.write(started ? `\r\x1b[K${line}\n` : `${line}\n`),
      stop: () => started && bar.stop(),
    };
  }
  let lastPrinted = -Infinity;
  return {
    update: (s) => {
      if (s.phase === 'done' || s.elapsedS - lastPrinted >= 10) {
        lastPrinted = s.elapsedS;
        io.stderr.write(`${JSON.stringify({ status: s.phase, elapsed_s: round1(s.elapsedS), total_s: round1(s.totalS), scheduled: s.scheduled, sent: s.sent, in_flight: s.inFlight, succeeded: s.succeeded, failed: s.failed })}\n`);
      }
    },
    note: (line) => io.stderr.write(`${JSON.stringify({ note: line })}\n`),
    stop: () => undefined,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

