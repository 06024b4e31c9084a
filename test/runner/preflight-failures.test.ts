import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { runBenchmark } from '../../runtime/runner/run.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../runtime/simulator/index.ts';
import { loopbackRunOptions } from '../helpers/scenario.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * A target that fails the runner's preflight is told what happened — the HTTP status and the
 * server's own words, or the stall and the limit it ran into — and what to check; never pointed
 * at an endpoint or setting that is not the cause. Real loopback HTTP against the simulator's
 * injected failures.
 */
const tempDir = useTempDirs();
const RUN_ID = '20250101T020000Z-prefl';
const fast: SimulatorOptions = { ttftMs: 1, itlMs: 1, jitterMs: 0 };

let sim: RunningSimulator | undefined;
let proxy: http.Server | undefined;
afterEach(async () => {
  if (proxy) {
    const p = proxy;
    proxy = undefined;
    p.closeAllConnections();
    await new Promise((r) => p.close(r));
  }
  await sim?.close();
  sim = undefined;
});

async function preflightError(baseUrl: string, over: Record<string, unknown> = {}): Promise<InputError> {
  const dir = join(await tempDir(), 'run');
  const err = await runBenchmark(loopbackRunOptions(baseUrl, dir, RUN_ID, over)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

/**
 * The simulator behind a front that answers 404 to /tokenize: an OpenAI-compatible server without
 * it. With `stripUsage`, non-streamed answers lose their usage too (a server that cannot count prompts).
 */
async function withoutTokenize(target: RunningSimulator, o: { stripUsage?: boolean } = {}): Promise<string> {
  proxy = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith('/tokenize')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"detail":"Not Found"}');
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      if (!o.stripUsage || req.url !== '/v1/completions' || up.statusCode !== 200) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as object), usage: null }));
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

describe('preflight failures say what the target did', () => {
  it('a target answering HTTP 500 to every warm-up request: "answered HTTP 500", its body quoted, its logs to check — not api.type', async () => {
    sim = await startSimulator({ ...fast, errorRate: 1, failureModes: ['status'], errorStatus: 500 });

    const err = await preflightError(sim.url);

    expect(err.input).toBe('--target');
    expect(err.message).toMatch(/^--target: POST \/v1\/completions answered HTTP 500 to the warm-up request \(the last of 8 tries\): "InternalServerError: Simulated failure: the simulator injected HTTP 500/);
    expect(err.fix).toMatch(/^the server is up \(it listed its models\) but failed to generate: check its logs/);
    expect(err.message).not.toMatch(/api\.type|\/tokenize/);
  });

  it('a target without /tokenize answering HTTP 500 to the 1-token probe: "answered HTTP 500", its body quoted — not "use a server that has /tokenize"', async () => {
    sim = await startSimulator({ ...fast, errorRate: 1, failureModes: ['status'], errorStatus: 500 });
    const url = await withoutTokenize(sim);

    const err = await preflightError(url);

    expect(err.message).toMatch(/^--target: POST \/v1\/completions answered HTTP 500 to a 1-token probe: "InternalServerError: Simulated failure: the simulator injected HTTP 500/);
    expect(err.fix).toMatch(/^the server is up \(it listed its models\) but failed to generate: check its logs and that it can generate for model "qwen3-8b"/);
    expect(err.message).not.toMatch(/tokenize|api\.type/);
  });

  it('a target without /tokenize whose answers carry no usage: told it cannot count prompt tokens, with why /tokenize failed', async () => {
    sim = await startSimulator(fast);
    const url = await withoutTokenize(sim, { stripUsage: true });

    const err = await preflightError(url);

    expect(err.message).toMatch(/^--target: the runner cannot count prompt tokens as the server does: its tokenize endpoint failed \(POST \/tokenize answered HTTP 404: \{"detail":"Not Found"\}\), and POST \/v1\/completions answered without usage\.prompt_tokens/);
    expect(err.fix).toBe("set tokenizer.pretrained_model_name_or_path to the served model's tokenizer (a local directory or a Hugging Face model id), or use a server that reports usage.");
  });

  it('a stream that stalls after 3 tokens during warm-up (load.request_timeout 0.2): "stalled after 3 tokens", request_timeout named, retried once only, not api.type', async () => {
    sim = await startSimulator({ ...fast, errorRate: 1, failureModes: ['stall'], abortAfterTokens: 3, stallMs: 60_000 });

    const err = await preflightError(sim.url, { load: { request_timeout: 0.2 } });

    expect(err.message).toMatch(/^--target: the warm-up request to POST \/v1\/completions stalled after 3 tokens, \d+ m?s after it was sent: then the stream sent nothing for 0\.2 s \(load\.request_timeout\) \(the last of 2 tries\)\n/);
    expect(err.fix).toMatch(/raise load\.request_timeout in the config \(now 0\.2 s\)\.$/);
    expect(err.message).not.toContain('api.type');
    // Each stalled try waits out request_timeout: a second stall ends the warm-up, not the eighth.
    expect(sim.groundTruth().filter((g) => g.requestId.startsWith('warmup-')).map((g) => g.failure)).toEqual(['stall', 'stall']);
  });

  it('a stream that stalls once, then answers (a flaky target): the warm-up retries and the run goes ahead', async () => {
    // errorRate 0.6 with seed 3 draws a stall for the first request and none for the second.
    sim = await startSimulator({ ...fast, errorRate: 0.6, failureModes: ['stall'], abortAfterTokens: 3, stallMs: 60_000, seed: 3 });
    const dir = join(await tempDir(), 'run');

    const { summary } = await runBenchmark(loopbackRunOptions(sim.url, dir, RUN_ID, { load: { stages: [{ rate: 2, duration: 1 }], request_timeout: 0.2 } }));

    expect(sim.groundTruth().filter((g) => g.requestId.startsWith('warmup-')).map((g) => g.failure)).toEqual(['stall', null]);
    expect(summary.requests.scheduled).toBe(2);
  });
});
