import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { interruptTwice } from '../support/interrupt-twice.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle } from '../support/test-stack.ts';

const tempDir = useTempDirs();
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ models: ['served-model'], ttftMs: 1, itlMs: 1, jitterMs: 0 });
});
afterAll(() => sim.close());

/**
 * A second Ctrl-C quits at once, as it promised — but with a word: what is lost (the requests in
 * flight), what stays (the files already written) and how to read them; and it leaves no prompt
 * spool in the temp folder (its own TMPDIR here, so the check sees this process's debris only).
 */
describe('Ctrl-C twice while the runner sends', () => {
  it('the process says what it is doing, exits 130, and leaves nothing in the temp folder', async () => {
    const out = await tempDir();
    const tmp = await tempDir();
    const child = spawn(process.execPath, [runnerBundle(), 'run', '--target', sim.url, '--model', 'served-model', '--rate', '5', '--duration', '30', '--workers', '2', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    // The first once it sends; the second once it has said what the first does.
    const { code, stderr, interrupts } = await interruptTwice(child, (text) => text.includes('"status":"running"'));
    expect(interrupts).toBe(2);
    expect(stderr).toContain('quitting now (second Ctrl-C): requests in flight are not recorded; files already written stay, and `inference-baseline aggregate <run dir>` (the directory printed at the start) reads them');
    // …which it did print, at the start.
    expect(stderr).toMatch(/^run \d{8}T\d{6}Z-[a-z0-9]+: results go to \/\S+$/m);
    expect(code).toBe(130);
    expect(await readdir(tmp)).toEqual([]);
  }, 60_000);
});
