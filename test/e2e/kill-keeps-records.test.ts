import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateRun } from '../../runtime/aggregator/aggregate-run.ts';
import { FsRunStore } from '../../runtime/aggregator/fs-run-store.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { systemClock } from '../../runtime/timing/clock.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle } from '../support/test-stack.ts';

const tempDir = useTempDirs();
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ ttftMs: 20, itlMs: 2, jitterMs: 0 });
});
afterAll(() => sim.close());

describe('a runner (the Job\'s bundle) killed mid-run (SIGKILL: no handler runs; real time: the kill lands 1.5 s into the load) keeps every request it completed', () => {
  it('the part file holds every request that finished before the kill, and aggregates as a partial run', async () => {
    const out = await tempDir();
    const runId = '20250101T020000Z-killed';
    // A temp folder of its own: SIGKILL leaves the prompt spool behind (in a Job, /tmp is the pod's
    // emptyDir and goes with it); here it goes with the test's temp directories.
    const tmp = await tempDir();
    const child = spawn(process.execPath, [runnerBundle(), 'run', '--target', sim.url, '--rate', '10', '--duration', '30', '--workers', '1', '--out', out, '--run-id', runId], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    let killedAt = 0;
    await new Promise<void>((resolve) => {
      child.stderr!.setEncoding('utf8');
      let armed = false;
      child.stderr!.on('data', (chunk: string) => {
        // The first status line comes a second into the load: kill the runner half a second later.
        if (!armed && chunk.includes('"status":"running"')) {
          armed = true;
          setTimeout(() => {
            killedAt = systemClock();
            child.kill('SIGKILL');
          }, 500);
        }
      });
      child.on('exit', () => resolve());
    });
    expect(killedAt).toBeGreaterThan(0);
    const finished = sim
      .groundTruth()
      .filter((g) => g.requestId.startsWith(`${runId}-`) && g.doneAt !== null && g.doneAt < killedAt - 200)
      .map((g) => Number(g.requestId.split('-').pop()));
    // 10 req/s of ~0.3 s requests for 1.5 s: about ten finished 0.2 s before the kill.
    expect(finished.length).toBeGreaterThanOrEqual(5);

    const result = await aggregateRun(new FsRunStore(join(out, runId)));
    expect(result.summary.run.partial).toBe(true);
    expect(result.summary.input.badRecords).toBe(0);
    expect(result.summary.requests.succeeded).toBeGreaterThanOrEqual(finished.length);
    expect(result.summary.validity.valid).toBe(false);
    expect(result.summary.validity.reasons.join('\n')).toMatch(/never wrote their manifest/);
  });
});
