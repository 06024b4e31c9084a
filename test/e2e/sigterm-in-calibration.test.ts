import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle } from '../support/test-stack.ts';

const tempDir = useTempDirs();

/**
 * Kubernetes stops a pod with SIGTERM. In the preparation phase (here: a /tokenize that never
 * answers) the process must end by itself — no open socket, timer or worker may keep it alive —
 * with exit 130 and nothing created. If it did not, this test would wait for vitest's timeout.
 */
describe('SIGTERM while the runner calibrates prompts', () => {
  it('the process exits 130 on its own, having created nothing', async () => {
    let child: ReturnType<typeof spawn> | undefined;
    const server = createServer((req, res) => {
      if (req.url === '/v1/models') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"qwen3-8b"}]}');
      if (req.url === '/tokenize') return void child?.kill('SIGTERM'); // and never answer
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const out = await tempDir();
      const target = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      child = spawn(process.execPath, [runnerBundle(), 'run', '--target', target, '--duration', '5', '--rate', '2', '--workers', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const code = await new Promise<number | null>((resolve) => child!.on('exit', (c) => resolve(c)));
      expect(stderr).toContain('interrupted before the first request: nothing was measured, no results were written');
      expect(code).toBe(130);
      expect(await readdir(out)).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
