import { z } from 'zod';
import { runnerKinds } from '../records/runner-kinds.ts';
import { ServerFacts } from '../records/server-facts.ts';

/**
 * What a run measured against, so that a change between two nights can be explained: the workload
 * (what was asked of the server), the server (its reported version and, for the simulator, its
 * settings), the target pod (images, node, instance type) and the runner. Lives in summary.json
 * under `context`, and in each history entry (core/history/context.ts derives and compares it).
 */

/**
 * The parts of the effective scenario that change what is measured — API, token counts, load —
 * and nothing else (not the seed, the target URL or the validity rules). Two runs are comparable
 * only when their workloads are equal; the fingerprint says so in one string.
 */
export const Workload = z.object({
  api: z.enum(['completion', 'chat']),
  streaming: z.boolean(),
  /** "fixed 512", "normal 512±200 in [10, 1024]", "uniform [10, 100]", or "unknown" (an inference-perf output without this project's config.yml). */
  input: z.string(),
  output: z.string(),
  arrival: z.string(),
  stages: z.array(z.object({ rate: z.number(), duration: z.number() })),
  intervalS: z.number(),
  ignoreEos: z.boolean(),
  maxInFlight: z.number().nullable(),
});
export type Workload = z.infer<typeof Workload>;

export const TargetPod = z.object({
  name: z.string(),
  node: z.string().nullable(),
  instanceType: z.string().nullable(),
  /** The pod's container images, as its spec names them. */
  images: z.array(z.string()),
});
export type TargetPod = z.infer<typeof TargetPod>;

export const RunContext = z.object({
  /** Hash of `workload`: runs compare only with runs of the same fingerprint (and target). */
  fingerprint: z.string(),
  workload: Workload,
  target: z.string(),
  model: z.string(),
  runner: z.object({ kind: z.enum(runnerKinds), version: z.string() }),
  /** null: the runner did not ask (inference-perf), or the server did not answer. */
  server: ServerFacts.nullable(),
  /** The target pod the workflow found; null for runs started outside the workflow. */
  pod: TargetPod.nullable(),
});
export type RunContext = z.infer<typeof RunContext>;
