import { createServer, type Server } from 'node:http';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
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
  // One worker: the message is the same from a worker thread (test/runner/workers.test.ts). Ten
  // requests (the fewest a valid run needs) unless a config file plans the load.
  const r = await cli(['run', '--out', out, '--duration', '1', ...(args.includes('--config') ? [] : ['--rate', '10']), '--workers', '1', ...args]);
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

describe('inference-baseline run: more bad input, each refused before anything is measured', () => {
  it('a rate that is not a number in the config file', async () => {
    const file = join(await tempDir(), 'fast.yml');
    await writeFile(file, (await readFile(seed, 'utf8')).replace(/rate: [\d.]+/, 'rate: fast'));
    await expectRejected(['--config', file, '--target', sim.url], /fast\.yml: load\.stages\[0\]\.rate: expected number, got "fast"/);
  });

  it('--out that is a file', async () => {
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'x');
    const r = await cli(['run', '--out', file, '--duration', '1', '--workers', '1', '--target', 'http://127.0.0.1:9']);
    // Checked before the target: the unreachable target is not what it reports.
    expect(r.stderr).toMatch(/^error: --out .*a-file: is a file, not a directory\nFix: pass a directory/);
    expect(r.code).toBe(2);
  });

  it('a --run-id that already holds a run, refused before the target is touched', async () => {
    const out = await tempDir();
    const runId = '20250101T020000Z-again1';
    await mkdir(join(out, runId));
    await writeFile(join(out, runId, 'run.json'), '{"earlier":true}');
    const r = await cli(['run', '--out', out, '--run-id', runId, '--workers', '1', '--target', 'http://127.0.0.1:9']);
    expect(r.stderr).toMatch(/--run-id: .*20250101T020000Z-again1 already holds a run\nFix: results of earlier runs are never overwritten/);
    expect(r.code).toBe(2);
    expect(await readFile(join(out, runId, 'run.json'), 'utf8')).toBe('{"earlier":true}');
  });

  it('a load too large to prepare (a typo\'d rate) is refused at once, naming the numbers', async () => {
    await expectRejected(['--target', sim.url, '--model', 'served-model', '--rate', '100000', '--duration', '3600'], /the scenario: 2 problems:\n {2}- load: 360,000,000 requests \(rate × duration over all stages\) is 360,000,000 per runner pod, over the limit of 1,000,000[\s\S]*Fix: make the run smaller, or split it: --shard/);
  });

  it('a prompt too long to build (10^8 tokens) is refused before it is built', async () => {
    const file = join(await tempDir(), 'huge.yml');
    await writeFile(file, 'load:\n  stages: [{ rate: 1, duration: 1 }]\nvalidity:\n  min_successes: 1\ndata:\n  type: random\n  input_distribution: { mean: 100000000, min: 100000000, max: 100000000 }\nserver:\n  type: vllm\n  model_name: served-model\n');
    await expectRejected(['--config', file, '--target', sim.url], /the scenario: data\.input_distribution: prompts of up to 100,000,000 tokens, over the limit of 1,000,000 tokens per prompt; lower its max \(or mean\)/);
  });

  it('prompts and outputs that cannot fit the model\'s context (max_model_len from /v1/models)', async () => {
    const small = await startSimulator({ models: ['served-model'], ttftMs: 1, itlMs: 1, jitterMs: 0, maxModelLen: 256 });
    try {
      const file = join(await tempDir(), 'long.yml');
      await writeFile(file, 'load:\n  stages: [{ rate: 2, duration: 2 }]\nvalidity:\n  min_successes: 1\ndata:\n  type: random\n  input_distribution: { mean: 200, min: 200, max: 200 }\n  output_distribution: { mean: 100, min: 100, max: 100 }\nserver:\n  type: vllm\n  model_name: served-model\n');
      await expectRejected(['--config', file, '--target', small.url], /data\.input_distribution \/ data\.output_distribution: 3 of 3 planned requests \(the warm-up included\) need more tokens than the model's context \(max_model_len 256\); the longest is 200 prompt \+ 100 output tokens[\s\S]*Fix: lower the distributions/);
    } finally {
      await small.close();
    }
  });
});

