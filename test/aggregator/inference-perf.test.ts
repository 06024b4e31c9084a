import {  } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { aggregateRun } from '../../runtime/aggregator/aggregate-run.ts';
import { FsRunStore } from '../../runtime/aggregator/fs-run-store.ts';
import { exactPercentile, writeInferencePerfRun } from '../../bench/support/generate.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

function expectWithinHdr(actualMs: number | null, exactMs: number): void {
  expect(actualMs).not.toBeNull();
  expect(Math.abs(actualMs! - exactMs)).toBeLessThanOrEqual(exactMs * 0.001 + 0.0011);
}

describe.each(['0.2.0', '0.6.1'] as const)('inference-perf v%s output', (version) => {
  it('aggregates thousands of records to the right numbers; schedule delay and rate from its summary files', async () => {
    const dir = join(root, `ok-${version}`);
    const gen = await writeInferencePerfRun(dir, { version, requests: 4000, tokens: 32, rate: 4, failEvery: 500, configAsJson: version === '0.6.1' });
    const { summary, report } = await aggregateRun(new FsRunStore(dir));

    expect(summary.run.runner.kind).toBe('inference-perf');
    expect(summary.run).toMatchObject({ model: 'qwen3-8b', target: 'http://qwen3-vllm.default:8000', streaming: true, partial: false });
    expect(summary.requests).toMatchObject({ scheduled: 4000, sent: 4000, succeeded: gen.succeeded, failed: 4000 - gen.succeeded, errors: { http_status: 8 } });
    for (const [name, values] of [['ttft', gen.samples.ttft], ['e2e', gen.samples.e2e], ['itl', gen.samples.itl]] as const) {
      const sorted = [...values].sort((a, b) => a - b);
      expect(summary.latency[name].count).toBe(values.length);
      for (const [key, p] of [['p50', 50], ['p90', 90], ['p99', 99]] as const) expectWithinHdr(summary.latency[name][key], exactPercentile(sorted, p));
    }
    // Schedule delay: inference-perf's own percentiles (its records have no scheduled time).
    const sd = [...gen.samples.scheduleDelay].sort((a, b) => a - b);
    expect(summary.load.scheduleDelaySource).toBe('inference-perf-summary');
    expect(summary.load.schedule_delay.count).toBe(4000);
    expect(summary.load.schedule_delay.p99).toBeCloseTo(exactPercentile(sd, 99), 2);
    expect(summary.load.schedule_delay.p50).toBeCloseTo(exactPercentile(sd, 50), 2);
    // Achieved rate: (n − 1) / send_duration from the stage file.
    expect(summary.load.stages[0]!.achievedRate).toBeCloseTo(4, 2);
    expect(summary.load.arrival).toBe('normalized-exponential');
    // perf_counter has no epoch: the end is anchored on the file's time, the start by the exact duration.
    expect(Date.parse(summary.run.endedAt!) - Date.parse(summary.run.startedAt!)).toBeCloseTo(summary.throughput.durationS! * 1000, -1);
    expect(report.timeline.t.length).toBeGreaterThan(100);
    expect(report.curves.schedule_delay).toBeUndefined();

    // Failed requests (8 of 4000) break the default zero-error rule; v0.2.0 also has no server usage.
    expect(summary.validity.valid).toBe(false);
    const reasons = summary.validity.reasons.join('\n');
    expect(reasons).toMatch(/8 of 4000 requests failed/);
    if (version === '0.2.0') expect(reasons).toMatch(/without the server's usage/);
    else expect(summary.validity.reasons).toHaveLength(1);
  });

  it('a missing summary file leaves schedule delay unknown and the run invalid', async () => {
    const dir = join(root, `nosummary-${version}`);
    await writeInferencePerfRun(dir, { version, requests: 300, tokens: 8, withoutSummary: true, prefix: 'raw/' });
    const { summary } = await aggregateRun(new FsRunStore(dir));
    expect(summary.load.scheduleDelaySource).toBe('unavailable');
    expect(summary.load.schedule_delay.count).toBe(0);
    expect(summary.validity.valid).toBe(false);
    expect(summary.validity.reasons.join('\n')).toMatch(/summary_lifecycle_metrics\.json is missing.*schedule delay/);
    expect(summary.input.problems).toContainEqual({ file: 'raw/summary_lifecycle_metrics.json', problem: 'missing' });
  });

  it('a truncated per-request file is reported (records before the cut are kept) and the run is invalid', async () => {
    const dir = join(root, `trunc-${version}`);
    const full = await writeInferencePerfRun(join(root, `full-${version}`), { version, requests: 1000, tokens: 8 });
    await writeInferencePerfRun(dir, { version, requests: 1000, tokens: 8, truncateAt: Math.floor(full.perRequestBytes * 0.6) });
    const { summary } = await aggregateRun(new FsRunStore(dir));
    expect(summary.input.badFiles).toBe(1);
    expect(summary.input.problems[0]).toMatchObject({ file: 'per_request_lifecycle_metrics.json', problem: expect.stringMatching(/not valid JSON after \d+ complete records/) });
    expect(summary.requests.sent).toBeGreaterThan(500);
    expect(summary.requests.sent).toBeLessThan(1000);
    expect(summary.validity.valid).toBe(false);
    expect(summary.validity.reasons.join('\n')).toMatch(/summary counted 1000 requests but its per-request file holds \d+ readable records/);
  });
});
