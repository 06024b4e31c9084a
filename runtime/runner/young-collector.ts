import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Puts the load loop's minor garbage collections where no send is due.
 *
 * At 100 streams the loop allocates ~30 MB/s (most of it Node's and undici's per-chunk objects),
 * so V8 scavenges its young generation every ~0.45 s, for 2–4 ms (copying what survives, then
 * freeing each socket read's ArrayBuffer). V8 starts a scavenge when the young generation is ~80 %
 * full, at whatever moment that is — and a send whose deadline falls inside it is late by up to the
 * whole pause: that was the runner's schedule-delay p99 (BENCHMARKS.md §1).
 *
 * The loop knows when the next send is due, so right after a request is written it asks how full
 * the young generation is and collects it then once it holds `bytes` (or is `fill` full, if that is
 * less): a moment the schedule has room for, the next deadline being 1/rate away. V8's own trigger
 * is then never reached. `bytes` keeps each collection short at any rate: what a scavenge copies is
 * what was allocated since the last one and is still alive (requests in flight), so a fixed
 * allocation between collections means a pause of about the same length however fast the loop
 * allocates — ~1–4 ms for 4 MB at 100–200 req/s here, against 6–14 ms at 175–200 req/s when 70 % of
 * V8's 16 MB young generation filled first, longer than the 5–6 ms between sends. It costs one
 * heap-statistics read (~4 µs) per request, and collecting more often costs no measurable CPU
 * (BENCHMARKS.md §1, "Off the sends").
 *
 * Needs V8's `gc` function, which only `--expose-gc` makes: the flag is set at run time and the
 * function taken from a new context, since only a context made after the flag has it. Returns
 * undefined where that is refused; the loop then runs as before.
 */
export interface YoungCollector {
  /** Right after a request is written: collect the young generation now if it holds `bytes` or is past `fill`. */
  afterWrite(): void;
  /** Collections made here. */
  readonly collections: number;
}

export function youngCollector(fill = 0.7, bytes = 4 << 20): YoungCollector | undefined {
  const gc = exposedGc();
  if (!gc) return undefined;
  let collections = 0;
  return {
    afterWrite() {
      for (const s of getHeapSpaceStatistics()) {
        if (s.space_name !== 'new_space') continue;
        if (s.space_used_size >= Math.min(bytes, fill * (s.space_used_size + s.space_available_size))) {
          gc({ type: 'minor' });
          collections += 1;
        }
        return;
      }
    },
    get collections() {
      return collections;
    },
  };
}

type Gc = (options: { type: 'minor' | 'major' }) => void;

function exposedGc(): Gc | undefined {
  const existing = (globalThis as { gc?: Gc }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Gc) : undefined;
  } catch {
    return undefined;
  }
}
