import { copyFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalStack } from '../../runtime/core/ports/local-stack.ts';
import { cli, EXIT } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';

/**
 * `workflow` after it has measured: whatever happens to --out meanwhile, or if the user stops it,
 * the measured records are kept and the message says where and how to aggregate them. Real time
 * (the CLI's clock): the moments are taken from the workflow's own output as it is written.
 */

const tempDir = useTempDirs();
const stack = async (): Promise<LocalStack> => ({ ...testStack, buildRunnerBundle: (out: string) => copyFile(runnerBundle(), out) });
/** Ten requests of 16 tokens from one worker, over 2 s: long enough to act while it sends. */
const LOAD = ['--rate', '5', '--duration', '2', '--workers', '1', '--input', '{"overrides":{"data":{"output_distribution":{"mean":16,"std_dev":0,"min":16,"max":16}}}}'];
/** The runner pod says it is sending (its JSON status line, which the workflow forwards). */
const sending = (text: string): boolean => text.includes('"status":"running"');

describe('workflow never loses a measured run', () => {
  it('--out replaced by a file while the run measures: exit 1, the run kept in a directory the message names, with the aggregate command', async () => {
    const parent = await tempDir();
    const out = join(parent, 'results');
    let replaced = false;
    const r = await cli(['workflow', '--out', out, ...LOAD], {
      localStack: stack,
      onStderr: (text) => {
        if (!replaced && sending(text)) {
          replaced = true;
          void writeFile(out, 'someone put a file here\n');
        }
      },
    });
    expect(replaced).toBe(true);
    const kept = /They are kept in (\S+); aggregate them there with: inference-baseline aggregate (\S+) /.exec(r.stderr);
    expect(kept, r.stderr).not.toBeNull();
    try {
      expect(kept![1]).toBe(kept![2]);
      expect(r.stderr).toMatch(new RegExp(`^error: the run was measured but its files could not be written under ${out}: `, 'm'));
      expect(r.code).toBe(EXIT.failed);
      const files = await readdir(kept![1]!);
      expect(files).toEqual(expect.arrayContaining(['requests', 'run.json', 'summary.json', 'execution.json']));
    } finally {
      await rm(join(kept![1]!, '..'), { recursive: true, force: true });
    }
  }, 60_000);

  it('interrupted while it measures: exit 130, what was measured exported, and the command that aggregates it', async () => {
    const out = await tempDir();
    const controller = new AbortController();
    const r = await cli(['workflow', '--out', out, ...LOAD], {
      localStack: stack,
      interrupt: controller.signal,
      onStderr: (text) => {
        if (sending(text)) controller.abort();
      },
    });
    expect(r.code).toBe(EXIT.interrupted);
    const [runId] = await readdir(out);
    const dir = join(out, runId!);
    expect(r.stderr).toContain(`what was measured is in ${dir}; aggregate it with: inference-baseline aggregate ${dir}`);
    const files = await readdir(dir);
    expect(files).toEqual(expect.arrayContaining(['requests', 'run.json', 'execution.json']));
    expect(files).not.toContain('summary.json');
  }, 60_000);
});
