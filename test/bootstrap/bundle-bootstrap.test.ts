import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Job } from 'kubernetes-models/batch/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundleBootstrap } from '../../runtime/bootstrap/index.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const BUNDLE_BOOTSTRAP = loadBundleBootstrap();
const tempDir = useTempDirs();

// A stand-in runner bundle: prints the argv it was given, as the real CLI would parse it.
const bundle = "console.log(JSON.stringify(process.argv.slice(2))); process.exitCode = 3;\n";
const sha = createHash('sha256').update(bundle).digest('hex');
let server: Server;
let base: string;

let flaky = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/bundle.mjs') res.end(bundle);
    else if (req.url === '/flaky.mjs' && flaky++ === 0) res.writeHead(503).end('slow down');
    else if (req.url === '/flaky.mjs') res.end(bundle);
    else res.writeHead(403).end('expired');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function bootstrap(url: string, want: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The bootstrap writes the bundle into the temp folder (a pod's emptyDir): here, one of the test's own.
  const tmp = await tempDir();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', BUNDLE_BOOTSTRAP, '--', 'run', '--shard', '0/1'], {
      env: { PATH: process.env.PATH, TMPDIR: tmp, RUNNER_BUNDLE_URL: url, RUNNER_BUNDLE_SHA256: want },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the runner bundle bootstrap (loopback HTTP)', () => {
  it('downloads, verifies and runs the bundle with the Job arguments', async () => {
    const r = await bootstrap(`${base}/bundle.mjs`, sha);
    expect(JSON.parse(r.stdout)).toEqual(['run', '--shard', '0/1']);
    expect(r.code).toBe(3);
  });

  it('refuses a bundle whose sha256 differs (exit 71)', async () => {
    const r = await bootstrap(`${base}/bundle.mjs`, '0'.repeat(64));
    expect(r.code).toBe(71);
    expect(r.stderr).toMatch(/sha256 mismatch/);
  });

  it('explains a refused download (exit 70) at the first 403: S3 will not change its mind', async () => {
    const r = await bootstrap(`${base}/other`, sha);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/HTTP 403.*presigned URL expired/);
  });

  it('tries a 503 again (half a second later) and runs the bundle', async () => {
    const r = await bootstrap(`${base}/flaky.mjs`, sha);
    expect(flaky).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual(['run', '--shard', '0/1']);
  });
});

describe('schema validation is real', () => {
  it('rejects a Job whose container has no name or image', () => {
    expect(() => new Job({ spec: { template: { spec: { containers: [{} as never] } } } }).validate()).toThrow();
  });
});
