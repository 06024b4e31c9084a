import { z } from 'zod';

const Arrival = z.enum(['even', 'normalized-exponential', 'poisson']);

/**
 * `run.json` at the top of a run's directory/prefix: who ran what, and what was asked of the load.
 * Written once (by shard 0) before the first request, so a crashed run can still be identified.
 */
export const RunManifest = z.object({
  v: z.literal(1),
  identity: z.object({
    runId: z.string(),
    scenario: z.string(),
    model: z.string(),
    target: z.string(),
    zone: z.string().nullable(),
    runner: z.object({ kind: z.enum(['native', 'inference-perf']), version: z.string() }),
    api: z.enum(['completion', 'chat']),
    streaming: z.boolean(),
  }),
  request: z.object({
    arrival: Arrival,
    stages: z.array(z.object({ rate: z.number(), duration: z.number() })),
    ignoreEos: z.boolean(),
    validity: z.object({ maxScheduleDelayP99Ms: z.number(), maxRateDeviation: z.number(), maxErrorRate: z.number() }),
  }),
  /** Requests in the whole schedule (all shards). */
  scheduled: z.number().int().nonnegative(),
  shards: z.number().int().positive(),
});
export type RunManifest = z.infer<typeof RunManifest>;

/**
 * `requests/shard-<index>.json`, written by each shard when it stops (complete or interrupted). Its
 * absence means the shard died without finishing: the aggregator reports that, it does not guess.
 */
export const ShardManifest = z.object({
  v: z.literal(1),
  runId: z.string(),
  shard: z.number().int().nonnegative(),
  shards: z.number().int().positive(),
  /** Requests of this shard's slice of the schedule. */
  scheduled: z.number().int().nonnegative(),
  sent: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  /** File names of this shard's parts, within `requests/` (e.g. `shard-0000-0000.ndjson.gz`). */
  parts: z.array(z.string()),
  partial: z.boolean(),
  startedAt: z.string(),
  endedAt: z.string(),
});
export type ShardManifest = z.infer<typeof ShardManifest>;

export function shardManifestName(shard: number): string {
  return `shard-${String(shard).padStart(4, '0')}.json`;
}
