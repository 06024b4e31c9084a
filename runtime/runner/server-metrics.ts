import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { SERVER_METRICS_FILE } from '../core/run-layout.ts';
import type { Scrape } from '../core/summary/server-account.ts';
import type { Clock } from '../timing/clock.ts';

/**
 * The server's Prometheus endpoints, read around the load: once just before the first measured
 * request (after the warm-up, whose requests must not count), every 10 s while sending, once after
 * the last response. Each answer is kept raw, one JSON line per scrape in `server-metrics.ndjson`
 * (the aggregator computes the account from them: core/server-metrics), so nothing is lost to a
 * parser's mistake. Scraping never stops or delays the run: its own connections (not the load's),
 * a short timeout, and a failure is a line saying why.
 */

export const SCRAPE_INTERVAL_MS = 10_000;
const SCRAPE_TIMEOUT_MS = 5_000;
/** An exposition larger than this is cut off (vLLM's is ~100 KB with a few models). */
const MAX_TEXT = 8 * 1024 * 1024;

export interface MetricsWindowOptions {
  urls: readonly string[];
  outDir: string;
  clock: Clock;
  onFileClosed?: (rel: string) => void;
  intervalMs?: number;
}

export class ServerMetricsWindow {
  /**
   * The window of the runner that scrapes, or none: shard 0 of the run scrapes (one writer of
   * server-metrics.ndjson), and only when there are endpoints to read.
   */
  static forShard(o: { shard: { index: number }; metricsUrls?: readonly string[]; outDir: string; onFileClosed?: (rel: string) => void }, clock: Clock): ServerMetricsWindow | undefined {
    if (o.shard.index !== 0 || !o.metricsUrls || o.metricsUrls.length === 0) return undefined;
    return new ServerMetricsWindow({ urls: o.metricsUrls, outDir: o.outDir, clock, ...(o.onFileClosed ? { onFileClosed: o.onFileClosed } : {}) });
  }

  private readonly agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private writes: Promise<void> = Promise.resolve();
  private readonly file: string;

  constructor(private readonly o: MetricsWindowOptions) {
    this.file = join(o.outDir, SERVER_METRICS_FILE);
  }

  /** The `before` scrape, then one every interval until `close`. */
  async open(): Promise<void> {
    await this.scrapeAll('before');
    this.timer = setInterval(() => void this.scrapeAll('during'), this.o.intervalMs ?? SCRAPE_INTERVAL_MS);
    this.timer.unref();
  }

  /** The `after` scrape; the file is complete when this resolves. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.scrapeAll('after');
    await this.writes;
    await this.agent.close();
    this.o.onFileClosed?.(SERVER_METRICS_FILE);
  }

  /** Stops without the `after` scrape (an interrupted or failed run): what was scraped stays. */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.writes;
    await this.agent.destroy();
  }

  private async scrapeAll(phase: Scrape['phase']): Promise<void> {
    const scrapes = await Promise.all(this.o.urls.map((url) => this.scrape(url, phase)));
    const text = scrapes.map((s) => `${JSON.stringify(s)}\n`).join('');
    this.writes = this.writes.then(() => appendFile(this.file, text)).catch(() => undefined);
    await this.writes;
  }

  private async scrape(endpoint: string, phase: Scrape['phase']): Promise<Scrape> {
    try {
      const res = await request(endpoint, {
        dispatcher: this.agent,
        headers: { accept: 'text/plain;version=0.0.4' },
        headersTimeout: SCRAPE_TIMEOUT_MS,
        bodyTimeout: SCRAPE_TIMEOUT_MS,
        signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
      });
      const text = await res.body.text();
      const at = this.o.clock();
      if (res.statusCode !== 200) return { endpoint, phase, at, error: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` };
      return { endpoint, phase, at, text: text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text };
    } catch (err) {
      const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      return { endpoint, phase, at: this.o.clock(), error: `${e.code ?? e.cause?.code ?? 'error'}: ${e.cause?.message ?? e.message ?? String(err)}` };
    }
  }
}

/** The metrics URL of a server when none is named: its base URL's `/metrics` (vLLM, SGLang, TGI serve it there). */
export function defaultMetricsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/metrics`;
}

/** Where the run reads the server's metrics, from the command line: the URLs and why, if they are a fallback. */
export interface MetricsPlan {
  urls: string[];
  note?: string;
}

/**
 * The metrics endpoints a run scrapes: `--metrics-url`s when given; else, in the Job, every replica
 * the workflow found (`--metrics-targets`: a JSON array of pod IPs, with `--metrics-port` and
 * `--metrics-path`); else the target's own `/metrics`. A targets file that is missing, empty or
 * unreadable does not stop a run (the workflow's list is a courtesy, the load is the product): the
 * run falls back to the target, which reaches one replica per connection, and says so.
 */
export function planMetricsUrls(input: {
  baseUrl: string;
  metricsUrls?: readonly string[];
  disabled?: boolean;
  targets?: { file: string; text: string | null; port: number; path: string };
}): MetricsPlan {
  if (input.disabled) return { urls: [] };
  if (input.metricsUrls && input.metricsUrls.length > 0) return { urls: [...input.metricsUrls] };
  const fallback = defaultMetricsUrl(input.baseUrl);
  const t = input.targets;
  if (!t) return { urls: [fallback] };
  const ips = podIps(t.text);
  if (typeof ips === 'string') {
    return { urls: [fallback], note: `metrics: ${t.file} ${ips}: scraping ${fallback} instead, which reaches one replica at a time (foreign load on the others goes unseen)` };
  }
  const path = t.path.startsWith('/') ? t.path : `/${t.path}`;
  return { urls: [...new Set(ips)].map((ip) => `http://${ip.includes(':') ? `[${ip}]` : ip}:${t.port}${path}`) };
}

/** The pod IPs of a targets file, or what is wrong with it. */
function podIps(text: string | null): string[] | string {
  if (text === null) return 'was not there';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  if (!Array.isArray(parsed) || !parsed.every((ip) => typeof ip === 'string' && /^[0-9a-fA-F.:]+$/.test(ip))) return 'is not a list of pod IPs';
  if (parsed.length === 0) return 'lists no running replica';
  return parsed as string[];
}
