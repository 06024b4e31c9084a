import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aggregateRun } from '../../runtime/aggregator/aggregate-run.ts';
import { FsRunStore } from '../../runtime/aggregator/fs-run-store.ts';
import { interruptTwice } from '../support/interrupt-twice.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();
const bin = fileURLToPath(new URL('../../bin/inference-baseline.js', import.meta.url));

/**
 * A second Ctrl-C quits the workflow at once — and what the run measured until then is not lost
 * with the local cloud: it is copied out of the local S3's files and the pod's staging copy into
 * `<out>/<runId>/`, the directory the workflow named at the start, ready to aggregate; the local
 * cloud's directory (which holds the pod's identity token) is removed. The real process, signals
 * and all (the probe found the records stranded in an unnamed temp directory).
 */
describe('Ctrl-C twice during the local workflow', () => {
  it('keeps what was measured in the directory named at the start, aggregatable, and leaves no local cloud behind', async () => {
    const out = await tempDir();
    const tmp = await tempDir();
    const child = spawn(process.execPath, [bin, 'workflow', '--duration', '30', '--rate', '2', '--workers', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    // The first once the runner has sent a few requests; the second once the first is acknowledged.
    const { code, stderr, interrupts } = await interruptTwice(child, (text) => /"sent":([4-9]|\d\d)/.test(text));
    expect(interrupts).toBe(2);
    expect(code).toBe(130);
    const named = /^run (\S+): results go to (\S+)$/m.exec(stderr);
    expect(named).not.toBeNull();
    const dir = named![2]!;
    expect(dir).toBe(join(out, named![1]!));
    expect(stderr).toContain(`is in ${dir}; aggregate it with: inference-baseline aggregate ${dir}`);
    const result = await aggregateRun(new FsRunStore(dir));
    expect(result.summary.requests.succeeded).toBeGreaterThanOrEqual(3);
    expect((await readdir(tmp)).filter((n) => n.startsWith('ib-'))).toEqual([]);
  }, 120_000);
});
