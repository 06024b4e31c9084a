import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listObjects } from '../../runtime/aws/s3.ts';
import { S3RunStore } from '../../runtime/aws/s3-run-store.ts';
import { formatSummary } from '../../runtime/cli/table.ts';
import { aggregateRun, writeOutputs } from '../../runtime/aggregator/aggregate-run.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle } from '../support/test-stack.ts';

const tempDir = useTempDirs();


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
  it('the Job\'s runner uploads raw files only; the aggregator recomputes exactly the numbers the runner printed', async () => {
    // The runner bundle in its own process, as the Kubernetes Job runs it (--no-aggregate: the workflow's
    // Aggregate step is the one writer of summary.json), writing to s3://…
    const runId = '20250101T020000Z-e2erun';
    // The runner stages the run in the temp folder before uploading it; it must leave nothing there.
    const staging = await tempDir();
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [runnerBundle(), 'run', '--target', sim.url, '--duration', '1', '--rate', '10', '--workers', '2', '--run-id', runId, '--out', 's3://results/runs/baseline/qwen3-8b', '--s3-endpoint', s3.endpoint, '--no-aggregate'],
        { env: { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', TMPDIR: staging }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    // Off a terminal the runner logs JSON status lines, the last one saying it is done.
    const status = run.stderr.split('\n').filter((l) => l.startsWith('{"status"')).map((l) => JSON.parse(l) as { status: string; sent: number });
    expect(status.at(-1)).toMatchObject({ status: 'done', sent: 10 });
    expect(run.stdout).toContain(`results: s3://results/runs/baseline/qwen3-8b/${runId}/`);
    // The staged run and the workers' prompt spools are all gone: the temp folder is as it was.
    expect(await readdir(staging)).toEqual([]);
    const prefix = `runs/baseline/qwen3-8b/${runId}/`;
    const keys: string[] = [];
    for await (const o of listObjects(s3.client, 'results', prefix)) keys.push(o.key.slice(prefix.length));
    // A shard per worker thread (two here); the runner's table below is their merge.
    const shards = [0, 1].map((i) => `requests/shard-000${i}`);
    expect(keys.sort()).toEqual(['config.yml', ...shards.flatMap((s) => [`${s}-0000.ndjson.gz`, `${s}.json`]), 'run.json', 'server-metrics.ndjson']);

    const store = new S3RunStore(s3.client, { bucket: 'results', prefix });
    const result = await aggregateRun(store);
    await writeOutputs(store, result);

    // The same table, line for line: the runner's in-memory numbers and the aggregator's from S3.
    const table = (text: string): string[] => text.split('\n').filter((l) => /^(requests|load|tokens|ttft|itl|tpot|ntpot|e2e|schedule_delay)[: ]/.test(l));
    expect(table(run.stdout)).toEqual(table(formatSummary(result.summary)));
    expect(table(run.stdout)).toHaveLength(9);
    expect(result.summary.run.runId).toBe(runId);
    expect(result.summary.input).toMatchObject({ badFiles: 0, badRecords: 0 });
    // A Job's shard does not judge the run (the workflow's Aggregate does): it exits 0 when it measured.
    expect(run.code).toBe(0);
    const after: string[] = [];
    for await (const o of listObjects(s3.client, 'results', prefix)) after.push(o.key.slice(prefix.length));
    expect(after).toEqual(expect.arrayContaining(['summary.json', 'histograms.json', 'report.html']));
  });
});
