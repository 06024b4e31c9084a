import {  } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getObjectText, headObject, uploadDirectory } from '../../runtime/aws/s3.ts';
import { aggregateCommand } from '../../runtime/cli/commands/aggregate.ts';
import type { Summary } from '../../runtime/core/summary/schema.ts';
import { aggregateForRun } from '../../runtime/lambda/aggregate.ts';
import { seedRunSpec } from '../core/run-spec-fixture.ts';
import { nativeRecords, writeInferencePerfRun, writeNativeRun } from '../../bench/support/generate.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

let s3: LocalS3;
let root: string;
beforeAll(async () => {
  s3 = await startLocalS3('results-bucket');
  root = await tempDir();
});
afterAll(async () => {
  await s3.stop();
});

describe('Aggregate Lambda against s3rver', () => {
  it('native shards uploaded → summary.json, histograms.json and report.html beside them; contract output', async () => {
    const spec = seedRunSpec();
    const { records } = nativeRecords({ runId: spec.runId, requests: 600, tokens: 16, seed: 2 });
    const dir = join(root, 'native');
    await writeNativeRun(dir, records, { shards: 3, tokens: 16, runId: spec.runId });
    await uploadDirectory(s3.client, dir, spec.s3.uri);

    const out = await aggregateForRun({ runSpec: spec }, { s3: s3.client });
    expect(out).toMatchObject({ summaryKey: spec.s3.summaryKey, valid: true, reasons: [], succeeded: 600 });
    // The first run of its series: nothing to compare with yet, and no notice.
    expect(out.comparison).toMatchObject({ verdict: 'insufficient-history', regressed: [], changes: [], notice: '' });
    expect(out.comparison.headline).toMatch(/^insufficient history: 0 earlier valid runs with this workload and target, 3 needed; not compared/);
    // Its history entry: one object per run under history/<scenario>/<model>/.
    const entry = JSON.parse(await getObjectText(s3.client, spec.s3.bucket, `history/baseline/qwen3-8b/${spec.runId}.json`)) as { runId: string; valid: boolean; location: string; metrics: { ttft_p50: { n: number } } };
    expect(entry).toMatchObject({ runId: spec.runId, valid: true, location: spec.s3.uri, metrics: { ttft_p50: { n: 600 } } });
    const summary = JSON.parse(await getObjectText(s3.client, spec.s3.bucket, spec.s3.summaryKey)) as Summary;
    expect(summary.run.runId).toBe(spec.runId);
    expect(summary.input).toMatchObject({ source: 'native', files: 3, records: 600, badRecords: 0, badFiles: 0 });
    expect(await getObjectText(s3.client, spec.s3.bucket, spec.s3.reportKey)).toMatch(/^<!doctype html>[\s\S]*VALID BASELINE/);
    expect(await headObject(s3.client, spec.s3.bucket, spec.s3.histogramsKey)).not.toBeNull();

    // Re-running is safe: same answer, raw data untouched.
    const again = await aggregateForRun({ runSpec: spec }, { s3: s3.client });
    expect(again).toEqual(out);
    expect(JSON.parse(await getObjectText(s3.client, spec.s3.bucket, spec.s3.summaryKey))).toEqual(summary);
  });

  it('inference-perf output under raw/ is aggregated with identity from the RunSpec', async () => {
    const spec = seedRunSpec({ runner: 'inference-perf', runId: '20250101T020000Z-ip0001' });
    const dir = join(root, 'ip');
    await writeInferencePerfRun(dir, { version: '0.6.1', requests: 1200, tokens: 16, configAsJson: true });
    await uploadDirectory(s3.client, dir, `${spec.s3.uri}raw/`);
    const out = await aggregateForRun({ runSpec: spec }, { s3: s3.client });
    expect(out.succeeded).toBe(1200);
    expect(out.valid).toBe(true);
    const summary = JSON.parse(await getObjectText(s3.client, spec.s3.bucket, spec.s3.summaryKey)) as Summary;
    expect(summary.run).toMatchObject({ runId: spec.runId, scenario: 'baseline', model: 'qwen3-8b', runner: { kind: 'inference-perf', version: 'v0.6.1' } });
    expect(summary.load.scheduleDelaySource).toBe('inference-perf-summary');
  });

  it('an empty prefix throws an error named NoResults (the workflow catches it by name)', async () => {
    const spec = seedRunSpec({ runId: '20250101T020000Z-empty1' });
    const err = await aggregateForRun({ runSpec: spec }, { s3: s3.client }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('NoResults');
    expect((err as Error).message).toContain(spec.s3.uri);
  });

  it('a malformed event is rejected before any S3 call', async () => {
    await expect(aggregateForRun({ runSpec: { runId: 'x' } }, { s3: s3.client })).rejects.toThrow(/aggregate event: \d+ problems/);
  });

  it('the CLI command aggregates the same prefix and writes an EMF file', async () => {
    const spec = seedRunSpec();
    const emf = join(root, 'metrics.emf');
    let printed = '';
    const res = await aggregateCommand(spec.s3.uri, { emf, endpoint: s3.endpoint }, { stdout: { write: (s: string) => ((printed += s), true) } as NodeJS.WritableStream, s3Client: () => s3.client });
    expect(res.exitCode).toBe(0);
    expect(printed).toMatch(/verdict: valid/);
    expect(printed).toContain(`summary: ${spec.s3.uri}summary.json`);
    const { readFile } = await import('node:fs/promises');
    const line = JSON.parse((await readFile(emf, 'utf8')).trim()) as { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> } };
    expect(line._aws.CloudWatchMetrics[0]!.Namespace).toBe('InferenceBaseline');
  });
});
