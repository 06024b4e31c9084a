import type { RequestRecord } from '../records/record.ts';

/**
 * The six metrics, exactly as published. Tools disagree on these names (GuideLLM's
 * "ITL" is our tpot, llmperf's "ITL" is our ntpot), so each is defined here once, in ms. Output
 * tokens are the server's `usage.completion_tokens` when present, else the client's count.
 * The report, the dashboard's definitions text and the README table read these words.
 */
export const metricDefinitions = {
  ttft: 'first content-bearing event received − request sent',
  itl: 'gaps between consecutive content-bearing events, pooled over all requests',
  tpot: '(last content event − first content event) / (output tokens − 1)',
  ntpot: 'e2e / output tokens',
  e2e: 'last byte received − request sent',
  schedule_delay: 'request sent − request scheduled',
} as const;
export type MetricName = keyof typeof metricDefinitions;

export interface RequestMetrics {
  ttft: number | null;
  itl: number[];
  tpot: number | null;
  ntpot: number | null;
  e2e: number | null;
  scheduleDelay: number | null;
  outputTokens: number | null;
}

export function outputTokensOf(r: RequestRecord): number | null {
  return r.outputTokens.server ?? r.outputTokens.client;
}

/** Latency metrics of one successful request (schedule delay also for failures that were sent). */
export function requestMetrics(r: RequestRecord): RequestMetrics {
  const sent = r.sentAt;
  const scheduleDelay = sent !== null && r.scheduledAt !== null ? sent - r.scheduledAt : null;
  const outputTokens = outputTokensOf(r);
  if (sent === null || r.error !== null || r.doneAt === null) {
    return { ttft: null, itl: [], tpot: null, ntpot: null, e2e: null, scheduleDelay, outputTokens };
  }
  const times = r.contentTimes;
  const first = times[0];
  const last = times[times.length - 1];
  const itl: number[] = [];
  for (let i = 1; i < times.length; i++) itl.push(times[i]! - times[i - 1]!);
  const e2e = r.doneAt - sent;
  return {
    ttft: first !== undefined ? first - sent : null,
    itl,
    tpot: first !== undefined && last !== undefined && outputTokens !== null && outputTokens > 1 ? (last - first) / (outputTokens - 1) : null,
    ntpot: outputTokens !== null && outputTokens > 0 ? e2e / outputTokens : null,
    e2e,
    scheduleDelay,
    outputTokens,
  };
}
