import { readFileSync } from 'node:fs';

/**
 * The bench's `--windows` file: one line per client slice, "client start end events" — the load's
 * start and end in seconds on CLOCK_MONOTONIC (perf's clock with `-k CLOCK_MONOTONIC`) and the
 * content events received in it. runner-accuracy.ts writes it; perf-groups.ts and sched-gaps.ts
 * place perf's samples and context switches in it.
 */
export interface LoadWindow {
  client: string;
  from: number;
  to: number;
  events: number;
}

export function loadWindowLine(client: string, [from, to]: [number, number], events: number): string {
  return `${client} ${from.toFixed(6)} ${to.toFixed(6)} ${events}\n`;
}

/** The windows in time order. */
export function parseLoadWindows(text: string): LoadWindow[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [client, from, to, events] = l.split(' ');
      return { client: client!, from: Number(from), to: Number(to), events: Number(events) };
    })
    .sort((a, b) => a.from - b.from);
}

/** A bench input file's text; one message and exit 2 when it cannot be read. */
export function readBenchInput(path: string, fix: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    console.error(`${path}: cannot read it (${(err as Error).message}). Fix: ${fix}`);
    process.exit(2);
  }
}
