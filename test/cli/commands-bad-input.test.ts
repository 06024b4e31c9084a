import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/** The other commands' user mistakes: one message naming the input and the fix, exit 2, no stack. */
describe('aggregate and simulate refuse bad input in one message', () => {
  it('aggregate of a path that does not exist', async () => {
    const missing = join(await tempDir(), 'no-such-run');
    const r = await cli(['aggregate', missing]);
    expect(r.stderr).toBe(`error: ${missing}: does not exist\nFix: pass the directory a run wrote (the one holding run.json, or an inference-perf output directory), or an s3://bucket/prefix URL.\n`);
    expect(r.code).toBe(2);
  });

  it('aggregate of a file', async () => {
    const file = join(await tempDir(), 'summary.json');
    await writeFile(file, '{}');
    const r = await cli(['aggregate', file]);
    expect(r.stderr).toMatch(/summary\.json: is a file, not a run directory\nFix:/);
    expect(r.code).toBe(2);
  });

  it('simulate on a port that is already in use', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await cli(['simulate', '--host', '127.0.0.1', '--port', String(port)]);
      expect(r.stderr).toBe(`error: --host 127.0.0.1 --port ${port}: 127.0.0.1:${port} is already in use (EADDRINUSE)\nFix: choose another --port (0 picks a free one) or stop what is listening there.\n`);
      expect(r.code).toBe(2);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
