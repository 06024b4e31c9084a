import { SERVER_METRICS_FILE } from '../core/run-layout.ts';
import type { RunStore } from '../core/ports/run-store.ts';
import { serverAccount } from '../core/server-metrics/account.ts';
import { Scrape, type ServerAccount } from '../core/summary/server-account.ts';

/**
 * The server's account of a run from the scrapes the runner kept (`server-metrics.ndjson`): null
 * when none were taken. "Ours" are the run's successes whose last byte came inside the scraped
 * window — all of them for one runner; with several pods, a pod still finishing after runner 0's
 * last scrape has its late requests outside the window, as the server's counters do — and the
 * shards' own probes and warm-ups answered inside it (another pod's can come after runner 0's first
 * scrape; runner 0's own come before it).
 */
export async function readServerAccount(store: RunStore, keys: ReadonlySet<string>, done: { successDoneAt: readonly number[]; preflightDoneAt: readonly number[] }, model: string): Promise<ServerAccount | null> {
  if (!keys.has(SERVER_METRICS_FILE)) return null;
  const scrapes: Scrape[] = [];
  let skipped = 0;
  for (const line of (await store.readText(SERVER_METRICS_FILE)).split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed = Scrape.safeParse(JSON.parse(line));
      if (parsed.success) scrapes.push(parsed.data);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  const from = Math.min(...scrapes.filter((s) => s.phase === 'before').map((s) => s.at));
  const to = Math.max(...scrapes.filter((s) => s.phase === 'after').map((s) => s.at));
  const windowed = Number.isFinite(from) && Number.isFinite(to);
  const inside = (t: number): boolean => t >= from && t <= to;
  const ours = windowed ? done.successDoneAt.filter(inside).length + done.preflightDoneAt.filter(inside).length : done.successDoneAt.length;
  const account = serverAccount({ scrapes, ours, model });
  if (skipped > 0) account.notes.push(`${skipped} line(s) of ${SERVER_METRICS_FILE} were not scrapes and were skipped.`);
  return account;
}
