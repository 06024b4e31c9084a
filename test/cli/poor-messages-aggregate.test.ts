import { mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeRecords, writeGzipLines, writeNativeRun } from '../../bench/support/generate.ts';
import { aggregateRun } from '../../runtime/aggregator/aggregate-run.ts';
import type { RunStore } from '../../runtime/core/ports/run-store.ts';
import type { Summary } from '../../runtime/core/summary/schema.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/**
 * Answers a new-user probe graded poor, for compare, history and aggregate: a user's mistake gets
 * one message naming the input, the problem and the right fix (exit 2), and a damaged run says its
 * damaged file first instead of blaming the runner. Each test names the input it tries.
 */

const runIdOf = (day: number): string => `2026010${day}T000000Z-day${day}`;

/** A results directory (`--out`) holding three runs, days 1–3, aggregated with history (as `run` leaves them). */
let results: string;
beforeAll(async () => {
  results = await tempDir();
  for (const day of [1, 2, 3]) {
    const runId = runIdOf(day);
    const { records } = nativeRecords({ requests: 20, tokens: 4, rate: 1, seed: day, runId });
    await writeNativeRun(join(results, runId), records, { shards: 1, tokens: 4, rate: 1, runId });
    const r = await cli(['aggregate', join(results, runId)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }
});

/** The one message: `error: <input>: <problem>\nFix: <fix>`, exit 2, nothing on stdout. */
function expectOneMessage(r: { code: number; stdout: string; stderr: string }, input: string): string {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.startsWith(`error: ${input}: `), r.stderr).toBe(true);
  expect(r.stderr.match(/^error:/gm)).toHaveLength(1);
  expect(r.stderr.match(/^Fix: /gm)).toHaveLength(1);
  return r.stderr;
}

describe('compare <results directory> names runs to compare, not aggregate', () => {
  it('compare <out dir holding three aggregated runs>: says it holds 3 runs and names the newest two', async () => {
    const msg = expectOneMessage(await cli(['compare', results]), results);
    expect(msg).toContain('is a results directory holding 3 runs, not a run');
    expect(msg).toContain(`\`inference-baseline compare ${join(results, runIdOf(3))}\` (the newest) or \`inference-baseline compare ${join(results, runIdOf(2))}\``);
    expect(msg).toContain(`\`inference-baseline history ${results}\``);
    expect(msg).not.toMatch(/aggregate/);
  });

  it('compare <out dir whose runs are not aggregated>: aggregate the newest run, then compare it', async () => {
    const out = await tempDir();
    for (const day of [1, 2]) {
      const runId = runIdOf(day);
      await writeNativeRun(join(out, runId), nativeRecords({ requests: 5, tokens: 2, runId }).records, { shards: 1, tokens: 2, runId });
    }
    const msg = expectOneMessage(await cli(['compare', out]), out);
    expect(msg).toContain('is a results directory holding 2 runs, not a run, and none of its runs is aggregated yet');
    expect(msg).toContain(`\`inference-baseline aggregate ${join(out, runIdOf(2))}\` and \`inference-baseline compare ${join(out, runIdOf(2))}\``);
    expect(msg).not.toContain(`aggregate ${out}\``);
  });
});

describe('history <one run directory> points at its parent', () => {
  it('history <out>/<runId>: one run\'s directory, history <out> instead; no "0 run(s)" and no skipped entries', async () => {
    const run = join(results, runIdOf(2));
    const r = await cli(['history', run]);
    const msg = expectOneMessage(r, run);
    expect(msg).toContain("is one run's directory (it holds run.json and summary.json), not a results directory");
    expect(msg).toContain(`Fix: pass its parent, the --out directory of \`run\`/\`workflow\`: \`inference-baseline history ${results}\``);
    expect(msg).not.toMatch(/unreadable|0 run\(s\)/);
  });

  it('history <out> still lists the series (the fix works)', async () => {
    const r = await cli(['history', results]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/series baseline \/ qwen3-8b — 3 run\(s\)/);
    expect(r.stdout).not.toContain('unreadable');
  });
});

describe('aggregate <a directory without a run> gives the local fix', () => {
  const localFix = "Fix: pass a run's own directory — <out>/<runId>, the directory `run`/`workflow` printed after \"results:\" (it holds run.json and requests/) — or an inference-perf output directory.\n";

  it('aggregate <empty directory>', async () => {
    const empty = await tempDir();
    const r = await cli(['aggregate', empty]);
    expect(r.stderr).toBe(`error: ${empty}: is empty: it holds no run (no run.json, no request records (requests/shard-*.ndjson.gz), no inference-perf per_request_lifecycle_metrics.json)\n${localFix}`);
    expect(r.code).toBe(2);
  });

  it('aggregate <directory of unrelated files>: not listed, no Job or S3 prefix in the fix', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'data.csv'), 'a,b');
    const r = await cli(['aggregate', dir]);
    expect(r.stderr).toBe(`error: ${dir}: holds 2 files but no run (no run.json, no request records (requests/shard-*.ndjson.gz), no inference-perf per_request_lifecycle_metrics.json)\n${localFix}`);
    expect(r.code).toBe(2);
  });

  it('aggregate <out dir holding three runs>: names the newest runs to aggregate', async () => {
    const msg = expectOneMessage(await cli(['aggregate', results]), results);
    expect(msg).toContain("is a results directory holding 3 runs, not a run: aggregate reads one run's files");
    expect(msg).toContain(`\`inference-baseline aggregate ${join(results, runIdOf(3))}\` (the newest) or \`inference-baseline aggregate ${join(results, runIdOf(2))}\``);
  });

  it('an empty s3:// prefix keeps the S3/Job wording (what the Aggregate step reports)', async () => {
    const store: RunStore = {
      location: 's3://results-bucket/runs/baseline/qwen3-8b/20260101T000000Z-abcdef/',
      list: async () => [],
      open: async () => {
        throw new Error('not read');
      },
      readText: async () => {
        throw new Error('not read');
      },
      writeDerived: async () => {
        throw new Error('not written');
      },
    };
    const err = (await aggregateRun(store).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('NoResults');
    expect(err.message).toBe(
      `${store.location}: is empty: no results were written there\nFix: check the run id and prefix (runs/<scenario>/<model>/<runId>/), and the load generator's logs: did the Job run and could it write there?`,
    );
  });
});

