import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runnerBundle } from '../support/test-stack.ts';

/**
 * The two processes the command line runs as: bin/inference-baseline.js (a checkout; the
 * composition root that hands the stack to `workflow`) and the runner bundle (a pod; no local
 * cloud in it). Everything else about the commands is tested in-process (test/support/cli.ts).
 */
const bin = fileURLToPath(new URL('../../bin/inference-baseline.js', import.meta.url));

function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('the entry points', () => {
  it('bin/inference-baseline.js hands `workflow` the stack: it gets as far as reading its input', async () => {
    const r = await node([bin, 'workflow', '--input', '{not json']);
    expect(r.stderr).toMatch(/^error: --input: is not valid JSON/);
    expect(r.code).toBe(2);
  });

  it('the runner bundle has no local cloud: `workflow` there is one message naming where to run it, exit 2', async () => {
    const r = await node([runnerBundle(), 'workflow']);
    expect(r.stderr).toBe('error: workflow: is not part of the runner bundle (it needs the CDK app)\nFix: run it from the repository: npx inference-baseline workflow.\n');
    expect(r.code).toBe(2);
  });
});
