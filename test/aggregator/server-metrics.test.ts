import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsRunStore } from '../../runtime/aggregator/fs-run-store.ts';
import { readServerAccount } from '../../runtime/aggregator/server-metrics.ts';
import { SERVER_METRICS_FILE } from '../../runtime/core/run-layout.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * The aggregator's side of the seam: the runner's `server-metrics.ndjson` as it writes it, read
 * back from a run directory, with "ours" counted over the scraped window.
 */
const tempDir = useTempDirs();

/** A vLLM exposition with `finished` successful requests of model m. */
const vllm = (finished: number): string =>
  [
    '# HELP vllm:request_success_total Count of successfully processed requests.',
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} ${finished}.0`,
    '',
  ].join('\n');

async function runDir(lines: string[]): Promise<{ store: FsRunStore; keys: Set<string> }> {
  const dir = await tempDir();
  await writeFile(join(dir, SERVER_METRICS_FILE), lines.join('\n'));
  return { store: new FsRunStore(dir), keys: new Set([SERVER_METRICS_FILE]) };
}

const scrape = (phase: string, at: number, text: string): string => JSON.stringify({ endpoint: 'http://10.0.0.7:8000/metrics', phase, at, text });

describe('readServerAccount: ours over the scraped window', () => {
  it("counts the run's successes inside the window, and other pods' probes and warm-ups answered inside it, as ours", async () => {
    // 1000 → 2000 ms window; the server finished 7 requests in it: 4 successes of the run, another
    // pod's probe and warm-up (2), and one success of the run that ended after the window (not in the delta).
    const { store, keys } = await runDir([scrape('before', 1000, vllm(3)), scrape('during', 1500, vllm(5)), scrape('after', 2000, vllm(9))]);
    const account = await readServerAccount(store, keys, { successDoneAt: [1100, 1200, 1300, 1900, 2100], preflightDoneAt: [500, 900, 1400, 1450] }, 'm');
    expect(account?.requests).toMatchObject({ ours: 6, seen: 6, foreign: 0 });
  });

  it('a line that is not a scrape is skipped and said; no file means no account', async () => {
    const { store, keys } = await runDir([scrape('before', 1000, vllm(0)), '{"truncated": ', scrape('after', 2000, vllm(2))]);
    const account = await readServerAccount(store, keys, { successDoneAt: [1500, 1600], preflightDoneAt: [] }, 'm');
    expect(account?.requests).toMatchObject({ ours: 2, seen: 2, foreign: 0 });
    expect(account?.notes).toContain(`1 line(s) of ${SERVER_METRICS_FILE} were not scrapes and were skipped.`);
    expect(await readServerAccount(store, new Set(), { successDoneAt: [], preflightDoneAt: [] }, 'm')).toBeNull();
  });
});
