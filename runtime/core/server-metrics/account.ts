import {
  serverDistributionNames,
  type ReplicaAccount,
  type Scrape,
  type ServerAccount,
  type ServerDistribution,
  type ServerDistributionName,
} from '../summary/server-account.ts';
import { everyLabelSet, parseExposition, readHistogram, sumSamples, type CumulativeHistogram, type Exposition, type LabelFilter } from './parse.ts';
import { counts, PROCESS_START_TIME, recognizeServer, serverMetricNames, type CounterSource, type MetricsServer, type ServerMetricNames } from './servers.ts';

/**
 * The server's own account of a run from the scrapes of its replicas' metrics endpoints: per
 * replica, the delta of its counters and histograms between the first usable scrape before the
 * load and the last usable one after it — unless a counter went down on the way (the replica
 * restarted), in which case nothing of that replica is subtracted and a note says so.
 */

export interface ServerAccountInput {
  /** Every scrape of the run, any order (the runner's `server-metrics.ndjson`). */
  readonly scrapes: readonly Scrape[];
  /** The run's successful requests. */
  readonly ours: number;
  /** The run's model: when a replica labels its series with it (`model_name`), other models' series are left out. */
  readonly model?: string;
}

export function serverAccount(input: ServerAccountInput): ServerAccount {
  const { scrapes, ours, model } = input;
  const endpoints = [...new Set(scrapes.map((s) => s.endpoint))];
  const notes: string[] = [];
  if (endpoints.length === 0) notes.push('no metrics endpoint was scraped: the run could not check for foreign load');
  const results = endpoints.map((endpoint) => accountReplica(endpoint, scrapes.filter((s) => s.endpoint === endpoint), model));
  for (const r of results) notes.push(...r.notes);

  const replicas = results.map((r) => r.replica);
  const seen = replicas.length > 0 && replicas.every((r) => r.seen !== null) ? replicas.reduce((sum, r) => sum + (r.seen ?? 0), 0) : null;
  const foreign = seen === null ? null : seen - ours;
  if (foreign !== null && foreign < 0) {
    notes.push(
      `the replicas finished ${seen} requests over the run, fewer than its ${ours} successes: the server's count and the run's disagree ` +
        `(a replica that was not scraped, a counter that misses some requests, or series the model filter left out), so foreign is ${foreign}, not a count of other load`,
    );
  }

  const windows = results.flatMap((r) => (r.window ? [r.window] : []));
  const prefixCache = prefixCacheOver(windows, notes);
  const latency = latencyOver(windows, notes);
  notes.push(...missingMetricNotes(results, windows));

  return {
    scraped: {
      endpoints,
      scrapes: scrapes.length,
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      complete: results.length > 0 && results.every((r) => r.paired),
    },
    requests: { ours, seen, foreign, replicas },
    prefixCache,
    ...latency,
    notes,
  };
}

/** One replica's usable before/after pair, no reset between them. */
interface ReplicaWindow {
  readonly endpoint: string;
  readonly names: ServerMetricNames;
  readonly before: Exposition;
  readonly after: Exposition;
  readonly keep: LabelFilter;
  readonly prefix: { readonly queries: CounterSource; readonly hits: CounterSource } | null;
}

interface ReplicaResult {
  readonly replica: ReplicaAccount;
  readonly failed: number;
  /** A usable before and after, from a recognised server. */
  readonly paired: boolean;
  /** Null when its counts cannot be used (no pair, or a reset). */
  readonly window: ReplicaWindow | null;
  readonly notes: string[];
}

interface Read {
  readonly scrape: Scrape;
  readonly exposition: Exposition | null;
  /** Why there is no exposition. */
  readonly problem: string;
}

function read(scrape: Scrape): Read {
  if (scrape.error !== undefined) return { scrape, exposition: null, problem: scrape.error };
  if (scrape.text === undefined) return { scrape, exposition: null, problem: 'no exposition text was kept' };
  const parsed = parseExposition(scrape.text);
  return parsed.ok ? { scrape, exposition: parsed.exposition, problem: '' } : { scrape, exposition: null, problem: `not a Prometheus exposition (${parsed.problem})` };
}

type Usable = Read & { readonly exposition: Exposition };
const usable = (r: Read): r is Usable => r.exposition !== null;

