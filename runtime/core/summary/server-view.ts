import type { DistributionStats } from '../metrics/latency-histogram.ts';
import { serverDistributionNames, type ServerAccount, type ServerDistribution, type ServerDistributionName } from './server-account.ts';

/**
 * How the server's account reads beside the client's numbers, in words both the terminal table and
 * report.html use: one source for the sentences, so the two never say different things.
 */

/** One row of the server-side table: the distribution, and the client's of the same name where there is one. */
export interface ServerRow {
  readonly name: ServerDistributionName;
  readonly server: ServerDistribution;
  readonly client: DistributionStats | null;
}

/** The server-side distributions it has, with the client's TTFT and e2e beside them. */
export function serverRows(server: ServerAccount, client: { ttft: DistributionStats; e2e: DistributionStats }): ServerRow[] {
  return serverDistributionNames.flatMap((name) => {
    const d = server[name];
    if (d === null) return [];
    return [{ name, server: d, client: name === 'ttft' ? client.ttft : name === 'e2e' ? client.e2e : null }];
  });
}

/** `12.5` or `12.5–40` (ms) for a percentile's bucket; `≥ 60000` for the +Inf bucket. */
export function bucketText(bucket: readonly [number, number | null] | null): string {
  if (bucket === null) return '–';
  if (bucket[1] === null) return `≥ ${fmt(bucket[0])}`;
  return bucket[0] === bucket[1] ? fmt(bucket[0]) : `${fmt(bucket[0])}–${fmt(bucket[1])}`;
}

/**
 * "of TTFT p50 41.2 ms, the server accounts for 38.9 ms (38.1–40 ms by its histogram)": where the
 * user's wait went, server or path. Null without both numbers. The server's number is an
 * interpolation within bounds (server-metrics/account.ts), so the bounds are given with it.
 */
export function ttftShare(server: ServerAccount | null, clientTtft: DistributionStats): string | null {
  const s = server?.ttft;
  if (!s || s.p50 === null || clientTtft.p50 === null) return null;
  const within = s.bounds.p50 && s.bounds.p50[0] !== s.bounds.p50[1] ? ` (${bucketText(s.bounds.p50)} ms by its histogram)` : '';
  return `of TTFT p50 ${fmt(clientTtft.p50)} ms, the server accounts for ${fmt(s.p50)} ms${within}`;
}

/** The account's first line: what was scraped and what it saw. */
export function serverHeadline(server: ServerAccount): string {
  const { scraped, requests, prefixCache } = server;
  const n = scraped.endpoints.length;
  const parts = [`${n} replica${n === 1 ? '' : 's'} scraped (${scraped.scrapes} scrapes, ${scraped.failed} failed${scraped.complete ? '' : ', incomplete'})`];
  parts.push(requests.seen === null ? `requests seen: unknown, ${requests.ours} ours` : `${requests.seen} requests seen, ${requests.ours} ours, ${requests.foreign} foreign`);
  if (prefixCache) parts.push(`prefix cache ${prefixCache.hitRate === null ? '–' : `${(prefixCache.hitRate * 100).toFixed(1)} %`} of ${prefixCache.queries} prompt tokens`);
  return parts.join('; ');
}

function fmt(x: number): string {
  if (Math.abs(x) >= 100) return x.toFixed(1);
  if (Math.abs(x) >= 1) return x.toFixed(2).replace(/\.?0+$/, '');
  return Number(x.toPrecision(3)).toString();
}
