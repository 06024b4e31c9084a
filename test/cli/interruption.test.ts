import { createServer } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { nativeRecords, writeNativeRun } from '../../bench/support/generate.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/**
 * Ctrl-C belongs to the commands that stop cleanly (run, simulate): they ask for the signal and say
 * what they will do. The others keep the default — the process ends at once — so none of them
 * prints "stopping" and then goes on.
 */
describe('interruption is handled by the commands that stop', () => {
  it('aggregate does not take over Ctrl-C', async () => {
    const dir = join(await tempDir(), 'run');
    await writeNativeRun(dir, nativeRecords({ requests: 20, tokens: 4 }).records, { shards: 1, tokens: 4 });
    const asked: string[] = [];
    const r = await cli(['aggregate', dir], { interruptible: (m) => asked.push(m) });
    expect(r.stdout).toContain('summary: ');
    expect(asked).toEqual([]);
  });

  it('start --wait does not take over Ctrl-C (it fails on its own input here, before any AWS call)', async () => {
    const asked: string[] = [];
    const r = await cli(['start', '--wait', '--input', '{not json'], { interruptible: (m) => asked.push(m) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--input: is not valid JSON/);
    expect(asked).toEqual([]);
  });

  it('run asks for it and says what Ctrl-C will do', async () => {
    const asked: string[] = [];
    const controller = new AbortController();
    controller.abort(); // Ctrl-C before the first request: nothing is measured or created.
    const out = await tempDir();
    const r = await cli(['run', '--out', out, '--duration', '1', '--rate', '10', '--workers', '1'], { interruptible: (m) => asked.push(m), interrupt: controller.signal });
    expect(asked).toEqual(['stopping: no new requests; in-flight requests get a grace period']);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted before the first request: nothing was measured, no results were written');
  });

  /**
   * A target that hangs in one phase of the preparation: /tokenize (calibration) or the warm-up
   * completion. Ctrl-C arrives while the runner waits on it; the run must end at once with
   * nothing created. (Without it this test would hang until vitest's timeout: no timing threshold.)
   */
  it.each([
    ['calibration (/tokenize never answers)', '/tokenize'],
    ['the warm-up (the first completion never answers)', '/v1/completions'],
  ])('Ctrl-C during %s ends the run at once, nothing created', async (_phase, hangOn) => {
    const controller = new AbortController();
    const server = createServer((req, res) => {
      if (req.url === '/v1/models') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"qwen3-8b"}]}');
      if (req.url === hangOn) return void controller.abort(); // hangs: no answer
      if (req.url === '/tokenize') return void res.writeHead(404).end();
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const out = await tempDir();
      // The temp folder of this run alone: the prompt spool must be gone from it too.
      const tmp = await tempDir();
      vi.stubEnv('TMPDIR', tmp);
      const target = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const r = await cli(['run', '--out', out, '--duration', '2', '--rate', '5', '--workers', '1', '--target', target], { interrupt: controller.signal });
      vi.unstubAllEnvs();
      expect(controller.signal.aborted).toBe(true);
      expect(r.code).toBe(130);
      expect(r.stderr).toContain('interrupted before the first request: nothing was measured, no results were written');
      expect(await readdir(out)).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
