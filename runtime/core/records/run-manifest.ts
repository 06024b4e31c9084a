import { z } from 'zod';
import { arrivals } from '../scenario/schema.ts';
import { ValidityRules } from '../scenario/validity-rules.ts';
import { ServerFacts } from './server-facts.ts';

import { runnerKinds } from './runner-kinds.ts';

export { runnerKinds, type RunnerKind } from './runner-kinds.ts';

/** Who ran, against what, where: everything that identifies a run apart from its numbers. */
export const RunIdentity = z.object({
  runId: z.string(),
  scenario: z.string(),
  model: z.string(),
  target: z.string(),
  /** Availability zone of the load generator (null when unknown, e.g. local runs). */
  zone: z.string().nullable(),
  runner: z.object({ kind: z.enum(runnerKinds), version: z.string() }),
  api: z.enum(['completion', 'chat']),
  streaming: z.boolean(),
});
export type RunIdentity = z.infer<typeof RunIdentity>;

/** What the scenario asked of the load, and the rules for a valid baseline. */
export const RunRequest = z.object({
  arrival: z.enum(arrivals),
  stages: z.array(z.object({ rate: z.number(), duration: z.number() })),
  /** Seconds of idle between stages (`load.interval`); places later stages in the plan. */
  intervalS: z.number().nonnegative().optional(),
  ignoreEos: z.boolean(),
  validity: ValidityRules,
  /** The seed of the run's prompts and schedule, and where it came from (absent for inference-perf). */
  seed: z.object({ value: z.number().int().nonnegative(), from: z.enum(['config', 'run-id']) }).optional(),
});
export type RunRequest = z.infer<typeof RunRequest>;

/**
 * `run.json` at the top of a run's directory/prefix: who ran what, and what was asked of the load.
 * Written once (by shard 0) before the first request, so a crashed run can still be identified.
 */
export const RunManifest = z.object({
  v: z.literal(1),
  identity: RunIdentity,
  request: RunRequest,
  /** Requests in the whole schedule (all shards). */
  scheduled: z.number().int().nonnegative(),
  shards: z.number().int().positive(),
  /** What the server said of itself at preflight (`GET /version`); absent when it was not asked. */
  server: ServerFacts.optional(),
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
  /**
   * Share of the machine's CPU time the hypervisor took while this shard sent (CPU steal, 0–1, from
   * /proc/stat: the node's, in a pod); null where unreadable, absent from manifests written before
   * it was recorded. See runtime/timing/cpu-steal.ts.
   */
  cpuSteal: z.number().min(0).max(1).nullable().optional(),
  /**
   * When each generation request this shard sent before its load was answered (usage probes, the
   * warm-up; epoch ms): the server counts them as finished requests, so the server account counts
   * those inside its window as the run's own, not foreign — another pod's warm-up can land after
   * runner 0's first scrape. Absent from manifests written before it was recorded.
   */
  preflightDoneAt: z.array(z.number()).optional(),
});
export type ShardManifest = z.infer<typeof ShardManifest>;

/** A run's CPU steal: the worst any of its shards saw (each shard's machine is its own); null when none recorded it. */
export function runCpuSteal(shards: Iterable<ShardManifest>): number | null {
  let worst: number | null = null;
  for (const s of shards) if (s.cpuSteal !== undefined && s.cpuSteal !== null) worst = Math.max(worst ?? 0, s.cpuSteal);
  return worst;
}