function accountReplica(endpoint: string, scrapes: readonly Scrape[], model: string | undefined): ReplicaResult {
  const notes: string[] = [];
  // Array.prototype.sort is stable: scrapes stamped alike keep the runner's order.
  const reads = [...scrapes].sort((a, b) => a.at - b.at).map(read);
  const failed = reads.filter((r) => !usable(r)).length;
  const before = reads.findIndex((r) => r.scrape.phase === 'before' && usable(r));
  const after = reads.findLastIndex((r) => r.scrape.phase === 'after' && usable(r));
  if (before < 0) notes.push(unreachable(endpoint, 'before', reads));
  if (after < 0) notes.push(unreachable(endpoint, 'after', reads));
  const during = reads.filter((r) => r.scrape.phase === 'during');
  const duringFailed = during.filter((r) => !usable(r));
  if (duringFailed.length > 0) notes.push(`${duringFailed.length} of ${during.length} scrapes of ${endpoint} during the run failed (${duringFailed.at(-1)?.problem})`);

  const servers = [...new Set(reads.filter(usable).map((r) => recognizeServer(r.exposition)))].filter((s): s is MetricsServer => s !== null);
  const unknown = (server: MetricsServer | null): ReplicaResult => ({ replica: { endpoint, seen: null, reset: false, server }, failed, paired: false, window: null, notes });
  if (servers.length === 0) {
    if (reads.some(usable)) notes.push(`${endpoint} answered with no metric of a known server (vLLM, SGLang, TGI): its requests were not counted`);
    return unknown(null);
  }
  if (servers.length > 1) {
    notes.push(`${endpoint} answered as ${servers.join(' and as ')} in different scrapes: its counts are not used`);
    return unknown(null);
  }
  const server = servers[0] as MetricsServer;
  if (before < 0 || after < 0) return unknown(server);
  if (after < before) {
    notes.push(`${endpoint}'s last usable scrape after the run is older than its first before it: its counts are not used`);
    return unknown(server);
  }

  const names = serverMetricNames[server];
  const window = reads.slice(before, after + 1).filter(usable);
  const first = window[0] as Usable;
  const last = window[window.length - 1] as Usable;
  const keep = modelFilter(model, names.modelLabel, [first.exposition, last.exposition], endpoint, notes);
  const prefix = names.prefixCache.find((p) => window.some((r) => r.exposition.names.has(p.queries.name))) ?? null;

  const reset = findReset(window, names, keep, prefix);
  if (reset !== null) {
    notes.push(`${endpoint} restarted during the run (${reset}): its counts are not used`);
    return { replica: { endpoint, seen: null, reset: true, server }, failed, paired: true, window: null, notes };
  }
  const seen = Math.round(counter(last.exposition, names.finished, keep) - counter(first.exposition, names.finished, keep));
  return {
    replica: { endpoint, seen, reset: false, server },
    failed,
    paired: true,
    window: { endpoint, names, before: first.exposition, after: last.exposition, keep, prefix },
    notes,
  };
}

function unreachable(endpoint: string, phase: 'before' | 'after', reads: readonly Read[]): string {
  const tried = reads.filter((r) => r.scrape.phase === phase);
  const why = tried.length === 0 ? 'no scrape was made' : (tried[tried.length - 1] as Read).problem;
  return `could not scrape ${endpoint} ${phase} the run: ${why}: the run could not check for foreign load on that replica`;
}

/**
 * Series of another model are left out only when the replica's series name the run's model: a
 * replica whose label says something else (a served-model-name alias) is counted whole, and said.
 */
function modelFilter(model: string | undefined, label: string | null, expositions: readonly Exposition[], endpoint: string, notes: string[]): LabelFilter {
  if (model === undefined || label === null) return everyLabelSet;
  const values = new Set<string>();
  for (const e of expositions) {
    for (const list of e.samples.values()) {
      for (const s of list) {
        const v = s.labels[label];
        if (v !== undefined) values.add(v);
      }
    }
  }
  if (values.size === 0) return everyLabelSet;
  if (values.has(model)) {
    return (labels) => {
      const v = labels[label];
      return v === undefined || v === model;
    };
  }
  notes.push(`${endpoint} labels its series ${label} ${[...values].map((v) => `"${v}"`).join(', ')}, none of them the run's model "${model}": every model's series were counted`);
  return everyLabelSet;
}

/** A counter's value over the label sets kept; a series not there yet is 0 (servers.ts: series appear at their first increment). */
function counter(exposition: Exposition, source: CounterSource, keep: LabelFilter): number {
  return sumSamples(exposition, source.name, (l) => keep(l) && counts(source, l)) ?? 0;
}

