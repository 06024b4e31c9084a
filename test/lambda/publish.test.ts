import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEmf, type EmfDocument } from '../../runtime/aws/emf.ts';
import { runDimensions, runMetricValues } from '../../runtime/core/summary/published.ts';
import type { Summary } from '../../runtime/core/summary/schema.ts';
import { publishRun } from '../../runtime/lambda/publish.ts';
import { seedRunSpec } from '../core/run-spec-fixture.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';

const stats = (p50: number) => ({ count: 300, mean: p50, min: p50 / 2, p50, p90: p50 * 1.2, p95: p50 * 1.3, p99: p50 * 1.5, p999: p50 * 2, max: p50 * 3, insufficient: ['p999' as const] });
const empty = { count: 0, mean: null, min: null, p50: null, p90: null, p95: null, p99: null, p999: null, max: null, insufficient: [] };

function summary(over: Partial<Summary> = {}): Summary {
  return {
    v: 1,
    run: { runId: '20250101T020000Z-ab12cd', scenario: 'baseline', model: 'qwen3-8b', target: 'http://x', zone: 'us-west-2a', runner: { kind: 'native', version: '0.1.0' }, api: 'completion', streaming: true, startedAt: '2025-01-01T02:00:00.000Z', endedAt: '2025-01-01T02:05:00.500Z', partial: false },
    requests: { scheduled: 300, sent: 300, succeeded: 297, failed: 3, errors: { timeout: 3 }, errorMessages: [{ type: 'timeout', status: 200, message: 'no event for 300 s', count: 3 }] },
    load: { arrival: 'even', requestedRate: 1, achievedRate: 1.0001, sendDurationS: 299, stages: [], schedule_delay: stats(0.2), scheduleDelaySource: 'records', seed: { value: 7, from: 'run-id' }, cpuSteal: 0.012 },
    latency: { ttft: stats(40), itl: stats(12), tpot: stats(12.5), ntpot: stats(15), e2e: stats(1600) },
    throughput: { durationS: 300.5, requestsPerS: 0.99, inputTokensPerS: 505, outputTokensPerS: 126.5 },
    tokens: { inputTokens: 152064, outputTokens: 38016, inputMismatches: 0, outputMismatches: 0, clientServerOutputMismatches: 0, missingServerUsage: 0 },
    input: { source: 'native', files: 1, records: 300, badRecords: 0, badFiles: 0, problems: [], omittedProblems: 0 },
    validity: { valid: false, reasons: ['3 of 300 requests failed'], notes: [] },
    context: null,
    comparison: null,
    server: null,
    ...over,
  };
}

/** The EMF specification's rules, checked on the object. */
function expectValidEmf(doc: EmfDocument): void {
  expect(Number.isInteger(doc._aws.Timestamp)).toBe(true);
  expect(doc._aws.CloudWatchMetrics.length).toBeGreaterThan(0);
  for (const d of doc._aws.CloudWatchMetrics) {
    expect(d.Metrics.length).toBeLessThanOrEqual(100);
    expect(d.Dimensions.length).toBeGreaterThan(0);
    for (const set of d.Dimensions) {
      expect(set.length).toBeLessThanOrEqual(30);
      for (const dim of set) expect(typeof doc[dim]).toBe('string');
    }
    const names = d.Metrics.map((m) => m.Name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of d.Metrics) {
      expect(typeof doc[m.Name]).toBe('number');
      expect(Number.isFinite(doc[m.Name] as number)).toBe(true);
      expect(['Milliseconds', 'Count', 'Percent', 'Count/Second']).toContain(m.Unit);
    }
  }
}

