import type { ErrorType } from '../records/record.ts';
import type { Arrival } from '../scenario/resolve.ts';
import type { DistributionStats } from './histogram.ts';

/** Who ran, against what, where — everything that identifies a run apart from its numbers. */
export interface RunIdentity {
  runId: string;
  scenario: string;
  model: string;
  target: string;
  /** Availability zone of the load generator (null when unknown, e.g. local runs). */
  zone: string | null;
  runner: { kind: 'native' | 'inference-perf'; version: string };
  api: 'completion' | 'chat';
  streaming: boolean;
}

/** What the scenario asked of the load and the rules for a valid baseline. */
export interface RunRequest {
  arrival: Arrival;
  stages: Array<{ rate: number; duration: number }>;
  ignoreEos: boolean;
  validity: { maxScheduleDelayP99Ms: number; maxRateDeviation: number; maxErrorRate: number };
}

export interface StageLoad {
  stage: number;
  requestedRate: number;
  /** The rate of the drawn schedule: equal to requestedRate for even arrivals. */
  scheduledRate: number | null;
  achievedRate: number | null;
  sent: number;
  sendDurationS: number | null;
}

/** `summary.json` (DESIGN.md §3). Durations in ms, rates per second, times ISO-8601 UTC. */
export interface Summary {
  v: 1;
  run: RunIdentity & { startedAt: string | null; endedAt: string | null; partial: boolean };
  requests: {
    scheduled: number;
    sent: number;
    succeeded: number;
    failed: number;
    errors: Partial<Record<ErrorType, number>>;
  };
  load: {
    arrival: Arrival;
    requestedRate: number;
    achievedRate: number | null;
    sendDurationS: number | null;
    stages: StageLoad[];
    schedule_delay: DistributionStats;
  };
  latency: {
    ttft: DistributionStats;
    itl: DistributionStats;
    tpot: DistributionStats;
    ntpot: DistributionStats;
    e2e: DistributionStats;
  };
  throughput: {
    durationS: number | null;
    requestsPerS: number | null;
    inputTokensPerS: number | null;
    outputTokensPerS: number | null;
  };
  tokens: {
    inputTokens: number;
    outputTokens: number;
    /** Successes whose server prompt_tokens differ from the requested prompt length. */
    inputMismatches: number;
    /** Successes whose server completion_tokens differ from max_tokens (checked when ignore_eos). */
    outputMismatches: number;
    /** Successes where the client's content-event count differs from the server's completion_tokens. */
    clientServerOutputMismatches: number;
    /** Successes without a usage object from the server. */
    missingServerUsage: number;
  };
  validity: { valid: boolean; reasons: string[] };
}