/** The series whose going down means a restart, read from one scrape. */
function watched(exposition: Exposition, names: ServerMetricNames, keep: LabelFilter, prefix: ReplicaWindow['prefix']): Map<string, number> {
  const values = new Map<string, number>();
  const sources = [names.finished, ...(prefix ? [prefix.queries, prefix.hits] : [])];
  for (const s of sources) values.set(s.name, counter(exposition, s, keep));
  for (const metric of Object.values(names.latency)) {
    if (metric !== null) values.set(`${metric}_count`, readHistogram(exposition, metric, keep)?.count ?? 0);
  }
  return values;
}

/** What shows a restart between two consecutive usable scrapes of the window, or null. */
function findReset(window: readonly Usable[], names: ServerMetricNames, keep: LabelFilter, prefix: ReplicaWindow['prefix']): string | null {
  let previous: { read: Usable; values: Map<string, number>; start: number | null } | null = null;
  for (const r of window) {
    const current = { read: r, values: watched(r.exposition, names, keep, prefix), start: sumSamples(r.exposition, PROCESS_START_TIME) };
    if (previous) {
      const between = `between the ${previous.read.scrape.phase} scrape at ${stamp(previous.read.scrape.at)} and the ${r.scrape.phase} one at ${stamp(r.scrape.at)}`;
      if (previous.start !== null && current.start !== null && previous.start !== current.start) {
        return `${PROCESS_START_TIME} changed from ${previous.start} to ${current.start} ${between}`;
      }
      for (const [name, value] of current.values) {
        const was = previous.values.get(name) ?? 0;
        if (value < was) return `${name} went down from ${was} to ${value} ${between}`;
      }
    }
    previous = current;
  }
  return null;
}

const stamp = (at: number): string => (Number.isFinite(at) ? new Date(at).toISOString() : String(at));

function prefixCacheOver(windows: readonly ReplicaWindow[], notes: string[]): ServerAccount['prefixCache'] {
  let queries = 0;
  let hits = 0;
  let any = false;
  for (const w of windows) {
    if (!w.prefix) continue;
    any = true;
    queries += counter(w.after, w.prefix.queries, w.keep) - counter(w.before, w.prefix.queries, w.keep);
    hits += counter(w.after, w.prefix.hits, w.keep) - counter(w.before, w.prefix.hits, w.keep);
  }
  if (!any) return null;
  if (hits > queries) notes.push(`the prefix cache counted ${hits} hit tokens for ${queries} queried: the hit rate is given as 1`);
  return { queries, hits, hitRate: queries > 0 ? Math.min(1, hits / queries) : null };
}

/** A replica's histogram over the window: null when it recorded nothing there, 'inconsistent' when after cannot follow before. */
function histogramDelta(before: CumulativeHistogram | null, after: CumulativeHistogram | null): CumulativeHistogram | null | 'inconsistent' {
  if (after === null) return null;
  if (before === null) return after;
  if (!sameBounds(before.bounds, after.bounds)) return 'inconsistent';
  const cumulative = after.cumulative.map((c, i) => c - (before.cumulative[i] ?? 0));
  if (cumulative.some((c) => c < 0)) return 'inconsistent';
  return { bounds: after.bounds, cumulative, count: after.count - before.count, sum: after.sum === null || before.sum === null ? null : after.sum - before.sum };
}

const sameBounds = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function latencyOver(windows: readonly ReplicaWindow[], notes: string[]): Record<ServerDistributionName, ServerDistribution | null> {
  const latency = {} as Record<ServerDistributionName, ServerDistribution | null>;
  for (const name of serverDistributionNames) {
    const parts: Array<{ endpoint: string; metric: string; histogram: CumulativeHistogram }> = [];
    for (const w of windows) {
      const metric = w.names.latency[name];
      if (metric === null) continue;
      const delta = histogramDelta(readHistogram(w.before, metric, w.keep), readHistogram(w.after, metric, w.keep));
      if (delta === 'inconsistent') {
        notes.push(`${metric} on ${w.endpoint} does not follow from its scrape before the run to the one after (other buckets, or a bucket that went down): that replica's ${name} observations are not used`);
      } else if (delta !== null) {
        parts.push({ endpoint: w.endpoint, metric, histogram: delta });
      }
    }
    latency[name] = sumDistribution(name, parts, notes);
  }
  return latency;
}

