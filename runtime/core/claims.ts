import { z } from 'zod';
import { keySegment } from './run-layout.ts';

/**
 * Exclusive runs: at most one benchmark run measures a target at a time (two at once each measure
 * the other's load, and neither knows). A run claims its target before anything is created — one S3
 * object per target, written only if absent — and releases it when it ends. A claim carries its
 * expiry (the run's start + the workflow timeout + a margin): a run that died without releasing it
 * blocks the next one no longer than that. The decisions are here; runtime/aws/claims.ts does the I/O.
 */

export const CLAIMS_PREFIX = 'claims/';

export const Claim = z.object({
  v: z.literal(1),
  target: z.string(),
  runId: z.string(),
  executionId: z.string(),
  claimedAt: z.string(),
  expiresAt: z.string(),
});
export type Claim = z.infer<typeof Claim>;

/** `claims/<target as one key segment>.json`: one object per target base URL. */
export function claimKey(targetBaseUrl: string): string {
  return `${CLAIMS_PREFIX}${keySegment(targetBaseUrl.replace(/^https?:\/\//, '').replace(/\/+$/, ''))}.json`;
}

/** How long past the execution's timeout a dead run's claim still blocks (the reaper releases it before). */
export const CLAIM_MARGIN_SECONDS = 900;

export function newClaim(o: { target: string; runId: string; executionId: string; nowMs: number; workflowTimeoutSeconds: number }): Claim {
  return {
    v: 1,
    target: o.target,
    runId: o.runId,
    executionId: o.executionId,
    claimedAt: new Date(o.nowMs).toISOString(),
    expiresAt: new Date(o.nowMs + (o.workflowTimeoutSeconds + CLAIM_MARGIN_SECONDS) * 1000).toISOString(),
  };
}

/** What an existing claim means for a run that wants the target. */
export function judgeClaim(existing: Claim, executionId: string, nowMs: number): 'ours' | 'expired' | 'held' {
  if (existing.executionId === executionId) return 'ours';
  return Date.parse(existing.expiresAt) <= nowMs ? 'expired' : 'held';
}
