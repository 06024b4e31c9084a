import type { StoreEntry } from '../core/ports/run-store.ts';
import { RUN_MANIFEST_FILE, SUMMARY_FILE } from '../core/run-layout.ts';

/** A run found below a location that is not itself a run (a results directory, a bucket prefix). */
export interface RunWithin {
  /** The run's directory relative to the location, `/`-separated, without a trailing slash. */
  dir: string;
  /** Its summary.json is there (it can be compared). */
  aggregated: boolean;
}

/**
 * The runs below a location, from its listing: every directory (at any depth) holding run.json,
 * oldest first — a run directory's name starts with its UTC start time, and under
 * `runs/<scenario>/<model>/` the run id is the last segment, so they are ordered by that segment.
 * A run.json at the location's root is the location itself, not a run within it.
 */
export function runsWithin(entries: readonly StoreEntry[]): RunWithin[] {
  const keys = new Set(entries.map((e) => e.key));
  const suffix = `/${RUN_MANIFEST_FILE}`;
  const runs = entries
    .filter((e) => e.key.endsWith(suffix))
    .map((e) => {
      const dir = e.key.slice(0, -suffix.length);
      return { dir, aggregated: keys.has(`${dir}/${SUMMARY_FILE}`) };
    });
  const last = (d: string): string => d.slice(d.lastIndexOf('/') + 1);
  return runs.sort((a, b) => (last(a.dir) < last(b.dir) ? -1 : last(a.dir) > last(b.dir) ? 1 : a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
}

/** `location` + a relative directory, for a command line (`results/` + `abc` → `results/abc`; an S3 prefix keeps its slash). */
export function below(location: string, dir: string): string {
  return `${location.replace(/\/+$/, '')}/${dir}${location.startsWith('s3://') ? '/' : ''}`;
}

/**
 * "a results directory holding 3 runs" and the newest one or two worth naming as examples (the
 * aggregated ones when `aggregatedOnly`), newest first.
 */
export function describeRunsWithin(location: string, runs: readonly RunWithin[], o: { aggregatedOnly?: boolean } = {}): { what: string; examples: string[] } {
  const kind = location.startsWith('s3://') ? 'prefix' : 'directory';
  const what = `is a results ${kind} holding ${runs.length} run${runs.length === 1 ? '' : 's'}, not a run`;
  const pool = o.aggregatedOnly ? runs.filter((r) => r.aggregated) : runs;
  const examples = [...pool].reverse().slice(0, 2).map((r) => below(location, r.dir));
  return { what, examples };
}
