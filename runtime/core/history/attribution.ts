import { z } from 'zod';
import type { Comparison } from '../summary/comparison.ts';

type MetricChange = Comparison['metrics'][number];
import type { ServerAccount } from '../summary/server-account.ts';

/**
 * Whose a TTFT change is: the server's, or the path's (network, load balancer, proxy, the
 * server's HTTP front end before the engine). The client's TTFT p50 moved by Δc against its
 * baseline; the server's own TTFT p50 (its histogram, summary.server.ttft) moved by Δs against the
 * same runs'. Most of Δc in Δs: the server's. Little of it, with buckets fine enough to have shown
 * it: the path's. Buckets as wide as the change: not said, since an interpolation inside one
 * bucket cannot move with the data.
 */

/** A run's server-side TTFT p50 and the bucket it fell in (ms), as the history keeps it. */
export const ServerTtft = z.object({ p50: z.number(), bucket: z.tuple([z.number(), z.number().nullable()]) });
export type ServerTtft = z.infer<typeof ServerTtft>;

export function serverTtftOf(server: ServerAccount | null | undefined): ServerTtft | null {
  const t = server?.ttft;
  return t && t.p50 !== null && t.bounds.p50 !== null ? { p50: t.p50, bucket: t.bounds.p50 } : null;
}

/** The share of Δc the server's Δs must carry for the change to be called the server's. */
const SERVER_SHARE = 0.5;

/**
 * One sentence on whose the run's TTFT p50 change is, or null: no TTFT p50 verdict of regressed or
 * improved, or a server-side TTFT missing for the run or any baseline run.
 */
export function ttftAttribution(change: Pick<MetricChange, 'metric' | 'verdict' | 'value' | 'baseline'> | undefined, run: ServerTtft | null, baseline: ReadonlyArray<ServerTtft | null>): string | null {
  if (!change || (change.verdict !== 'regressed' && change.verdict !== 'improved') || change.value === null || change.baseline === null) return null;
  if (run === null || baseline.length === 0 || baseline.some((b) => b === null)) return null;
  const runs = baseline as readonly ServerTtft[];
  const clientDelta = change.value - change.baseline;
  const serverDelta = run.p50 - runs.reduce((sum, b) => sum + b.p50, 0) / runs.length;
  const widths = [run, ...runs].map((b) => (b.bucket[1] === null ? Number.POSITIVE_INFINITY : b.bucket[1] - b.bucket[0]));
  const widest = Math.max(...widths);
  const moved = `the server's own TTFT p50 moved ${signed(serverDelta)} ms of the client's ${signed(clientDelta)} ms`;
  if (clientDelta !== 0 && serverDelta / clientDelta >= SERVER_SHARE) return `the TTFT change is the server's: ${moved}`;
  if (widest <= Math.abs(clientDelta) * SERVER_SHARE) return `the TTFT change is the path's (network, proxy, the server's front end), not the engine's: ${moved}`;
  return `whose the TTFT change is cannot be told: ${moved}, but its histogram's buckets (up to ${Number.isFinite(widest) ? `${fmt(widest)} ms` : 'unbounded'} wide) are too coarse to show a change of this size`;
}

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x))}`;
