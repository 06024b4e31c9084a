import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunManifest, ShardManifest } from '../../runtime/core/records/index.ts';
import { pathToFileURL } from 'node:url';
import { startRunner } from '../../runtime/runner/start.ts';
import type { RunOptions, RunStatus } from '../../runtime/runner/types.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { BACKGROUND_NICE, currentThreadId, linuxThreads } from '../../runtime/timing/background-threads.ts';
import { readRecords } from '../helpers/records.ts';
import { loopbackRunOptions } from '../helpers/scenario.ts';
import { cli, EXIT } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle } from '../support/test-stack.ts';

// load.num_workers: worker threads in one runner (runtime/runner/workers.ts), over real HTTP. The
// threads run the runner bundle built once for this test run, as in a pod (from the sources each
// thread would first compile them through tsx, seconds per thread).

const tempDir = useTempDirs();
const RUN_ID = '20250101T020000Z-workrs';
let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function options(baseUrl: string, dir: string, load: Record<string, unknown>, interrupt = new AbortController().signal): RunOptions {
  return { ...loopbackRunOptions(baseUrl, dir, RUN_ID, { load }, interrupt), workerScript: pathToFileURL(runnerBundle()) };
}

describe('a runner with several workers (load.num_workers, worker threads; real time: one start for every thread)', () => {
  it('splits the schedule into one shard per worker on one time line: every request once, at its own offset from a shared start', async () => {
    sim = await startSimulator({ ttftMs: 5, itlMs: 1, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    const statuses: RunStatus[] = [];
    const files: string[] = [];
    const notes: string[] = [];
    const { summary, shards, partial } = await startRunner({
      ...options(sim.url, dir, { stages: [{ rate: 20, duration: 1 }], num_workers: 3 }),
      onStatus: (s) => statuses.push(s),
      onFileClosed: (rel) => files.push(rel),
      onNote: (line) => notes.push(line),
    });
    // Three workers on fewer CPUs are told about (they wait for each other); on three or more, not.
    const warned = notes.filter((n) => /^load\.num_workers is 3 but this machine gives the runner \d+ CPUs?: the workers will wait for each other/.test(n));
    expect(warned).toHaveLength(availableParallelism() < 3 ? 1 : 0);
    // The workers' identical notes are relayed once.
    expect(notes.filter((n) => n.startsWith('target ')).length).toBe(1);

    expect(partial).toBe(false);
    expect(shards.map((s) => [s.shard, s.shards, s.scheduled, s.sent])).toEqual([
      [0, 3, 7, 7],
      [1, 3, 7, 7],
      [2, 3, 6, 6],
    ]);
    const records = await readRecords(dir);
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const r of records) expect(r.shard).toBe(r.seq % 3);
    // One start for all workers: request seq is scheduled at start + seq × 50 ms, whichever thread sent it.
    const start = records.find((r) => r.seq === 0)!.scheduledAt!;
    for (const r of records) expect(r.scheduledAt! - start).toBeCloseTo(r.seq * 50, 6);
    expect(records.every((r) => r.error === null && r.sentAt! >= r.scheduledAt!)).toBe(true);

    // The runner's summary is all workers' records together.
    expect(summary.requests).toMatchObject({ scheduled: 20, sent: 20, succeeded: 20, failed: 0 });
    expect(summary.latency.ttft.count).toBe(20);
    expect(summary.input.files).toBe(3);
    // run.json once (shard 0), naming all three shards; a manifest per worker; every file announced once.
    const run = RunManifest.parse(JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')));
    expect(run).toMatchObject({ scheduled: 20, shards: 3 });
    const onDisk = (await readdir(join(dir, 'requests'))).sort();
    expect(onDisk).toEqual(['shard-0000-0000.ndjson.gz', 'shard-0000.json', 'shard-0001-0000.ndjson.gz', 'shard-0001.json', 'shard-0002-0000.ndjson.gz', 'shard-0002.json']);
    expect(files.sort()).toEqual(['config.yml', 'run.json', ...onDisk.map((f) => `requests/${f}`)].sort());
    for (const f of onDisk.filter((n) => /^shard-\d{4}\.json$/.test(n))) ShardManifest.parse(JSON.parse(await readFile(join(dir, 'requests', f), 'utf8')));
    // Status lines sum the workers.
    expect(statuses.at(-1)).toMatchObject({ phase: 'done', scheduled: 20, sent: 20, succeeded: 20, inFlight: 0 });
  });

  it.skipIf(!existsSync('/proc/thread-self'))('while the workers send, every thread of the process but the loops (the coordinator\'s and the two workers\') is at nice 19', async () => {
    sim = await startSimulator({ ttftMs: 5, itlMs: 1, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    const before = linuxThreads.nice(currentThreadId()!)!;
    const seen: Array<number | undefined>[] = [];
    const { summary } = await startRunner({
      ...options(sim.url, dir, { stages: [{ rate: 20, duration: 2 }], num_workers: 2 }),
      yieldThreads: true,
      onStatus: (s) => {
        if (s.phase === 'running') seen.push(linuxThreads.threads().map((t) => linuxThreads.nice(t)));
      },
    });
    expect(summary.requests.succeeded).toBe(40);
    expect(seen.length).toBeGreaterThan(0);
    // A test process started at nice 19 has nothing to tell apart.
    if (before === BACKGROUND_NICE) return;
    for (const nice of seen) {
      expect(nice.filter((n) => n === before)).toHaveLength(3);
      expect(nice.filter((n) => n === BACKGROUND_NICE).length).toBeGreaterThanOrEqual(4);
    }
    expect(linuxThreads.nice(currentThreadId()!)).toBe(before);
  });

  it('in pod 1 of 2, its workers take exactly that pod\'s slice (shards 1 and 3 of 4)', async () => {
    sim = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    const { summary, shards } = await startRunner({ ...options(sim.url, dir, { stages: [{ rate: 20, duration: 1 }], num_workers: 2 }), shard: { index: 1, count: 2 } });
    expect(shards.map((s) => [s.shard, s.shards])).toEqual([
      [1, 4],
      [3, 4],
    ]);
    const records = await readRecords(dir);
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(summary.requests.scheduled).toBe(10);
    // run.json belongs to shard 0, which is pod 0's.
    await expect(readFile(join(dir, 'run.json'))).rejects.toThrow(/ENOENT/);
  });

  it('a target that cannot be reached is one message, and nothing is created', async () => {
    const dir = join(await tempDir(), 'run');
    await expect(startRunner(options('http://127.0.0.1:9', dir, { num_workers: 2 }))).rejects.toThrow(/^--target: cannot reach http:\/\/127\.0\.0\.1:9/);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a directory that already holds results, and leaves it untouched', async () => {
    sim = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
    const dir = join(await tempDir(), 'run');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'run.json'), 'an earlier run\n');
    await expect(startRunner(options(sim.url, dir, { stages: [{ rate: 2, duration: 1 }], num_workers: 2 }))).rejects.toThrow(/already exists and is not empty/);
    expect(await readdir(dir)).toEqual(['run.json']);
    expect(await readFile(join(dir, 'run.json'), 'utf8')).toBe('an earlier run\n');
  });

  it('an interruption stops every worker; what was sent is written and the run is partial', async () => {
    sim = await startSimulator({ ttftMs: 20, itlMs: 40, jitterMs: 0 }); // ~0.6 s per request
    const dir = join(await tempDir(), 'run');
    const interrupt = new AbortController();
    const { summary, partial, shards } = await startRunner({
      ...options(sim.url, dir, { stages: [{ rate: 6, duration: 10 }], num_workers: 2 }, interrupt.signal),
      onStatus: () => setTimeout(() => interrupt.abort(), 200),
    });
    expect(partial).toBe(true);
    expect(shards.every((s) => s.partial)).toBe(true);
    expect(summary.requests.scheduled).toBe(60);
    expect(summary.requests.sent).toBeLessThan(60);
    expect(await readRecords(dir)).toHaveLength(summary.requests.sent);
  });
});

describe('run --workers (the CLI flag for load.num_workers)', () => {
  it('overrides the preset: two workers write two shards, and the aggregated summary counts every request', async () => {
    sim = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
    const out = await tempDir();
    // Ten requests: the fewest a run may plan (validity.min_successes), split over the two workers.
    const r = await cli(['run', '--target', sim.url, '--rate', '10', '--duration', '1', '--workers', '2', '--out', out, '--run-id', RUN_ID]);
    expect([EXIT.ok, EXIT.invalid], r.stderr).toContain(r.code);
    expect((await readdir(join(out, RUN_ID, 'requests'))).filter((f) => f.endsWith('.json')).sort()).toEqual(['shard-0000.json', 'shard-0001.json']);
    const summary = JSON.parse(await readFile(join(out, RUN_ID, 'summary.json'), 'utf8')) as { requests: { scheduled: number; succeeded: number } };
    expect(summary.requests).toMatchObject({ scheduled: 10, succeeded: 10 });
  });

  it('--workers 0 is one message naming the flag, exit 2, nothing created', async () => {
    const out = await tempDir();
    const r = await cli(['run', '--workers', '0', '--out', out]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/--workers.*must be a whole number from 1 to 64; got "0"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(out)).toEqual([]);
  });
});
