import { z } from 'zod';
import { DistributionStats } from '../metrics/latency-histogram.ts';
import { InputReport } from '../records/input-report.ts';
import { errorTypes } from '../records/record.ts';
import { RunIdentity, RunRequest } from '../records/run-manifest.ts';
import { arrivals } from '../scenario/schema.ts';
import { Comparison } from './comparison.ts';
import { RunContext } from './context.ts';
import { ServerAccount } from './server-account.ts';

/** Where `load.schedule_delay` came from. */
export const scheduleDelaySources = ['records', 'inference-perf-summary', 'unavailable'] as const;
export type ScheduleDelaySource = (typeof scheduleDelaySources)[number];

export const StageLoad = z.object({
  stage: z.number().int().nonnegative(),
  requestedRate: z.number(),
  /** The rate of the drawn schedule: equal to requestedRate for even arrivals. */
  scheduledRate: z.number().nullable(),
  achievedRate: z.number().nullable(),
  sent: z.number().int().nonnegative(),
  sendDurationS: z.number().nullable(),
});
export type StageLoad = z.infer<typeof StageLoad>;

/**
 * `summary.json`: the one contract every reader of a run's numbers uses — a person,
 * CloudWatch (Publish), the history. Written only by the aggregator. Durations in ms, rates per
 * second, times ISO-8601 UTC.
 */
export const Summary = z.object({
  v: z.literal(1),
  run: RunIdentity.extend({ startedAt: z.string().nullable(), endedAt: z.string().nullable(), partial: z.boolean() }),
  requests: z.object({
    scheduled: z.number().int().nonnegative(),
    sent: z.number().int().nonnegative(),
    succeeded: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    errors: z.partialRecord(z.enum(errorTypes), z.number().int().nonnegative()),
    /**
     * What the failed requests said: the most frequent distinct (type, status, message), most
     * frequent first, so a reader sees why without opening the gzip parts.
     */
    errorMessages: z
      .array(z.object({ type: z.enum(errorTypes), status: z.number().int().nullable(), message: z.string(), count: z.number().int().positive() }))
      .default([]),
  }),
  load: z.object({
    arrival: z.enum(arrivals),
    requestedRate: z.number(),
    achievedRate: z.number().nullable(),
    sendDurationS: z.number().nullable(),
    stages: z.array(StageLoad),
    schedule_delay: DistributionStats,
    scheduleDelaySource: z.enum(scheduleDelaySources),
    /** The seed of the prompts and schedule (`from: run-id`: fresh per run; `config`: reproducing one); null for inference-perf. */
    seed: RunRequest.shape.seed.unwrap().nullable(),
    /**
     * The largest CPU steal any shard's machine saw while it sent (0–1; shard manifests' `cpuSteal`):
     * time the hypervisor took, which delays sends however idle the runner is. Null where unknown
     * (no /proc/stat, inference-perf, older runs).
     */
    cpuSteal: z.number().min(0).max(1).nullable().default(null),
  }),
  latency: z.object({
    ttft: DistributionStats,
    itl: DistributionStats,
    tpot: DistributionStats,
    ntpot: DistributionStats,
    e2e: DistributionStats,
  }),
  throughput: z.object({
    durationS: z.number().nullable(),
    requestsPerS: z.number().nullable(),
    inputTokensPerS: z.number().nullable(),
    outputTokensPerS: z.number().nullable(),
  }),
  tokens: z.object({
    inputTokens: z.number().int().nonnegative(),
    outputTokens: z.number().int().nonnegative(),
    /** Successes whose server prompt_tokens differ from the requested prompt length. */
    inputMismatches: z.number().int().nonnegative(),
    /** Successes whose server completion_tokens differ from max_tokens (with ignore_eos), or exceed it (without). */
    outputMismatches: z.number().int().nonnegative(),
    /** Successes where the client's content-event count differs from the server's completion_tokens. */
    clientServerOutputMismatches: z.number().int().nonnegative(),
    /** Successes without a usage object from the server. */
    missingServerUsage: z.number().int().nonnegative(),
  }),
  /** What the aggregator read and what it could not use. */
  input: InputReport,
  validity: z.object({
    valid: z.boolean(),
    reasons: z.array(z.string()),
    /** What a reader must know of a valid run's numbers without it being invalid (e.g. variable output lengths). */
    notes: z.array(z.string()).default([]),
  }),
  /** What the run measured against (workload fingerprint, server, target pod, runner): the aggregator's. */
  context: RunContext.nullable().default(null),
  /** This run against its series' history (null: not compared, e.g. aggregated without a history). */
  comparison: Comparison.nullable().default(null),
  /** The server's own account of the run from its Prometheus endpoints (null: none was scraped, or inference-perf). */
  server: ServerAccount.nullable().default(null),
});
export type Summary = z.infer<typeof Summary>;
export type LatencyName = keyof Summary['latency'];
export type Measured = Omit<Summary, 'input' | 'validity' | 'context' | 'comparison' | 'server'>;
