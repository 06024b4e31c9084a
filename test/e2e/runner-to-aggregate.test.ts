import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getObjectText, listObjects } from '../../runtime/aws/s3.ts';
import { S3RunStore } from '../../runtime/aws/s3-run-store.ts';
import type { Summary } from '../../runtime/core/metrics/summary.ts';
import { aggregateRun, writeOutputs } from '../../runtime/local/aggregate.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';

const bin = fileURLToPath(new URL('../../bin/inference-baseline.js', import.meta.url));

let sim: RunningSimulator;
let s3: LocalS3;
beforeAll(async () => {
  sim = await startSimulator({ ttftMs: 10, itlMs: 2, jitterMs: 1 });
  s3 = await startLocalS3('results');
});
afterAll(async () => {
  await sim.close();
  await s3.stop();
});

describe('native runner → S3 (s3rver) → aggregate', () => {
  it('the aggregator recomputes exactly the numbers the runner printed, from the uploaded shards', async () => {
    // The CLI in its own process, as the Kubernetes Job runs it, writing to s3://…
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, 'run', '--target', sim.url, '--duration', '2', '--rate', '3', '--run-id', 'e2e-run', '--out', 's3://results/runs/baseline/qwen3-8b', '--s3-endpoint', s3.endpoint],
        { env: { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.stdout).toContain('results: s3://results/runs/baseline/qwen3-8b/e2e-run/');
    const prefix = 'runs/baseline/qwen3-8b/e2e-run/';
    const keys: string[] = [];
    for await (const o of listObjects(s3.client, 'results', prefix)) keys.push(o.key.slice(prefix.length));
    expect(keys.sort()).toEqual(['config.yml', 'requests/shard-0000-0000.ndjson.gz', 'requests/shard-0000.json', 'run.json', 'summary.json']);
    const runnerSummary = JSON.parse(await getObjectText(s3.client, 'results', `${prefix}summary.json`)) as Summary;

    const store = new S3RunStore(s3.client, { bucket: 'results', prefix });
    const result = await aggregateRun(store);
    await writeOutputs(store, result);

    const aggregated = result.summary;
    expect(aggregated.requests).toEqual(runnerSummary.requests);
    expect(aggregated.latency).toEqual(runnerSummary.latency);
    expect(aggregated.load.schedule_delay).toEqual(runnerSummary.load.schedule_delay);
    expect(aggregated.tokens).toEqual(runnerSummary.tokens);
    expect(aggregated.run.runId).toBe('e2e-run');
    expect(aggregated.input).toMatchObject({ badFiles: 0, badRecords: 0 });
    const after: string[] = [];
    for await (const o of listObjects(s3.client, 'results', prefix)) after.push(o.key.slice(prefix.length));
    expect(after).toEqual(expect.arrayContaining(['histograms.json', 'report.html']));
  });
});
