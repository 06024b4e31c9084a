import { createServer, type Server } from 'node:http';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const seed = fileURLToPath(new URL('../fixtures/seed-config.yml', import.meta.url));
const tempDir = useTempDirs();

let sim: RunningSimulator;
let html: Server;
let htmlUrl: string;
beforeAll(async () => {
  sim = await startSimulator({ models: ['served-model'], ttftMs: 1, itlMs: 1, jitterMs: 0 });
  html = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
  await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
  htmlUrl = `http://127.0.0.1:${(html.address() as { port: number }).port}`;
});
afterAll(async () => {
  await sim.close();
  await new Promise((r) => html.close(r));
});

async function expectRejected(args: string[], message: RegExp, code = 2): Promise<void> {
  const out = await tempDir();
  const r = await cli(['run', '--out', out, '--duration', '1', ...args]);
  expect(r.stderr).toMatch(message);
  expect(r.code).toBe(code);
  // Nothing half-created: no run directory at all.
  expect(await readdir(out)).toEqual([]);
}

describe('inference-baseline run rejects bad input with one clear message and a non-zero exit', () => {
  it('invalid YAML', async () => {
    const file = join(await tempDir(), 'bad.yml');
    await writeFile(file, 'load:\n  stages: [\n');
    await expectRejected(['--config', file, '--target', sim.url], /bad\.yml: is not valid YAML[\s\S]*Fix:/);
  });

  it('an unknown key', async () => {
    const file = join(await tempDir(), 'unknown.yml');
    await writeFile(file, `${await readFile(seed, 'utf8')}\nload_generator: fast\n`);
    await expectRejected(['--config', file, '--target', sim.url], /load_generator: unknown or unsupported key; supported keys at \(top level\): api, data, load/);
  });

  it('a negative rate', async () => {
    await expectRejected(['--rate', '-1', '--target', sim.url], /--rate.*must be a positive number \(requests per second\); got "-1"/);
  });

  it('an unreachable target', async () => {
    await expectRejected(['--target', 'http://127.0.0.1:9'], /--target: cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED[\s\S]*Fix: check the URL/);
  });

  it('a target that is not OpenAI-compatible', async () => {
    await expectRejected(['--target', htmlUrl], /is not an OpenAI-compatible server: GET \/v1\/models answered HTTP 200/);
  });

  it('a model the server does not serve', async () => {
    await expectRejected(['--target', sim.url, '--model', 'qwen3-8b'], /--model: model "qwen3-8b" is not served by .*; it serves: served-model[\s\S]*Fix: pass --model served-model/);
  });

  it('a target URL ending in /v1', async () => {
    await expectRejected(['--target', `${sim.url}/v1`], /without \/v1/);
  });

  it('an unknown scenario', async () => {
    await expectRejected(['--scenario', 'nightly', '--target', sim.url], /--scenario: unknown scenario "nightly"[\s\S]*Fix: use one of: baseline/);
  });
});

describe('inference-baseline run, end to end through the CLI', () => {
  it('measures the simulator and prints the percentile table and verdict', async () => {
    const out = await tempDir();
    const runId = '20250101T020000Z-clitst';
    const r = await cli(['run', '--out', out, '--duration', '2', '--rate', '2', '--target', sim.url, '--model', 'served-model', '--run-id', runId]);
    expect(r.stdout).toMatch(/^metric \(ms\)\s+count\s+p50\s+p90\s+p95\s+p99\s+max\s+mean$/m);
    for (const m of ['ttft', 'itl', 'tpot', 'ntpot', 'e2e', 'schedule_delay']) expect(r.stdout).toMatch(new RegExp(`^${m}\\s+\\d+`, 'm'));
    expect(r.stdout).toMatch(/requests: 4 scheduled, 4 sent, 4 succeeded, 0 failed/);
    // The verdict is the aggregator's, and it agrees with the exit code.
    const summary = JSON.parse(await readFile(join(out, runId, 'summary.json'), 'utf8')) as { validity: { valid: boolean } };
    expect(r.stdout).toContain(summary.validity.valid ? 'verdict: valid' : 'verdict: INVALID');
    expect(r.code).toBe(summary.validity.valid ? 0 : 3);
    // Not a terminal: JSON status lines (what Kubernetes logs keep), the last one saying done.
    const status = r.stderr.split('\n').filter((l) => l.startsWith('{"status"')).map((l) => JSON.parse(l) as { status: string; sent: number });
    expect(status.at(-1)).toMatchObject({ status: 'done', sent: 4 });
    expect(r.stdout).toContain(`report:  ${join(out, runId, 'report.html')}`);
    expect((await readdir(join(out, runId))).sort()).toEqual(['config.yml', 'histograms.json', 'report.html', 'requests', 'run.json', 'summary.json']);
  });
});