describe('EMF for a run', () => {
  it('builds one directive: namespace, [Model, Scenario] dimensions only, ms percentiles, counts, rates, RunValid, run-end timestamp', () => {
    const doc = buildEmf(summary(), { namespace: 'Test/Baseline', dimensions: runDimensions(summary().run) });
    expectValidEmf(doc);
    const directive = doc._aws.CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe('Test/Baseline');
    expect(directive.Dimensions).toEqual([['Model', 'Scenario']]);
    expect(doc).not.toHaveProperty('service');
    expect(doc.Model).toBe('qwen3-8b');
    expect(doc.Scenario).toBe('baseline');
    expect(doc._aws.Timestamp).toBe(Date.parse('2025-01-01T02:05:00.500Z'));
    const unit = Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit]));
    for (const m of ['ttft', 'itl', 'tpot', 'ntpot', 'e2e', 'schedule_delay']) {
      for (const p of ['p50', 'p90', 'p99']) expect(unit[`${m}_${p}`]).toBe('Milliseconds');
    }
    expect(unit).toMatchObject({ requests_sent: 'Count', requests_succeeded: 'Count', requests_failed: 'Count', error_rate: 'Percent', achieved_rate: 'Count/Second', output_tokens_per_s: 'Count/Second', RunValid: 'Count', cpu_steal: 'Percent' });
    expect(directive.Metrics).toHaveLength(26);
    expect(doc).toMatchObject({ ttft_p99: 60, requests_failed: 3, error_rate: 1, RunValid: 0, achieved_rate: 1.0001, cpu_steal: 1.2 });
  });

  it('leaves out percentiles with too few samples to stand for what they name (p99 of 50 requests is their maximum)', () => {
    const few = { ...stats(40), count: 50, insufficient: ['p99' as const, 'p999' as const] };
    const s = summary({ latency: { ttft: few, itl: stats(12), tpot: few, ntpot: few, e2e: few } });
    const names = runMetricValues(s).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['ttft_p50', 'ttft_p90', 'itl_p99']));
    expect(names).not.toContain('ttft_p99');
    expect(names).not.toContain('e2e_p99');
  });

  it('leaves out values the run does not have instead of sending 0 or NaN', () => {
    const s = summary({ latency: { ttft: empty, itl: empty, tpot: empty, ntpot: empty, e2e: empty }, requests: { scheduled: 10, sent: 10, succeeded: 0, failed: 10, errors: { connect: 10 }, errorMessages: [] } });
    const names = runMetricValues(s).map((m) => m.name);
    expect(names).not.toContain('ttft_p50');
    expect(names).toContain('schedule_delay_p99');
    // No /proc/stat where the runner ran (or an inference-perf run): no CPU steal sent.
    expect(runMetricValues(summary({ load: { ...summary().load, cpuSteal: null } })).map((m) => m.name)).not.toContain('cpu_steal');
    const doc = buildEmf(s, { dimensions: runDimensions(s.run) });
    expectValidEmf(doc);
    expect(doc).toMatchObject({ error_rate: 100, RunValid: 0 });
  });
});

describe('Publish Lambda', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3('results-bucket');
  });
  afterAll(async () => {
    await s3.stop();
  });

  it('reads the summary Aggregate wrote and publishes its metrics', async () => {
    const spec = seedRunSpec();
    await s3.client.send(new PutObjectCommand({ Bucket: spec.s3.bucket, Key: spec.s3.summaryKey, Body: JSON.stringify(summary()) }));
    const published: Array<[Summary, { namespace: string; dimensions: Record<string, string> }]> = [];
    const out = await publishRun(
      { runSpec: spec, aggregate: { summaryKey: spec.s3.summaryKey, valid: false, reasons: ['x'], succeeded: 297 } },
      { s3: s3.client, namespace: 'InferenceBaseline', publish: (s, o) => (published.push([s, o]), runMetricValues(s).length) },
    );
    expect(out).toEqual({ published: 26 });
    expect(published[0]![0].run.runId).toBe('20250101T020000Z-ab12cd');
    expect(published[0]![1]).toEqual({ namespace: 'InferenceBaseline', dimensions: { Model: spec.model, Scenario: spec.scenario } });
  });

  it('rejects an event without Aggregate\'s output', async () => {
    await expect(publishRun({ runSpec: seedRunSpec() }, { s3: s3.client, namespace: 'x' })).rejects.toThrow(/publish event: aggregate/);
  });
});
