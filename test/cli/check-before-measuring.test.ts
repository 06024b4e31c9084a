import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../runtime/core/ports/local-stack.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { cli, EXIT } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';

/**
 * Everything a command can check is checked before it measures: where the results go, the run id,
 * the input, the load's size — so a run is never measured and then lost. The user's server is the
 * target whenever they named one, anywhere. The worker threads fit the machine.
 */

const tempDir = useTempDirs();
/** The local cloud's stack, with the runner bundle this test run already built. */
const stack = async (): Promise<LocalStack> => ({ ...testStack, buildRunnerBundle: (out: string) => copyFile(runnerBundle(), out) });

/** A target that counts what reaches it: "before any request is sent" is a count of zero. */
let hits = 0;
let counting: Server;
let countingUrl: string;
let sim: RunningSimulator;
beforeAll(async () => {
  counting = createServer((req, res) => {
    hits += 1;
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => counting.listen(0, '127.0.0.1', r));
  countingUrl = `http://127.0.0.1:${(counting.address() as { port: number }).port}`;
  sim = await startSimulator({ models: ['served-model'], ttftMs: 1, itlMs: 1, jitterMs: 0 });
});
afterAll(async () => {
  await new Promise((r) => counting.close(r));
  await sim.close();
});

/** A directory this user cannot write, even as root (procfs refuses writes to /proc/sys). */
const READ_ONLY = '/proc/sys/inference-baseline-results';

describe('workflow checks its destination and input before the local cloud starts', () => {
  it('workflow --out <a file>: exit 2 naming --out, no request sent, nothing started', async () => {
    const file = join(await tempDir(), 'hostname');
    await writeFile(file, 'not a directory\n');
    hits = 0;
    const r = await cli(['workflow', '--target', countingUrl, '--out', file], { localStack: stack });
    expect(r.stderr).toMatch(new RegExp(`^error: --out ${file}: is a file, not a directory\\nFix: `));
    expect(r.stderr).not.toContain('local workflow:');
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(0);
  });

  it('workflow --out <a directory that cannot be written>: exit 2, no request sent', async () => {
    hits = 0;
    const r = await cli(['workflow', '--target', countingUrl, '--out', READ_ONLY], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --out \/proc\/sys\/inference-baseline-results: cannot be written: creating a directory in \/proc\/sys failed \(E[A-Z]+\)\nFix: /);
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(0);
  });

  it('workflow --input \'{"runId": <a run already in --out>}\': exit 2, the earlier run untouched, no request sent', async () => {
    const out = await tempDir();
    const runId = '20250101T020000Z-taken1';
    await mkdir(join(out, runId));
    await writeFile(join(out, runId, 'run.json'), '{"earlier":true}');
    hits = 0;
    const r = await cli(['workflow', '--target', countingUrl, '--out', out, '--input', JSON.stringify({ runId })], { localStack: stack });
    expect(r.stderr).toMatch(new RegExp(`^error: --input runId: ${join(out, runId)} already holds a run\\nFix: results of earlier runs are never overwritten: choose another runId in --input`));
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(0);
    expect(await readFile(join(out, runId, 'run.json'), 'utf8')).toBe('{"earlier":true}');
  });

  it('workflow --input with a key PrepareRun does not know: one message at once, nothing left in --out', async () => {
    const out = await tempDir();
    const r = await cli(['workflow', '--out', out, '--input', '{"overides": {}}'], { localStack: stack });
    expect(r.stderr).toMatch(/^error: execution input: overides: unknown/);
    expect(r.stderr.match(/Fix: /g)).toHaveLength(1);
    expect(r.stderr).not.toContain('local workflow:');
    expect(r.code).toBe(EXIT.usage);
    expect(await readdir(out)).toEqual([]);
  });

  it('workflow --rate 0.0001 (a one-request run, never valid): refused with the minimum named', async () => {
    const r = await cli(['workflow', '--rate', '0.0001', '--duration', '60', '--out', await tempDir()], { localStack: stack });
    expect(r.stderr).toMatch(/overrides\.load: rate × duration plans 1 request \(0\.0001\/s × 60 s; a stage sends at least one\), fewer than the 10 successful requests a valid baseline needs \(validity\.min_successes\); plan at least 10: e\.g\. 0\.167\/s over 60 s/);
    expect(r.code).toBe(EXIT.usage);
  });

  it('workflow --out s3://…: the local workflow writes to a directory, said before anything starts', async () => {
    const r = await cli(['workflow', '--out', 's3://results/runs'], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --out s3:\/\/results\/runs: the local workflow writes its run to a directory on this machine\n/);
    expect(r.code).toBe(EXIT.usage);
  });
});

describe('the target is the server the user named, anywhere', () => {
  it('run --config with server.base_url and no --target measures that server, and says so first', async () => {
    const dir = await tempDir();
    const config = join(dir, 'mine.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\n  num_workers: 1\nserver:\n  type: vllm\n  base_url: ${sim.url}\n  model_name: served-model\n`);
    const before = sim.groundTruth().length;
    const r = await cli(['run', '--config', config, '--out', join(dir, 'out'), '--run-id', '20250101T020000Z-mine01']);
    expect(r.stderr.split('\n')[0]).toBe(`target: ${sim.url} (server.base_url of ${config})`);
    expect(r.stderr).not.toContain('built-in');
    expect(sim.groundTruth().length - before).toBeGreaterThanOrEqual(10);
    // Recorded: run.json names the server measured.
    expect(await readFile(join(dir, 'out', '20250101T020000Z-mine01', 'run.json'), 'utf8')).toContain(`"target": "${sim.url}"`);
    expect([EXIT.ok, EXIT.invalid]).toContain(r.code);
  });

  it('run without --target or --config: the simulator, said first', async () => {
    const r = await cli(['run', '--rate', '10', '--duration', '1', '--workers', '1', '--out', await tempDir()]);
    expect(r.stderr.split('\n')[0]).toMatch(/^target: the built-in vLLM-compatible simulator at http:\/\/127\.0\.0\.1:\d+ \(pass --target URL to measure a real server\)$/);
  });
});

describe('bounded before measuring', () => {
  it('load.num_workers: 99 in a config is refused with the bound (the --workers flag has the same one)', async () => {
    const dir = await tempDir();
    const config = join(dir, 'many.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\n  num_workers: 99\nserver:\n  type: vllm\n  base_url: ${sim.url}\n  model_name: served-model\n`);
    const r = await cli(['run', '--config', config, '--out', join(dir, 'out')]);
    expect(r.stderr).toMatch(/load\.num_workers: at most 64 worker threads per runner/);
    expect(r.code).toBe(EXIT.usage);
    expect(await readdir(dir)).toEqual(['many.yml']);
  });

  it.each([
    ['--rate', '0.0001', /plans 1 request \(0\.0001\/s × 1 s; a stage sends at least one\), fewer than the 10 successful requests/],
    ['--duration', '0.1', /plans 1 request \(1\/s × 0\.1 s; a stage sends at least one\), fewer than the 10 successful requests.*plan at least 10: e\.g\. 1\/s for 10 s/],
  ])('run %s %s: a run that cannot be valid is refused up front, naming the minimum', async (flag, value, message) => {
    const args = flag === '--rate' ? ['--rate', value, '--duration', '1'] : ['--duration', value];
    const r = await cli(['run', '--target', sim.url, '--model', 'served-model', ...args, '--out', await tempDir()]);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(EXIT.usage);
  });
});

describe('worker threads fit the machine', () => {
  it('run on 2 CPUs with the preset\'s 4 workers and no --workers: 2, and it says so', async () => {
    const out = await tempDir();
    const r = await cli(['run', '--target', sim.url, '--model', 'served-model', '--rate', '10', '--duration', '1', '--out', out, '--run-id', '20250101T020000Z-fit002'], { cpus: 2 });
    expect(r.stderr).toContain('note: load.num_workers 4 → 2: this machine has 2 CPU(s), and workers that share one send late; pass --workers 4 to insist (the deployed Job keeps 4, with a CPU each)');
    const shards = (await readdir(join(out, '20250101T020000Z-fit002', 'requests'))).filter((f) => /^shard-\d+\.json$/.test(f));
    expect(shards).toHaveLength(2);
  });

  it('an explicit --workers 4 on 2 CPUs is obeyed (the runner warns by the CPUs it really has: test/runner/workers.test.ts)', async () => {
    const out = await tempDir();
    const r = await cli(['run', '--target', sim.url, '--model', 'served-model', '--rate', '10', '--duration', '1', '--workers', '4', '--out', out, '--run-id', '20250101T020000Z-fit004'], { cpus: 2 });
    expect(r.stderr).not.toContain('load.num_workers 4 →');
    const shards = (await readdir(join(out, '20250101T020000Z-fit004', 'requests'))).filter((f) => /^shard-\d+\.json$/.test(f));
    expect(shards).toHaveLength(4);
  });
});

/**
 * What a new user's probe found after the first round (.scratch/probe-report-1e412f8.md): root may
 * "write" anywhere by access(2), so /proc and /sys passed the --out check and failed (or hung) after
 * the run; a base URL with /v1 crashed; a server failing every request was called "not
 * OpenAI-compatible". Each is now one message and exit 2 before anything is measured.
 */
describe('as root, on pseudo file systems, with a base URL ending in /v1', () => {
  it.each([['/proc/nope'], ['/sys/kernel']])('run --out %s: exit 2 before the target is touched (root can "access" it, not create in it)', async (out) => {
    hits = 0;
    const r = await cli(['run', '--target', countingUrl, '--out', out]);
    expect(r.stderr).toMatch(new RegExp(`^error: --out ${out}: cannot be written: creating a directory in /(proc|sys/kernel) failed \\(E[A-Z]+\\)\\nFix: pass a directory you can write`));
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(0);
  });

  it('workflow --out /sys/kernel: exit 2 before the local cloud starts, no request sent', async () => {
    hits = 0;
    const r = await cli(['workflow', '--target', countingUrl, '--out', '/sys/kernel'], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --out \/sys\/kernel: cannot be written/);
    expect(r.stderr).not.toContain('local workflow:');
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(0);
  });

  it('run --config with server.base_url http://…/v1: refused with the address to use, before the target line and any request', async () => {
    const dir = await tempDir();
    const config = join(dir, 'v1.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\nserver:\n  base_url: ${countingUrl}/v1\n`);
    hits = 0;
    const r = await cli(['run', '--config', config, '--out', join(dir, 'out')]);
    expect(r.stderr).toBe(`error: ${config}: server.base_url: give the server's base URL without /v1 (e.g. ${countingUrl})\nFix: set server.base_url to the server's base URL, e.g. http://qwen3-vllm.default:8000 (http or https, without /v1).\n`);
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(0);
  });

  it.each([['notaurl'], ['ftp://127.0.0.1:18000']])('run --config with server.base_url %s: what a base URL is, and the fix for it', async (url) => {
    const dir = await tempDir();
    const config = join(dir, 'bad.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\nserver:\n  base_url: ${url}\n`);
    const r = await cli(['run', '--config', config, '--out', join(dir, 'out')]);
    expect(r.stderr).toMatch(/server\.base_url: must be an http\(s\) URL such as http:\/\/qwen3-vllm\.default:8000\nFix: set server\.base_url to the server's base URL/);
    expect(r.code).toBe(EXIT.usage);
  });

  it('render --target http://…/v1 and render --config with such a base_url: exit 2, no Job printed', async () => {
    const a = await cli(['render', '--image', 'example.com/ib:1', '--target', `${countingUrl}/v1`]);
    expect(a.stderr).toMatch(/--target <url>' argument '.*\/v1' is invalid\. give the server's base URL without \/v1/);
    expect(a.stdout).toBe('');
    expect(a.code).toBe(EXIT.usage);
    const dir = await tempDir();
    const config = join(dir, 'v1.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 1, duration: 10 }]\nserver:\n  base_url: ${countingUrl}/v1\n`);
    const b = await cli(['render', '--image', 'example.com/ib:1', '--config', config]);
    expect(b.stderr).toMatch(/server\.base_url: give the server's base URL without \/v1/);
    expect(b.stdout).toBe('');
    expect(b.code).toBe(EXIT.usage);
  });

  it('workflow --input \'{"target":{"baseUrl":"http://…/v1"}}\': the input named, exit 2 at once, nothing in --out', async () => {
    const out = await tempDir();
    const r = await cli(['workflow', '--out', out, '--input', JSON.stringify({ target: { baseUrl: `${countingUrl}/v1` } })], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --input target\.baseUrl: give the server's base URL without \/v1/);
    expect(r.code).toBe(EXIT.usage);
    expect(await readdir(out)).toEqual([]);
  });

  it('workflow --target <nothing listening>: exit 2 before the local cloud starts, nothing in --out (run says the same)', async () => {
    const out = await tempDir();
    const r = await cli(['workflow', '--target', 'http://127.0.0.1:1', '--out', out], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --target: cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    expect(r.stderr).not.toContain('local workflow:');
    expect(r.code).toBe(EXIT.usage);
    expect(await readdir(out)).toEqual([]);
  });

  it('a server answering HTTP 500 to everything: "answered HTTP 500 … failing", not "not an OpenAI-compatible server"', async () => {
    hits = 0;
    const r = await cli(['run', '--target', countingUrl, '--out', await tempDir()]);
    expect(r.stderr).toMatch(/^error: --target: http:\/\/127\.0\.0\.1:\d+ answered HTTP 500 to GET \/v1\/models: \(empty body\)\nFix: the server is up but failing: check its logs and health/m);
    expect(r.stderr).not.toContain('not an OpenAI-compatible');
    expect(r.code).toBe(EXIT.usage);
  });
});

describe('flags say what they take', () => {
  it.each([
    [['run', '--duration', '1e1'], /argument '1e1' is invalid\. must be a positive number \(seconds\), written in plain decimal digits \(no hex, exponent or Infinity\)/],
    [['workflow', '--runner', 'nosuch'], /argument 'nosuch' is invalid\. must be native or inference-perf; got "nosuch"/],
    [['render', '--image', 'example.com/ib:1', '--run-id', 'nope'], /'--run-id <id>' argument 'nope' is invalid\. must be UTC time/],
    [['render', '--bundle-sha256', 'xyz'], /must be the bundle's sha256 as 64 lower-case hex digits \(sha256sum prints it\); got "xyz"/],
    [['render', '--image', ''], /'--image <ref>' argument '' is invalid\. must not be empty/],
    [['simulate', '--model', ''], /^error: --model: a served model name cannot be empty\nFix: pass the names the simulator serves/],
  ])('%j: exit 2, the flag and what it takes', async (args, message) => {
    const r = await cli(args, { localStack: stack });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(EXIT.usage);
  });

  it('render --scenario with --config: refused as run refuses it (the preset would be ignored)', async () => {
    const dir = await tempDir();
    const config = join(dir, 'c.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 1, duration: 10 }]\nserver:\n  base_url: http://127.0.0.1:8000\n`);
    const r = await cli(['render', '--image', 'example.com/ib:1', '--scenario', 'baseline', '--config', config]);
    expect(r.stderr).toMatch(/^error: --scenario with --config: --config .* replaces the preset, so --scenario baseline would be ignored/);
    expect(r.code).toBe(EXIT.usage);
  });

  it('run names its run directory at the start, so an interrupted run can be found and aggregated', async () => {
    const out = await tempDir();
    const r = await cli(['run', '--target', sim.url, '--model', 'served-model', '--rate', '10', '--duration', '1', '--workers', '1', '--out', out, '--run-id', '20250101T020000Z-named1']);
    expect(r.stderr.split('\n')[1]).toBe(`run 20250101T020000Z-named1: results go to ${join(out, '20250101T020000Z-named1')}`);
  });
});

/**
 * The second probe (.scratch/probe-report-3976293.md): URLs with a query, fragment, credentials or
 * a path prefix; damaged derived files; checks `workflow` and `start` made only after starting.
 */
describe('one URL rule, and a path prefix is kept', () => {
  it.each([
    ['http://127.0.0.1:18000?x=1', /must not carry a query or fragment/],
    ['http://127.0.0.1:18000#frag', /must not carry a query or fragment/],
    ['http://u:p@127.0.0.1:18000', /must not carry a user or password \(they would be printed and stored with the results\): put the API key in server\.api_key/],
  ])('run --target %s: exit 2, the rule and the fix', async (url, message) => {
    const r = await cli(['run', '--target', url, '--out', await tempDir()]);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(EXIT.usage);
  });

  it('render --target with a query, and --bundle-url that is no URL: exit 2, no Job printed', async () => {
    const a = await cli(['render', '--image', 'example.com/ib:1', '--target', 'http://127.0.0.1:18000?x=1']);
    expect(a.code).toBe(EXIT.usage);
    expect(a.stdout).toBe('');
    const b = await cli(['render', '--bundle-url', 'notaurl', '--bundle-sha256', 'a'.repeat(64)]);
    expect(b.stderr).toMatch(/'--bundle-url <url>' argument 'notaurl' is invalid\. must be an http\(s\) URL the runner pod can fetch/);
    expect(b.code).toBe(EXIT.usage);
  });

  it('run --target http://gateway/qwen (a server mounted under a path, as behind an ingress): every request goes under the prefix, and the run measures', async () => {
    const seen: string[] = [];
    const gateway = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (!(req.url ?? '').startsWith('/qwen/')) return void res.writeHead(404).end();
      const up = httpRequest({ host: '127.0.0.1', port: sim.port, path: req.url!.slice('/qwen'.length), method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(gateway.address() as { port: number }).port}/qwen`;
      const r = await cli(['run', '--target', url, '--model', 'served-model', '--rate', '10', '--duration', '1', '--workers', '1', '--out', await tempDir()]);
      expect(r.stderr).not.toContain('error');
      expect([EXIT.ok, EXIT.invalid]).toContain(r.code);
      expect(seen.length).toBeGreaterThan(10);
      expect(seen.every((u) => u.startsWith('/qwen/'))).toBe(true);
      expect(seen).toContain('/qwen/v1/completions');
    } finally {
      gateway.closeAllConnections();
      await new Promise((r) => gateway.close(r));
    }
  });
});

describe('damaged derived files, and refusals that came late', () => {
  it('compare <run> whose summary.json or histograms.json is not JSON: exit 2, the file named, aggregate it again', async () => {
    const out = await tempDir();
    const runId = '20250101T020000Z-broke1';
    await cli(['run', '--target', sim.url, '--model', 'served-model', '--rate', '10', '--duration', '1', '--workers', '1', '--out', out, '--run-id', runId]);
    const dir = join(out, runId);
    const summary = await readFile(join(dir, 'summary.json'), 'utf8');
    await writeFile(join(dir, 'summary.json'), '{broken');
    const a = await cli(['compare', dir]);
    expect(a.stderr).toMatch(new RegExp(`^error: ${dir} summary\\.json: is not valid JSON \\(.*\\): the file is damaged\\nFix: aggregate it again: \`inference-baseline aggregate ${dir}\``));
    expect(a.code).toBe(EXIT.usage);
    await writeFile(join(dir, 'summary.json'), summary);
    await writeFile(join(dir, 'histograms.json'), 'garbage');
    const b = await cli(['compare', dir]);
    expect(b.stderr).toMatch(/histograms\.json: is not valid JSON/);
    expect(b.code).toBe(EXIT.usage);
  });

  it('workflow --target <server> --model <one it does not serve>: exit 2 before the local cloud starts', async () => {
    const out = await tempDir();
    const r = await cli(['workflow', '--target', sim.url, '--model', 'nosuch', '--out', out], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --model: model "nosuch" is not served by http:\/\/127\.0\.0\.1:\d+; it serves: served-model\nFix: pass --model served-model/);
    expect(r.stderr).not.toContain('local workflow:');
    expect(r.code).toBe(EXIT.usage);
    expect(await readdir(out)).toEqual([]);
  });

  it("workflow --target <a TGI server> with the seed's ignore_eos: exit 2 before the local cloud starts, with workflow's way to turn it off", async () => {
    const tgi = await startSimulator({ dialect: 'tgi', models: ['served-model'], tokenizer: 'words' });
    try {
      const r = await cli(['workflow', '--target', tgi.url, '--model', 'served-model', '--out', await tempDir()], { localStack: stack });
      expect(r.stderr).toMatch(/^error: server\.ignore_eos: Hugging Face TGI has no ignore_eos/);
      expect(r.stderr).toContain(`Fix: pass --input '{"overrides":{"server":{"ignore_eos":false}}}' to measure variable-length output`);
      expect(r.code).toBe(EXIT.usage);
    } finally {
      await tgi.close();
    }
  });

  it('run --config whose server.base_url fails the warm-up: the config\'s key is named, not --target', async () => {
    const failing = await startSimulator({ models: ['served-model'], errorRate: 1, failureModes: ['status'], tokenizer: 'words' });
    try {
      const dir = await tempDir();
      const config = join(dir, 'mine.yml');
      await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\n  num_workers: 1\nserver:\n  base_url: ${failing.url}\n  model_name: served-model\n`);
      const r = await cli(['run', '--config', config, '--out', join(dir, 'out')]);
      expect(r.stderr).toMatch(new RegExp(`error: server\\.base_url of ${config}: POST /v1/completions answered HTTP 500 to the warm-up request`));
      expect(r.code).toBe(EXIT.usage);
    } finally {
      await failing.close();
    }
  });

  it.each([
    ['{"overrides":{"server":{"ignore_eos":"no"}}}', /^error: --input overrides: server\.ignore_eos: expected boolean/],
    ['{"overrides":{"server":{"type":"nosuch"}}}', /^error: --input overrides: server\.type: unsupported value "nosuch"/],
    ['{"overrides":{"load":{"num_workers":99}}}', /^error: --input overrides: load\.num_workers: at most 64/],
    ['{"target":{"baseUrl":"http://x:8000?q=1"}}', /^error: --input: target\.baseUrl: must not carry a query or fragment/],
  ])("start --input '%s': checked as workflow checks it, before any AWS call", async (input, message) => {
    const r = await cli(['start', '--input', input]);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(EXIT.usage);
  });

  it.each([
    [['simulate', '--error-status', '200'], /'--error-status <code>' argument '200' is invalid\. must be an HTTP error status from 400 to 599/],
    [['start', '--stack', ''], /'--stack <name>' argument '' is invalid\. must not be empty/],
    [['render', '--image', 'example.com/ib:1', '--service-account', 'Bad_SA'], /must be a Kubernetes ServiceAccount name: lower-case letters, digits and "-"/],
    [['render', '--runner', 'inference-perf', '--tokenizer', ''], /'--tokenizer <name>' argument '' is invalid\. must not be empty/],
  ])('%j: exit 2, the flag and what it takes', async (args, message) => {
    const r = await cli(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(EXIT.usage);
  });
});

/** The third probe (.scratch/probe-report-4ac37d2.md). */
describe('the server workflow names is the one it measures; smaller refusals', () => {
  it('workflow --input \'{"overrides":{"server":{"base_url":…}}}\': that server is the target — named, checked first (here it fails: exit 2, no local cloud)', async () => {
    hits = 0;
    const out = await tempDir();
    const r = await cli(['workflow', '--out', out, '--input', JSON.stringify({ overrides: { server: { base_url: countingUrl } } })], { localStack: stack });
    expect(r.stderr).toMatch(new RegExp(`^error: --input overrides\\.server\\.base_url: ${countingUrl.replace(/[.]/g, '\\.')} answered HTTP 500 to GET /v1/models`));
    expect(r.stderr).not.toContain('local workflow:');
    expect(r.code).toBe(EXIT.usage);
    expect(hits).toBe(1);
    expect(await readdir(out)).toEqual([]);
  });

  it('workflow --target A --input \'{"target":{"baseUrl":B}}\': the flag wins, as the help says — A is checked (and refused here), B never asked', async () => {
    hits = 0;
    const before = sim.groundTruth().length;
    const r = await cli(['workflow', '--target', countingUrl, '--out', await tempDir(), '--input', JSON.stringify({ target: { baseUrl: sim.url } })], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --target: http:\/\/127\.0\.0\.1:\d+ answered HTTP 500/);
    expect(hits).toBe(1);
    expect(sim.groundTruth().length).toBe(before);
  });

  it("workflow --input '{\"target\":{\"modelName\":\"nosuch\"}}': the input's key is named, not --model", async () => {
    const r = await cli(['workflow', '--target', sim.url, '--out', await tempDir(), '--input', JSON.stringify({ target: { modelName: 'nosuch' } })], { localStack: stack });
    expect(r.stderr).toMatch(/^error: --input target\.modelName: model "nosuch" is not served/);
    expect(r.code).toBe(EXIT.usage);
  });

  it('run --shard 1/2 alone: its own numbers, no verdict (half the rate is its share, not a fault), exit 0', async () => {
    const r = await cli(['run', '--target', sim.url, '--model', 'served-model', '--rate', '20', '--duration', '1', '--workers', '1', '--shard', '1/2', '--out', await tempDir()]);
    expect(r.stdout).toContain("verdict: none yet — these are shard 1 of 2's numbers (its share of the rate); the run is judged when all its shards are aggregated");
    expect(r.stdout).not.toContain('INVALID');
    expect(r.code).toBe(EXIT.ok);
  });

  it('run --config with server.api_key: the key is used but not stored in the run\'s config.yml', async () => {
    const keyed = await startSimulator({ models: ['served-model'], apiKey: 'sk-secret-1', ttftMs: 1, itlMs: 1, jitterMs: 0, tokenizer: 'words' });
    try {
      const dir = await tempDir();
      const config = join(dir, 'keyed.yml');
      await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\n  num_workers: 1\nserver:\n  base_url: ${keyed.url}\n  model_name: served-model\n  api_key: sk-secret-1\n`);
      const r = await cli(['run', '--config', config, '--out', join(dir, 'out'), '--run-id', '20250101T020000Z-keyed1']);
      expect([EXIT.ok, EXIT.invalid]).toContain(r.code);
      const stored = await readFile(join(dir, 'out', '20250101T020000Z-keyed1', 'config.yml'), 'utf8');
      expect(stored).toContain('api_key: <redacted>');
      expect(stored).not.toContain('sk-secret-1');
    } finally {
      await keyed.close();
    }
  });

  it('simulate --ground-truth <an unrelated existing file>: refused, the file untouched', async () => {
    const file = join(await tempDir(), 'notes.txt');
    await writeFile(file, 'my notes\n');
    const r = await cli(['simulate', '--port', '0', '--ground-truth', file]);
    expect(r.stderr).toMatch(/^error: --ground-truth .*notes\.txt: exists and does not hold ground-truth lines/);
    expect(r.code).toBe(EXIT.usage);
    expect(await readFile(file, 'utf8')).toBe('my notes\n');
  });

  it.each([
    [['run', '--run-id', '20260230T020000Z-abcd'], /^error: --run-id: "20260230T020000Z-abcd" is not a valid run id/],
    [['run', '--target', 'http://127.0.0.1:99999'], /port 99999 is out of range: a TCP port is 1 to 65535/],
    [['simulate', '--host', ''], /'--host <host>' argument '' is invalid\. must not be empty/],
    [['simulate', '--tokens-per-chunk', '1.5'], /must be a whole number ≥ 1 \(tokens\); got "1\.5"/],
    [['simulate', '--max-concurrency', '1.5'], /must be a whole number ≥ 1 \(requests\); got "1\.5"/],
    [['render', '--image', 'example.com/ib:1', '--bundle-url', 'http://x/b', '--bundle-sha256', 'a'.repeat(64)], /--image with --bundle-url\/--bundle-sha256: the Job runs either the image or the bundle/],
    [['start', '--input', '{"runId":"20261307T020000Z-ab12cd"}'], /^error: --input: runId: must be UTC time[\s\S]*Fix: correct the listed values/],
  ])('%j: exit 2, the problem named', async (args, message) => {
    const r = await cli(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(EXIT.usage);
  });
});
