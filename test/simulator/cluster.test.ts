import { spawn, execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { GroundTruthEntry } from '../../runtime/simulator/index.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle } from '../support/test-stack.ts';

const tempDir = useTempDirs();

/**
 * `simulate --workers N` in its own process, as the runner bundle (the CLI in one file, what the
 * Dockerfile's image runs): cluster.fork re-enters it, and no process compiles TypeScript first.
 */
function simulate(args: string[]): { exited: Promise<{ code: number | null; stdout: string; stderr: string }>; url: Promise<string>; pid: number; interrupt(): void } {
  const child = spawn(process.execPath, [runnerBundle(), 'simulate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onLine: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (onLine = resolve));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    const m = /listening on (http:\/\/\S+)/.exec(stdout);
    if (m) onLine(m[1]!);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return { exited, url, pid: child.pid!, interrupt: () => child.kill('SIGINT') };
}

describe('simulate --workers: several processes behind one port', () => {
  it('serves every connection from its worker processes and merges their ground truth into the one file', async () => {
    const dir = await tempDir();
    const truthFile = join(dir, 'truth.ndjson');
    const sim = simulate(['--port', '0', '--workers', '2', '--ground-truth', truthFile, '--itl-ms', '1']);
    const url = await sim.url;
    // The primary's children that are simulators.
    const workers = execFileSync('pgrep', ['-P', String(sim.pid), '-f', `${basename(runnerBundle())} simulate`]).toString().trim().split('\n');
    if (workers.length !== 2) sim.interrupt();
    expect(workers).toHaveLength(2);
    // A fresh connection per request (connection: close), so the primary hands them to both workers.
    const ids = Array.from({ length: 8 }, (_, i) => `cluster-${i}`);
    const bodies = await Promise.all(
      ids.map(async (id) => {
        const res = await request(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id, connection: 'close' }, body: JSON.stringify({ model: 'qwen3-8b', prompt: 'hello world', max_tokens: 4, ignore_eos: true }) });
        expect(res.statusCode).toBe(200);
        return (await res.body.json()) as { usage: { completion_tokens: number } };
      }),
    );
    expect(bodies.map((b) => b.usage.completion_tokens)).toEqual(ids.map(() => 4));
    sim.interrupt();
    expect((await sim.exited).code).toBe(0);
    const truth = (await readFile(truthFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as GroundTruthEntry);
    expect(truth.map((g) => g.requestId).sort()).toEqual([...ids].sort());
    expect(truth.every((g) => g.contentWrites.length === 1 && g.status === 200)).toBe(true);
    // The workers' own files are gone: only the merged one is left.
    expect(await readdir(dir)).toEqual(['truth.ndjson']);
  });

  it('a port in use is one message and exit 2, and no worker is left running', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const sim = simulate(['--host', '127.0.0.1', '--port', String(port), '--workers', '2']);
      const r = await sim.exited;
      expect(r.stderr).toBe(`error: --host 127.0.0.1 --port ${port}: 127.0.0.1:${port} is already in use (EADDRINUSE)\nFix: choose another --port (0 picks a free one) or stop what is listening there.\n`);
      expect(r.code).toBe(2);
      // No simulator of this port is left, orphaned workers included (pgrep exits 1 when it finds none).
      expect(() => execFileSync('pgrep', ['-f', `simulate --host 127.0.0.1 --port ${port} --workers 2`])).toThrow();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('--workers 0 is refused by name', async () => {
    const r = await simulate(['--workers', '0']).exited;
    expect(r.stderr).toMatch(/--workers <n>' argument '0' is invalid\. must be a whole number from 1 to 64/);
    expect(r.code).toBe(2);
  });
});
