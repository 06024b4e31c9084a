import { readdir, readFile, symlink, truncate, unlink, writeFile, stat, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../runtime/core/metrics/latency-histogram.ts';
import { InputError, OperationFailed } from '../../runtime/core/errors.ts';
import { aggregateRun, writeOutputs } from '../../runtime/aggregator/aggregate-run.ts';
import { FsRunStore } from '../../runtime/aggregator/fs-run-store.ts';
import { exactPercentile, nativeRecords, writeGzipLines, writeNativeRun } from '../../bench/support/generate.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

const dir = (name: string): string => join(root, name);

/** HDR with 3 significant digits: a percentile is within 0.1 % (plus the 1 µs grid) of the exact value. */
function expectWithinHdr(actualMs: number | null, exactMs: number): void {
  expect(actualMs).not.toBeNull();
  expect(Math.abs(actualMs! - exactMs)).toBeLessThanOrEqual(exactMs * 0.001 + 0.0011);
}

describe('native runs', () => {
  it('percentiles agree with exact (numpy linear) percentiles within HDR precision on 100,000 requests', async () => {
    const { records, samples } = nativeRecords({ requests: 100_000, tokens: 4, rate: 50, seed: 11 });
    await writeNativeRun(dir('big'), records, { shards: 4, rate: 50, tokens: 4 });
    const { summary } = await aggregateRun(new FsRunStore(dir('big')));
    expect(summary.requests).toMatchObject({ scheduled: 100_000, sent: 100_000, succeeded: 100_000, failed: 0 });
    const check = (name: 'ttft' | 'e2e' | 'itl', values: number[]): void => {
      const sorted = [...values].sort((a, b) => a - b);
      const stats = summary.latency[name];
      expect(stats.count).toBe(values.length);
      for (const [key, p] of [['p50', 50], ['p90', 90], ['p95', 95], ['p99', 99], ['p999', 99.9]] as const) expectWithinHdr(stats[key], exactPercentile(sorted, p));
      expect(stats.min).toBeCloseTo(sorted[0]!, 3);
      expect(stats.max).toBeCloseTo(sorted.at(-1)!, 3);
      expect(stats.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 2);
    };
    check('ttft', samples.ttft);
    check('e2e', samples.e2e);
    check('itl', samples.itl);
    const sd = [...samples.scheduleDelay].sort((a, b) => a - b);
    expectWithinHdr(summary.load.schedule_delay.p99, exactPercentile(sd, 99));
    expect(summary.load.scheduleDelaySource).toBe('records');
    expect(summary.validity).toEqual({ valid: true, reasons: [], notes: [] });
  });

  it('a 10-shard run merges exactly like the same records in one shard', async () => {
    const { records } = nativeRecords({ requests: 20_000, tokens: 16, rate: 20, seed: 5, failEvery: 0 });
    await writeNativeRun(dir('one'), records, { shards: 1, rate: 20, tokens: 16 });
    await writeNativeRun(dir('ten'), records, { shards: 10, partsPerShard: 2, rate: 20, tokens: 16 });
    const one = await aggregateRun(new FsRunStore(dir('one')));
    const ten = await aggregateRun(new FsRunStore(dir('ten')));
    const { input: inOne, ...restOne } = one.summary;
    const { input: inTen, ...restTen } = ten.summary;
    expect(restTen).toEqual(restOne);
    expect(inOne.files).toBe(1);
    expect(inTen.files).toBe(20);
    expect(inTen.records).toBe(inOne.records);
    // The histograms themselves are identical, bucket for bucket.
    for (const name of Object.keys(one.histograms.metrics)) {
      const a = LatencyHistogram.decode(one.histograms.metrics[name]!);
      const b = LatencyHistogram.decode(ten.histograms.metrics[name]!);
      expect(b.stats()).toEqual(a.stats());
      expect(b.histogram.totalCount).toBe(a.histogram.totalCount);
    }
  });

  it("the run's CPU steal is the worst its shards recorded; manifests written before it was recorded give null", async () => {
    const { records } = nativeRecords({ requests: 300, tokens: 16, rate: 20, seed: 6, failEvery: 0 });
    await writeNativeRun(dir('steal'), records, { shards: 3, rate: 20, tokens: 16 });
    expect((await aggregateRun(new FsRunStore(dir('steal')))).summary.load.cpuSteal).toBeNull();
    for (const [shard, cpuSteal] of [[0, 0.02], [1, null], [2, 0.31]] as const) {
      const file = join(dir('steal'), 'requests', `shard-000${shard}.json`);
      await writeFile(file, JSON.stringify({ ...(JSON.parse(await readFile(file, 'utf8')) as object), cpuSteal }));
    }
    expect((await aggregateRun(new FsRunStore(dir('steal')))).summary.load.cpuSteal).toBe(0.31);
  });

  it('re-running gives byte-identical outputs and never touches raw files', async () => {
    const { records } = nativeRecords({ requests: 500, tokens: 8, seed: 3 });
    await writeNativeRun(dir('rerun'), records, { shards: 2, tokens: 8 });
    const rawBefore = await readFile(join(dir('rerun'), 'requests', 'shard-0000-0000.ndjson.gz'));
    const store = new FsRunStore(dir('rerun'));
    await writeOutputs(store, await aggregateRun(store));
    const first = await Promise.all(['summary.json', 'histograms.json', 'report.html'].map((f) => readFile(join(dir('rerun'), f), 'utf8')));
    await writeOutputs(store, await aggregateRun(store));
    const second = await Promise.all(['summary.json', 'histograms.json', 'report.html'].map((f) => readFile(join(dir('rerun'), f), 'utf8')));
    expect(second).toEqual(first);
    expect(await readFile(join(dir('rerun'), 'requests', 'shard-0000-0000.ndjson.gz'))).toEqual(rawBefore);
    await expect(store.writeDerived('run.json' as 'summary.json', '{}')).rejects.toThrow(/refusing to write run.json/);
  });
});

describe('bad native input', () => {
  it('an empty directory is NoResults, naming the location and the fix', async () => {
    await writeFile(join(root, 'placeholder'), '');
    const empty = await mkdtemp(join(root, 'empty-'));
    const err = await aggregateRun(new FsRunStore(empty)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).name).toBe('NoResults');
    expect((err as Error).message).toMatch(/is empty: it holds no run.*\nFix: pass a run's own directory/s);
  });

  it('shards without run.json is an InputError naming run.json', async () => {
    const { records } = nativeRecords({ requests: 10, tokens: 2 });
    await writeNativeRun(dir('norun'), records, { shards: 1, tokens: 2 });
    await unlink(join(dir('norun'), 'run.json'));
    await expect(aggregateRun(new FsRunStore(dir('norun')))).rejects.toThrow(/run\.json: is missing/);
  });

  it('a truncated shard, bad records and a missing shard are counted, named, and make the run invalid', async () => {
    const { records } = nativeRecords({ requests: 3000, tokens: 8, seed: 9 });
    await writeNativeRun(dir('bad'), records, { shards: 3, tokens: 8 });
    // Shard 1: cut the gzip file in half.
    const p1 = join(dir('bad'), 'requests', 'shard-0001-0000.ndjson.gz');
    await truncate(p1, Math.floor((await stat(p1)).size / 2));
    // Shard 2: rewrite with three bad lines among good ones.
    const mine = records.filter((r) => r.seq % 3 === 2).map((r) => ({ ...r, shard: 2 }));
    const lines = mine.map((r) => JSON.stringify(r));
    lines[5] = '{"v":1,"runId":';
    lines[6] = JSON.stringify({ ...mine[6], sentAt: -1 });
    lines[7] = JSON.stringify({ ...mine[7], doneAt: mine[7]!.sentAt! - 10 });
    await writeGzipLines(join(dir('bad'), 'requests', 'shard-0002-0000.ndjson.gz'), lines);
    // Shard 0's manifest is missing: it never finished.
    await unlink(join(dir('bad'), 'requests', 'shard-0000.json'));

    const { summary } = await aggregateRun(new FsRunStore(dir('bad')));
    expect(summary.input.badFiles).toBe(1);
    expect(summary.input.badRecords).toBe(3);
    expect(summary.input.problems.map((p) => `${p.file} ${p.where ?? ''}`)).toEqual(
      expect.arrayContaining([expect.stringMatching(/shard-0001-0000/), expect.stringMatching(/shard-0002-0000.ndjson.gz line 6/), expect.stringMatching(/shard-0000.json/)]),
    );
    expect(summary.run.partial).toBe(true);
    expect(summary.validity.valid).toBe(false);
    const reasons = summary.validity.reasons.join('\n');
    expect(reasons).toMatch(/could not be read to the end/);
    expect(reasons).toMatch(/3 request record\(s\) were malformed/);
    expect(reasons).toMatch(/never wrote their manifest \(shard 0\)/);
    expect(summary.requests.sent).toBeLessThan(3000);
  });

  it('zero successes is invalid with a reason, and the summary still describes the run', async () => {
    const { records } = nativeRecords({ requests: 50, tokens: 4, failEvery: 1 });
    await writeNativeRun(dir('allfail'), records, { shards: 1, tokens: 4 });
    const { summary } = await aggregateRun(new FsRunStore(dir('allfail')));
    expect(summary.requests).toMatchObject({ sent: 50, succeeded: 0, failed: 50, errors: { http_status: 50 } });
    expect(summary.latency.ttft.count).toBe(0);
    expect(summary.validity.valid).toBe(false);
    expect(summary.validity.reasons.join('\n')).toMatch(/No request succeeded/);
  });
});

describe('validity that means "a baseline"', () => {
  it('shards that ran 10 s apart: judged against the requested 2 req/s, not their own clocks, and the late shard is named', async () => {
    // 40 requests at 2 req/s over two shards; shard 1's pod started its schedule 10 s after shard 0's.
    const { records } = nativeRecords({ requests: 40, tokens: 4, rate: 2, seed: 5 });
    const late = records.map((r) => (r.seq % 2 === 1 ? shift(r, 10_000) : r));
    await writeNativeRun(dir('apart'), late, { shards: 2, rate: 2, tokens: 4 });
    const { summary } = await aggregateRun(new FsRunStore(dir('apart')));
    expect(summary.load.stages[0]!.scheduledRate).toBe(2);
    expect(summary.load.achievedRate).toBeLessThan(1.4);
    expect(summary.validity.valid).toBe(false);
    const text = summary.validity.reasons.join('\n');
    expect(text).toMatch(/achieved rate was [\d.]+ req\/s, [\d.]+ % off the scheduled 2 req\/s/);
    expect(text).toMatch(/The shards did not run together \(shard 1 started 10\.0 s after shard 0\)/);
  });

  it('a run of one successful request is not a baseline', async () => {
    const { records } = nativeRecords({ requests: 1, tokens: 4, rate: 1, seed: 6 });
    await writeNativeRun(dir('one'), records, { shards: 1, rate: 1, tokens: 4 });
    const { summary } = await aggregateRun(new FsRunStore(dir('one')));
    expect(summary.validity.valid).toBe(false);
    expect(summary.validity.reasons).toContain('Only 1 request(s) succeeded: a baseline needs at least 10 (p90 needs 10 samples, p99 100). Run longer or at a higher rate.');
    expect(summary.latency.ttft.insufficient).toEqual(['p50', 'p90', 'p95', 'p99', 'p999']);
  });
});

describe('raw data is never mixed', () => {
  it('refuses a run directory holding another run\'s shard, naming it', async () => {
    const { records } = nativeRecords({ requests: 10, tokens: 4, rate: 2, seed: 7 });
    await writeNativeRun(dir('mixed'), records, { shards: 2, rate: 2, tokens: 4 });
    const manifest = join(dir('mixed'), 'requests', 'shard-0001.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace(/"runId": "[^"]+"/, '"runId": "20250102T000000Z-other1"'));
    await expect(aggregateRun(new FsRunStore(dir('mixed')))).rejects.toThrow(/holds files of more than one run: run\.json is run \S+; requests\/shard-0001\.json belongs to run 20250102T000000Z-other1[\s\S]*Fix: aggregate each run from its own directory/);
  });
});

function shift<T extends { scheduledAt: number | null; sentAt: number | null; firstTokenAt: number | null; doneAt: number | null; contentTimes: number[] }>(r: T, ms: number): T {
  const add = (t: number | null): number | null => (t === null ? null : t + ms);
  return { ...r, scheduledAt: add(r.scheduledAt), sentAt: add(r.sentAt), firstTokenAt: add(r.firstTokenAt), doneAt: add(r.doneAt), contentTimes: r.contentTimes.map((t) => t + ms) };
}

describe('derived files are written whole or not at all', () => {
  it('a full disk (the temporary file is /dev/full) keeps the previous summary.json and says what to do', async () => {
    const dir = await tempDir();
    await writeNativeRun(dir, nativeRecords({ requests: 20, tokens: 4 }).records, { shards: 1, tokens: 4 });
    await writeFile(join(dir, 'summary.json'), '{"previous":true}');
    // writeDerived writes `<name>.<pid>.partial` and renames it: point that name at a device that is always full.
    await symlink('/dev/full', join(dir, `summary.json.${process.pid}.partial`));
    const store = new FsRunStore(dir);
    const err = await writeOutputs(store, await aggregateRun(store)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailed);
    expect((err as Error).message).toBe(
      `cannot write ${join(dir, 'summary.json')}: the disk is full (ENOSPC). The run's raw files are untouched and the previous summary.json (if any) is kept; fix that and run "inference-baseline aggregate ${dir}" again.`,
    );
    expect(await readFile(join(dir, 'summary.json'), 'utf8')).toBe('{"previous":true}');
    expect((await readdir(dir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