function sumDistribution(name: ServerDistributionName, parts: ReadonlyArray<{ endpoint: string; metric: string; histogram: CumulativeHistogram }>, notes: string[]): ServerDistribution | null {
  const head = parts[0];
  if (head === undefined) return null;
  const odd = parts.find((p) => p.metric !== head.metric || !sameBounds(p.histogram.bounds, head.histogram.bounds));
  if (odd) {
    const what = odd.metric === head.metric ? `${head.metric} has other buckets` : `${head.metric} and ${odd.metric} differ`;
    notes.push(`${what} on ${head.endpoint} and ${odd.endpoint}: their ${name} histograms cannot be added, so the server-side ${name} distribution is not given`);
    return null;
  }
  const cumulative = head.histogram.cumulative.map((_, i) => parts.reduce((sum, p) => sum + (p.histogram.cumulative[i] ?? 0), 0));
  const sum = parts.every((p) => p.histogram.sum !== null) ? parts.reduce((total, p) => total + (p.histogram.sum ?? 0), 0) : null;
  return distribution(head.metric, head.histogram.bounds, cumulative, sum);
}

/** The bucket a quantile fell in: [lower, upper] in the histogram's unit, upper null for the +Inf bucket. */
export interface BucketQuantile {
  readonly value: number;
  readonly bucket: readonly [number, number | null];
}

/**
 * Prometheus's `histogram_quantile` on one classic histogram (prometheus/prometheus
 * promql/quantile.go, bucketQuantile): the rank q·n is found in the first bucket whose cumulative
 * count reaches it and interpolated linearly inside it; the first bucket starts at 0 (or is its own
 * bound when that is ≤ 0); a rank in the +Inf bucket gives the highest finite bound. Counts that go
 * down across buckets are raised first (ensureMonotonic). Null with no observation or no finite bucket.
 *
 * @param bounds finite upper bounds, ascending
 * @param cumulative cumulative counts per bound, then the +Inf bucket's
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): BucketQuantile | null {
  if (bounds.length === 0 || cumulative.length !== bounds.length + 1 || !(q >= 0 && q <= 1)) return null;
  const c: number[] = [];
  for (const count of cumulative) c.push(Math.max(count, c[c.length - 1] ?? count));
  const observations = c[c.length - 1] as number;
  if (!(observations > 0)) return null;
  const rank = q * observations;
  let b = 0;
  while (b < bounds.length && (c[b] as number) < rank) b += 1;
  const highest = bounds[bounds.length - 1] as number;
  if (b === bounds.length) return { value: highest, bucket: [highest, null] };
  const upper = bounds[b] as number;
  if (b === 0 && upper <= 0) return { value: upper, bucket: [upper, upper] };
  const lower = b === 0 ? 0 : (bounds[b - 1] as number);
  const below = b === 0 ? 0 : (c[b - 1] as number);
  return { value: lower + (upper - lower) * ((rank - below) / ((c[b] as number) - below)), bucket: [lower, upper] };
}

/** Seconds to ms, rid of the binary tail of the product (0.07 s → 70 ms, not 70.00000000000001). */
const ms = (seconds: number): number => Number((seconds * 1000).toPrecision(12));

/**
 * What a histogram's `_sum` proves about its q-quantile, beside the bucket it fell in. Sorted, the
 * n observations are x(1) ≤ … ≤ x(n); the quantile is x(r), r = max(1, ⌈q·n⌉); each x(i) lies in its
 * bucket [L(i), U(i)] (the first bucket from 0: latencies are not negative). Then
 *   sum ≥ Σ_{i<r} L(i) + (n − r + 1)·x(r)  ⇒  x(r) ≤ (sum − Σ_{i<r} L(i)) / (n − r + 1)
 *   sum ≤ r·x(r) + Σ_{i>r} U(i)            ⇒  x(r) ≥ (sum − Σ_{i>r} U(i)) / r
 * (the first is Markov's inequality, p_q ≤ mean / (1 − q), sharpened by the buckets below). Null
 * when the counts are not whole observations or the first bucket does not start at 0.
 *
 * @param bounds finite upper bounds, ascending
 * @param cumulative cumulative counts per bound, then the +Inf bucket's (monotonic)
 */