describe('aggregate <run with a truncated .gz shard>: the damaged file first, the runner not blamed', () => {
  /** 50 requests at 5 req/s over two shards (as two worker threads write them). */
  async function twoShardRun(): Promise<string> {
    const dir = join(await tempDir(), '20260101T000000Z-abcdef');
    await writeNativeRun(dir, nativeRecords({ requests: 50, tokens: 8, rate: 5, seed: 4 }).records, { shards: 2, tokens: 8, rate: 5 });
    return dir;
  }
  const summaryOf = async (dir: string): Promise<Summary> => JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as Summary;
  const runnerBlamed = /more CPU|in-flight cap|Run longer|could not keep its schedule|Check the runner's logs/;

  it('aggregate <run whose requests/shard-0000-0000.ndjson.gz is cut mid-stream>: exit 3, the file named first', async () => {
    const dir = await twoShardRun();
    const part = join(dir, 'requests', 'shard-0000-0000.ndjson.gz');
    await truncate(part, Math.floor((await stat(part)).size * 0.4));
    const r = await cli(['aggregate', dir, '--no-history']);
    expect(r.code, r.stderr).toBe(3);
    const { validity, requests } = await summaryOf(dir);
    expect(requests.sent).toBeLessThan(50);
    expect(validity.reasons[0]).toMatch(/^1 result file\(s\) could not be read to the end \(corrupt or truncated\).* First: requests\/shard-0000-0000\.ndjson\.gz: unreadable after line \d+/);
    expect(validity.reasons[1]).toMatch(
      /^Because of the damaged input above, the readable records hold \d+ of the 50 scheduled requests and an achieved rate of [\d.]+ req\/s against the scheduled 5 req\/s\. Records are missing, so these figures may be off for that reason alone; they do not show that the runner fell behind/,
    );
    expect(validity.reasons).toHaveLength(2);
    expect(validity.reasons.join('\n')).not.toMatch(runnerBlamed);
    expect(r.stdout.indexOf('shard-0000-0000.ndjson.gz')).toBeLessThan(r.stdout.indexOf('Because of the damaged input'));
  });

  it('aggregate <run whose shard file is cut between two gzip members (reads as valid gzip)>: found by its manifest count', async () => {
    const dir = await twoShardRun();
    // The runner's parts are gzip members back to back: a copy cut after one of them is valid gzip
    // with fewer records. Shard 0's part rewritten with its first 10 of 25 records stands for one.
    const part = join(dir, 'requests', 'shard-0000-0000.ndjson.gz');
    const lines = gunzipSync(await readFile(part)).toString('utf8').trimEnd().split('\n');
    await writeGzipLines(part, lines.slice(0, 10));
    const r = await cli(['aggregate', dir, '--no-history']);
    expect(r.code, r.stderr).toBe(3);
    const s = await summaryOf(dir);
    expect(s.input.badFiles).toBe(0);
    expect(s.input.problems).toEqual([{ file: 'requests/shard-0000-0000.ndjson.gz', problem: 'holds 10 record(s) where requests/shard-0000.json counts 25: cut short' }]);
    expect(s.validity.reasons[0]).toBe(
      "Shard 0's result file (requests/shard-0000-0000.ndjson.gz) holds 10 record(s) but its manifest (requests/shard-0000.json) counts 25: the file was cut short (a truncated copy or upload that still reads as valid gzip), so requests are missing from the numbers. Re-upload the file from the runner's copy or run again.",
    );
    expect(s.validity.reasons[1]).toMatch(/^Because of the damaged input above, the readable records hold 35 of the 50 scheduled requests/);
    expect(s.validity.reasons.join('\n')).not.toMatch(runnerBlamed);
    expect(r.stdout).toContain('input: 0 unreadable file(s), 0 bad record(s), 1 other problem(s) — see summary.json "input"');
  });

  it('aggregate <the same run, complete>: valid, so the reasons above come from the damage alone', async () => {
    const dir = await twoShardRun();
    const r = await cli(['aggregate', dir, '--no-history']);
    expect(r.code, r.stdout).toBe(0);
    expect((await summaryOf(dir)).validity.reasons).toEqual([]);
  });
});
