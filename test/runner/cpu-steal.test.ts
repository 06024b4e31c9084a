import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCpuSteal, ShardManifest } from '../../runtime/core/records/run-manifest.ts';
import { runBenchmark } from '../../runtime/runner/run.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { formatSummary } from '../../runtime/cli/table.ts';
import { formatSteal, openStealWindow, parseProcStat, readCpuTicks, stealShare, type CpuTicks } from '../../runtime/timing/cpu-steal.ts';
import { loopbackRunOptions } from '../helpers/scenario.ts';
import { useTempDirs } from '../support/temp-dir.ts';

// The first lines of a real /proc/stat (Linux 6.x): user nice system idle iowait irq softirq steal guest guest_nice.
const PROC_STAT = `cpu  4705 356 584 3699176 23060 0 277 3521 0 0
cpu0 1393 280 283 1849485 11395 0 183 1781 0 0
intr 1462898 31 9 0
`;

describe('CPU steal from /proc/stat', () => {
  it('reads the machine-wide cpu line: steal is the 8th field, the total the first eight (guest is inside user)', () => {
    expect(parseProcStat(PROC_STAT)).toEqual({ steal: 3521, total: 4705 + 356 + 584 + 3699176 + 23060 + 0 + 277 + 3521 });
  });

  it('is null for text that is not /proc/stat, or has too few or non-numeric fields', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('intr 1 2 3\ncpu  1 2 3 4 5 6 7 8')).toBeNull();
    expect(parseProcStat('cpu  1 2 3 4 5 6 7')).toBeNull();
    expect(parseProcStat('cpu  1 2 3 4 x 6 7 8')).toBeNull();
  });

  it('the share stolen between two readings; null without both or when no time passed', () => {
    expect(stealShare({ steal: 100, total: 1000 }, { steal: 350, total: 2000 })).toBe(0.25);
    expect(stealShare(null, { steal: 1, total: 2 })).toBeNull();
    expect(stealShare({ steal: 1, total: 2 }, null)).toBeNull();
    expect(stealShare({ steal: 1, total: 2 }, { steal: 1, total: 2 })).toBeNull();
  });

  it('reads a file, and is null where there is none (macOS has no /proc/stat)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ib-steal-'));
    try {
      writeFileSync(join(dir, 'stat'), PROC_STAT);
      expect(readCpuTicks(join(dir, 'stat'))).toEqual(parseProcStat(PROC_STAT));
      expect(readCpuTicks(join(dir, 'absent'))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a window measures from when it opened', () => {
    const readings: CpuTicks[] = [
      { steal: 10, total: 100 },
      { steal: 20, total: 200 },
      { steal: 70, total: 300 },
    ];
    const w = openStealWindow(() => readings.shift()!);
    expect(w.share()).toBe(0.1);
    expect(w.share()).toBe(0.3);
  });

  it('a run takes the worst of its shards (each its own machine), ignoring shards that could not read it', () => {
    const shard = (cpuSteal: number | null | undefined): ShardManifest => ({ v: 1, runId: 'r', shard: 0, shards: 3, scheduled: 1, sent: 1, records: 1, parts: [], partial: false, startedAt: '', endedAt: '', ...(cpuSteal === undefined ? {} : { cpuSteal }) });
    expect(runCpuSteal([shard(0.02), shard(null), shard(0.31), shard(undefined)])).toBe(0.31);
    expect(runCpuSteal([shard(null), shard(undefined)])).toBeNull();
    expect(runCpuSteal([shard(0)])).toBe(0);
  });

  it('reads as a person writes it', () => {
    expect(formatSteal(0.0123)).toBe('1.2 %');
    expect(formatSteal(0.3456)).toBe('35 %');
  });
});

const tempDir = useTempDirs();
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
});
afterAll(() => sim.close());

describe('a run records the CPU steal while it sent (real HTTP; the hypervisor\'s counters, which cannot be made to move here, are stand-ins)', () => {
  it('in its shard manifest and summary, and on the table\'s load line', async () => {
    const dir = join(await tempDir(), 'run');
    // One reading when the load starts, one when it ends: 125 of 1000 ticks stolen.
    const readings: CpuTicks[] = [
      { steal: 500, total: 10_000 },
      { steal: 625, total: 11_000 },
    ];
    const { summary } = await runBenchmark({ ...loopbackRunOptions(sim.url, dir, '20250101T020000Z-steal1', { load: { stages: [{ rate: 5, duration: 1 }] }, validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5, min_successes: 1 } }), cpuTicks: () => readings.shift() ?? null });
    expect(readings).toEqual([]);
    const manifest = ShardManifest.parse(JSON.parse(await readFile(join(dir, 'requests', 'shard-0000.json'), 'utf8')));
    expect(manifest.cpuSteal).toBe(0.125);
    expect(summary.load.cpuSteal).toBe(0.125);
    expect(formatSummary(summary)).toMatch(/^load: requested 5 req\/s, .*; CPU steal 13 %$/m);
  });

  it('from this machine\'s own /proc/stat by default: a share between 0 and 1 on Linux', async () => {
    const dir = join(await tempDir(), 'run');
    await runBenchmark(loopbackRunOptions(sim.url, dir, '20250101T020000Z-steal2', { load: { stages: [{ rate: 5, duration: 1 }] }, validity: { max_schedule_delay_p99_ms: 1000, max_rate_deviation: 0.5, min_successes: 1 } }));
    const manifest = ShardManifest.parse(JSON.parse(await readFile(join(dir, 'requests', 'shard-0000.json'), 'utf8')));
    if (process.platform === 'linux') {
      expect(manifest.cpuSteal).toBeGreaterThanOrEqual(0);
      expect(manifest.cpuSteal).toBeLessThanOrEqual(1);
    } else expect(manifest.cpuSteal).toBeNull();
  });
});