export function sumBounds(q: number, bounds: readonly number[], cumulative: readonly number[], sum: number): [number, number] | null {
  const n = cumulative[cumulative.length - 1] ?? 0;
  if (!(n > 0) || !Number.isInteger(n) || !((bounds[0] ?? 0) > 0)) return null;
  const r = Math.max(1, Math.ceil(q * n));
  let below = 0; // Σ L(i), i < r
  let above = 0; // Σ U(i), i > r
  let seen = 0;
  for (let b = 0; b < cumulative.length; b++) {
    const inBucket = (cumulative[b] as number) - (b === 0 ? 0 : (cumulative[b - 1] as number));
    if (!Number.isInteger(inBucket) || inBucket < 0) return null;
    const lower = b === 0 ? 0 : (bounds[b - 1] as number);
    const upper = b < bounds.length ? (bounds[b] as number) : Number.POSITIVE_INFINITY;
    // Sorted positions seen+1 … seen+inBucket are in this bucket.
    below += lower * Math.max(0, Math.min(seen + inBucket, r - 1) - seen);
    const after = Math.max(0, seen + inBucket - Math.max(seen, r));
    if (after > 0) above += upper * after;
    seen += inBucket;
  }
  return [(sum - above) / r, (sum - below) / (n - r + 1)];
}

/**
 * The p50/p90/p99 of one delta histogram, in ms: Prometheus's interpolation, kept within what the
 * bucket and the `_sum` prove ({@link sumBounds}). Interpolating inside a wide bucket alone can say
 * far more than the data does: vLLM's queue-time buckets start at 0.3 s, so requests that never
 * waited would read "queue p50 150 ms", and ten TTFTs of 39.9 ms in its 20–40 ms bucket would read
 * "p50 30 ms". The sum rules both out: the stated bounds are the tighter interval, and the value
 * is the interpolation clamped to it. A sum that contradicts the buckets (rounding, a torn scrape)
 * leaves the bucket alone.
 */
function distribution(metric: string, bounds: readonly number[], cumulative: readonly number[], sum: number | null): ServerDistribution | null {
  const count = cumulative[cumulative.length - 1] ?? 0;
  if (!(count > 0)) return null;
  const monotonic: number[] = [];
  for (const c of cumulative) monotonic.push(Math.max(c, monotonic[monotonic.length - 1] ?? c));
  const at = (q: number) => {
    const r = histogramQuantile(q, bounds, monotonic);
    if (r === null) return { value: null, bucket: null };
    let lower = r.bucket[0];
    let upper = r.bucket[1] ?? Number.POSITIVE_INFINITY;
    const proven = sum === null ? null : sumBounds(q, bounds, monotonic, sum);
    if (proven !== null) {
      const lo = Math.max(lower, proven[0]);
      const hi = Math.min(upper, proven[1]);
      // A float sum may land a hair outside its own buckets: an interval within 1e-9 of empty is a point.
      if (lo <= hi + 1e-9 * Math.max(1, Math.abs(hi))) [lower, upper] = [Math.min(lo, hi), hi];
    }
    const value = Math.min(upper, Math.max(lower, r.value));
    return { value: ms(value), bucket: [ms(lower), Number.isFinite(upper) ? ms(upper) : null] as [number, number | null] };
  };
  const p50 = at(0.5);
  const p90 = at(0.9);
  const p99 = at(0.99);
  return { count: Math.round(count), p50: p50.value, p90: p90.value, p99: p99.value, bounds: { p50: p50.bucket, p90: p90.bucket, p99: p99.bucket }, metric };
}

/** What a reader must know of metrics a server does not have, or did not show. */
function missingMetricNotes(results: readonly ReplicaResult[], windows: readonly ReplicaWindow[]): string[] {
  const notes: string[] = [];
  const servers = [...new Set(results.map((r) => r.replica.server).filter((s): s is MetricsServer => s !== null))];
  for (const server of servers) {
    const names = serverMetricNames[server];
    const lacking = serverDistributionNames.filter((n) => names.latency[n] === null);
    if (lacking.length > 0) notes.push(`${names.title} has no per-request histogram for ${lacking.join(', ')}: those server-side distributions are null`);
    if (names.prefixCache.length === 0) notes.push(`${names.title} exposes no prefix-cache counters: prefixCache is null`);
    const mine = windows.filter((w) => w.names.server === server);
    const finished = mine.reduce((sum, w) => sum + counter(w.after, names.finished, w.keep) - counter(w.before, names.finished, w.keep), 0);
    if (finished <= 0) continue;
    for (const n of serverDistributionNames) {
      const metric = names.latency[n];
      if (metric !== null && !mine.some((w) => w.after.samples.has(`${metric}_bucket`))) {
        notes.push(`${metric} was in no replica's exposition although they finished ${finished} requests: this ${names.title} version may not expose it, so ${n} is null`);
      }
    }
  }
  return notes;
}