describe('inference-baseline run, end to end through the CLI', () => {
  it('measures the simulator and prints the percentile table and verdict', async () => {
    const out = await tempDir();
    const runId = '20250101T020000Z-clitst';
    const r = await cli(['run', '--out', out, '--duration', '1', '--rate', '10', '--workers', '1', '--target', sim.url, '--model', 'served-model', '--run-id', runId]);
    expect(r.stdout).toMatch(/^metric \(ms\)\s+count\s+p50\s+p90\s+p95\s+p99\s+max\s+mean$/m);
    for (const m of ['ttft', 'itl', 'tpot', 'ntpot', 'e2e', 'schedule_delay']) expect(r.stdout).toMatch(new RegExp(`^${m}\\s+\\d+`, 'm'));
    expect(r.stdout).toMatch(/requests: 10 scheduled, 10 sent, 10 succeeded, 0 failed/);
    // Ten samples support a p50 and a p90, not a p95 or p99: those are starred, and the star is explained.
    expect(r.stdout).toMatch(/^ttft\s+10\s+[\d.]+\s+[\d.]+\s+[\d.]+\*\s+[\d.]+\*\s+[\d.]+\s+[\d.]+$/m);
    expect(r.stdout).toContain('* too few samples for this percentile (p90 needs 10, p99 100): the value is the largest seen, not published');
    // The verdict is the aggregator's, and it agrees with the exit code.
    const summary = JSON.parse(await readFile(join(out, runId, 'summary.json'), 'utf8')) as { validity: { valid: boolean } };
    expect(r.stdout).toContain(summary.validity.valid ? 'verdict: valid' : 'verdict: INVALID');
    expect(r.code).toBe(summary.validity.valid ? 0 : 3);
    // Not a terminal: JSON status lines (what Kubernetes logs keep), the last one saying done.
    const status = r.stderr.split('\n').filter((l) => l.startsWith('{"status"')).map((l) => JSON.parse(l) as { status: string; sent: number });
    expect(status.at(-1)).toMatchObject({ status: 'done', sent: 10 });
    expect(r.stdout).toContain(`report:  ${join(out, runId, 'report.html')}`);
    expect((await readdir(join(out, runId))).sort()).toEqual(['config.yml', 'histograms.json', 'report.html', 'requests', 'run.json', 'server-metrics.ndjson', 'summary.json']);
    // The terminal and the report show the one achieved rate: summary.json's.
    const rate = (JSON.parse(await readFile(join(out, runId, 'summary.json'), 'utf8')) as { load: { achievedRate: number } }).load.achievedRate;
    expect(r.stdout).toContain(`achieved ${rate} req/s`);
    expect(await readFile(join(out, runId, 'report.html'), 'utf8')).toContain(`achieved ${rate} req/s`);
  });

  it('says what the failed requests said (the terminal and summary.json), not only how many failed', async () => {
    const failing = await startSimulator({ models: ['served-model'], ttftMs: 1, itlMs: 1, jitterMs: 0, errorRate: 0.5, failureModes: ['status'], errorStatus: 503, seed: 3 });
    try {
      const out = await tempDir();
      const runId = '20250101T020000Z-fails1';
      const r = await cli(['run', '--out', out, '--duration', '1', '--rate', '10', '--workers', '1', '--seed', '1', '--target', failing.url, '--model', 'served-model', '--run-id', runId]);
      const summary = JSON.parse(await readFile(join(out, runId, 'summary.json'), 'utf8')) as { requests: { failed: number; errorMessages: Array<{ type: string; status: number; message: string; count: number }> } };
      expect(summary.requests.failed).toBeGreaterThan(0);
      expect(summary.requests.errorMessages).toHaveLength(1);
      expect(summary.requests.errorMessages[0]).toMatchObject({ type: 'http_status', status: 503, count: summary.requests.failed });
      expect(summary.requests.errorMessages[0]!.message).toContain('Simulated failure: the simulator injected HTTP 503');
      expect(r.stdout).toContain(`failed requests said:\n  ${summary.requests.failed} × http_status (HTTP 503): `);
      expect(r.code).toBe(3);
    } finally {
      await failing.close();
    }
  });
});
