import { z } from 'zod';

/**
 * The server's own account of a run (`summary.server`), from its Prometheus endpoint scraped before
 * the first measured request, every 10 s while sending and after the last response — on every
 * replica, not through the Service. Counters are taken as deltas over that window; a counter that
 * went down (a replica restarted) is said, never subtracted.
 */

/** One scrape as the runner stores it (`server-metrics.ndjson`, one JSON object per line, raw text kept). */
export const Scrape = z.object({
  /** The metrics URL scraped (one per replica). */
  endpoint: z.string(),
  /** `before`: just before the first measured request; `during`: every 10 s; `after`: after the last response. */
  phase: z.enum(['before', 'during', 'after']),
  /** Epoch ms when the answer came. */
  at: z.number(),
  /** The exposition text (Prometheus text format 0.0.4), or why there is none. */
  text: z.string().optional(),
  error: z.string().optional(),
});
export type Scrape = z.infer<typeof Scrape>;

/** A server-side latency distribution from a histogram's delta over the run, in ms, interpolated within buckets. */
export const ServerDistribution = z.object({
  /** Observations over the run's window. */
  count: z.number().int().nonnegative(),
  p50: z.number().nullable(),
  p90: z.number().nullable(),
  p99: z.number().nullable(),
  /**
   * Where each percentile provably is, [lower, upper] ms: its bucket, narrowed by what the
   * histogram's sum proves (server-metrics/account.ts sumBounds); upper null: unbounded (+Inf bucket).
   */
  bounds: z.object({ p50: z.tuple([z.number(), z.number().nullable()]).nullable(), p90: z.tuple([z.number(), z.number().nullable()]).nullable(), p99: z.tuple([z.number(), z.number().nullable()]).nullable() }),
  /** The metric it came from (`vllm:time_to_first_token_seconds`). */
  metric: z.string(),
});
export type ServerDistribution = z.infer<typeof ServerDistribution>;

export const serverDistributionNames = ['ttft', 'queue', 'prefill', 'decode', 'e2e'] as const;
export type ServerDistributionName = (typeof serverDistributionNames)[number];

export const ReplicaAccount = z.object({
  endpoint: z.string(),
  /** Requests the replica finished over the window (null: no usable before/after pair, or a reset). */
  seen: z.number().int().nonnegative().nullable(),
  /** A counter went down between two scrapes: the replica restarted during the run. */
  reset: z.boolean(),
  /** The server the exposition's names say it is (`vllm`, `sglang`, `tgi`), null when none is recognised. */
  server: z.string().nullable(),
});
export type ReplicaAccount = z.infer<typeof ReplicaAccount>;

export const ServerAccount = z.object({
  scraped: z.object({
    endpoints: z.array(z.string()),
    scrapes: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    /** Every endpoint answered before and after the load with a recognised exposition: the checks below could be made. */
    complete: z.boolean(),
  }),
  requests: z.object({
    /** This run's requests the server finished inside the window: its successes, and any of its shards' probes and warm-ups answered there (another pod's). */
    ours: z.number().int().nonnegative(),
    /** Requests every replica finished over the window, summed (null: not known for every replica). */
    seen: z.number().int().nonnegative().nullable(),
    /** seen − ours: requests that were not this run's (null when seen is). */
    foreign: z.number().int().nullable(),
    replicas: z.array(ReplicaAccount),
  }),
  /** Prefix-cache lookups over the window, in tokens (vLLM counts queried and hit tokens); null without the counters. */
  prefixCache: z.object({ queries: z.number().nonnegative(), hits: z.number().nonnegative(), hitRate: z.number().min(0).max(1).nullable() }).nullable(),
  /** The server-side distributions over the run's window (null: the server has no such histogram, or it recorded nothing). */
  ttft: ServerDistribution.nullable(),
  queue: ServerDistribution.nullable(),
  prefill: ServerDistribution.nullable(),
  decode: ServerDistribution.nullable(),
  e2e: ServerDistribution.nullable(),
  /** What a reader must know (an unreachable endpoint, a reset, a server without some metric). */
  notes: z.array(z.string()),
});
export type ServerAccount = z.infer<typeof ServerAccount>;
