import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { RequestRecord } from '../../runtime/core/records/record.ts';
import { RunManifest } from '../../runtime/core/records/run-manifest.ts';
import { runBenchmark } from '../../runtime/runner/run.ts';
import { DEFAULT_HUB, type HubAccess } from '../../runtime/runner/tokenizer-source.ts';
import type { RunOptions, RunResult } from '../../runtime/runner/types.ts';
import type { ServerType } from '../../runtime/core/scenario/servers.ts';
import { words } from '../../runtime/runner/words.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { loopbackRunOptions } from '../helpers/scenario.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { writeToyTokenizer } from '../support/toy-tokenizer.ts';

/**
 * Exact baselines on every server teams run on EKS. Each server is the simulator replaying that
 * server's bytes (runtime/simulator/dialects/*.ts cite the source files and commits), counting tokens
 * with a real tokenizer.json that is NOT one token per word (test/support/toy-tokenizer.ts: ≈ 1.5
 * tokens per prompt word), over real loopback HTTP. Either the run is valid with exactly the
 * requested input and output tokens, or — where the server cannot honour ignore_eos — it is refused
 * before any generation request, naming the server and the fix.
 */
const tempDir = useTempDirs();
const fast = { ttftMs: 1, itlMs: 1, jitterMs: 0 };
const apis = ['completion', 'chat'] as const;

let sim: RunningSimulator | undefined;
let hub: http.Server | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  if (hub) {
    const h = hub;
    hub = undefined;
    h.closeAllConnections();
    await new Promise((r) => h.close(r));
  }
});

/** A toy tokenizer.json in its own directory; its path. */
async function toyTokenizer(): Promise<string> {
  const dir = join(await tempDir(), 'toy');
  mkdirSync(dir);
  return writeToyTokenizer(dir);
}

function records(dir: string): RequestRecord[] {
  const req = join(dir, 'requests');
  return readdirSync(req)
    .filter((f) => f.endsWith('.ndjson.gz'))
    .flatMap((f) => gunzipSync(readFileSync(join(req, f))).toString('utf8').trim().split('\n'))
    .map((l) => RequestRecord.parse(JSON.parse(l)));
}

/**
 * The runner's options for `url`: the small baseline with `over`, 10 requests, and — unlike the
 * seed preset, which says `server.type: vllm` and names Qwen3's tokenizer — no server type (detect
 * it) and no tokenizer unless `over` names one.
 */
function options(url: string, dir: string, runId: string, over: Record<string, unknown>, hubAccess?: HubAccess): RunOptions {
  const o = loopbackRunOptions(url, dir, runId, { validity: { min_successes: 1 }, ...over });
  const named = (over.server as { type?: ServerType } | undefined)?.type;
  o.scenario.server.type = named ?? null;
  if (!over.tokenizer) o.scenario.tokenizer = null;
  return { ...o, hub: hubAccess, onNote: (l) => notes.push(l) };
}

const notes: string[] = [];
async function run(url: string, over: Record<string, unknown>, hubAccess?: HubAccess): Promise<{ result: RunResult; dir: string }> {
  const dir = join(await tempDir(), 'run');
  notes.length = 0;
  const result = await runBenchmark(options(url, dir, '20260101T000000Z-dial1', over, hubAccess));
  return { result, dir };
}

async function refusal(url: string, over: Record<string, unknown>, hubAccess?: HubAccess): Promise<{ err: InputError; dir: string }> {
  const dir = join(await tempDir(), 'run');
  const err = await runBenchmark(options(url, dir, '20260101T000000Z-dial2', over, hubAccess)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return { err: err as InputError, dir };
}

/**
 * The verdict on tokens: no mismatch, no missing usage, no failure, so no token reason. (Schedule
 * delay and rate are left out: on a busy machine a 1-second run may send late, and these tests are
 * about tokens, not timing.)
 */
function expectTokensVerified(result: RunResult): void {
  const s = result.summary;
  expect(s.tokens).toMatchObject({ inputMismatches: 0, outputMismatches: 0, missingServerUsage: 0 });
  expect(s.requests).toMatchObject({ succeeded: 10, failed: 0 });
  expect(s.validity.reasons.filter((r) => !/^(The achieved rate|Requests were sent late|Schedule delay)/.test(r))).toEqual([]);
}

/** The generation requests the simulator answered (its ground truth: one entry per generation). */
function generations(): number {
  return sim!.groundTruth().length;
}

describe('exact baselines on servers that honour ignore_eos (a tokenizer that is not one token per word)', () => {
  for (const dialect of ['vllm', 'sglang', 'trtllm', 'llamacpp'] as const) {
    for (const api of apis) {
      it(`${dialect}, ${api}: detected, prompts counted the server's way, every request exactly 64 in / 16 out, valid`, async () => {
        sim = await startSimulator({ ...fast, dialect, tokenizer: await toyTokenizer() });

        const { result, dir } = await run(sim.url, { api: { type: api, streaming: true } });

        const all = records(dir);
        expect(all).toHaveLength(10);
        for (const r of all) {
          expect(r.error).toBeNull();
          expect(r.inputTokens.server).toBe(64);
          expect(r.outputTokens.server).toBe(16);
          expect(r.finishReason).toBe('length');
        }
        expectTokensVerified(result);
        const manifest = RunManifest.parse(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')));
        expect(manifest.server?.type).toBe(dialect);
        expect(manifest.server?.typeFrom).toMatch(/GET \/v1\/models|Server header/);
        expect(manifest.server?.promptTokens?.method).toBe('tokenize-endpoint');
        expect(notes.join('\n')).toContain('(detected: ');
      });
    }
  }
});

describe('server.type against what the server says', () => {
  it("the seed's server.type vllm against an SGLang server: SGLang's dialect is spoken, and the run says why", async () => {
    sim = await startSimulator({ ...fast, dialect: 'sglang', tokenizer: await toyTokenizer() });

    const { result, dir } = await run(sim.url, { server: { type: 'vllm' } });

    expect(notes).toContain('server: SGLang — server.type says vllm, but the server says otherwise (GET /v1/models: owned_by "sglang"); speaking sglang\'s dialect. Set server.type: sglang (or remove it) to silence this.');
    expectTokensVerified(result);
    const manifest = RunManifest.parse(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')));
    expect(manifest.server).toMatchObject({ type: 'sglang', typeFrom: 'GET /v1/models: owned_by "sglang"' });
  });

  it('server.type agreeing with the server: spoken, and recorded as server.type', async () => {
    sim = await startSimulator({ ...fast, dialect: 'llamacpp', tokenizer: await toyTokenizer() });

    const { dir } = await run(sim.url, { server: { type: 'llamacpp' } });

    expect(notes).toContain("server: llama.cpp's server (server.type)");
    const manifest = RunManifest.parse(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')));
    expect(manifest.server).toMatchObject({ type: 'llamacpp', typeFrom: 'server.type' });
  });
});

describe('ignore_eos is proven by the warm-up, not assumed', () => {
  /** A vLLM simulator behind a front that drops ignore_eos from every request: a server that ignores it. */
  async function ignoringIgnoreEos(target: RunningSimulator): Promise<string> {
    hub = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (body.length > 0 && (req.url ?? '').startsWith('/v1/')) {
          const obj = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
          delete obj.ignore_eos;
          body = Buffer.from(JSON.stringify(obj));
        }
        const headers = { ...req.headers, 'content-length': String(body.length) };
        const up = http.request({ host: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        up.end(body);
      });
    });
    await new Promise<void>((r) => hub!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  }

  it('a server that says it is vLLM but stops the warm-up at EOS: refused before the run, naming finish_reason "stop" and the fix; nothing created', async () => {
    sim = await startSimulator({ ...fast, tokenizer: await toyTokenizer() });
    const url = await ignoringIgnoreEos(sim);

    const { err, dir } = await refusal(url, {});

    expect(err.input).toBe('server.ignore_eos');
    expect(err.message).toMatch(/^server\.ignore_eos: vLLM stopped the warm-up after \d+ of 16 output tokens \(finish_reason "stop"\): it did not honour ignore_eos/);
    expect(err.fix).toMatch(/serve the model with a server that honours ignore_eos or min_tokens \(vLLM, SGLang, TensorRT-LLM, llama\.cpp's server\).*or set server\.ignore_eos: false/);
    expect(generations()).toBe(1);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('servers without ignore_eos (TGI, Ollama)', () => {
  for (const dialect of ['tgi', 'ollama'] as const) {
    const name = dialect === 'tgi' ? 'Hugging Face TGI' : 'Ollama';
    for (const api of apis) {
      it(`${dialect}, ${api}, the seed's ignore_eos: true: refused before any generation request, naming ${name} and the fix; nothing created`, async () => {
        sim = await startSimulator({ ...fast, dialect, tokenizer: await toyTokenizer() });

        const { err, dir } = await refusal(sim.url, { api: { type: api, streaming: true } });

        expect(err.input).toBe('server.ignore_eos');
        expect(err.message).toContain(`${name} has no ignore_eos`);
        expect(err.fix).toMatch(/^set server\.ignore_eos: false in the config to measure variable-length output/);
        expect(generations()).toBe(0);
        expect(existsSync(dir)).toBe(false);
      });
    }
  }

  it('tgi, completion, server.ignore_eos: false: valid, exact input tokens by its /tokenize, outputs within max_tokens, and the summary says it is not the fixed-length baseline', async () => {
    sim = await startSimulator({ ...fast, dialect: 'tgi', tokenizer: await toyTokenizer() });

    const { result, dir } = await run(sim.url, { api: { type: 'completion', streaming: true }, server: { ignore_eos: false } });

    const all = records(dir);
    for (const r of all) {
      expect(r.inputTokens.server).toBe(64);
      expect(r.outputTokens.server).toBeLessThanOrEqual(16);
    }
    // TGI stopped at EOS (it has no ignore_eos): the outputs are shorter, and that is no mismatch now.
    expect(all.some((r) => r.outputTokens.server! < 16 && r.finishReason === 'eos_token')).toBe(true);
    expectTokensVerified(result);
    expect(result.summary.validity.notes).toEqual([expect.stringMatching(/^ignore_eos was off \(server\.ignore_eos: false\).*not the seed's fixed-length baseline/)]);
  });

  it('ollama, chat, server.ignore_eos: false, no tokenizer named: counted by usage probes (one-token words only), exact input tokens, valid', async () => {
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: await toyTokenizer() });

    const { result, dir } = await run(sim.url, { api: { type: 'chat', streaming: true }, server: { ignore_eos: false } });

    for (const r of records(dir)) expect(r.inputTokens.server).toBe(64);
    expectTokensVerified(result);
    const manifest = RunManifest.parse(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')));
    expect(manifest.server?.promptTokens).toMatchObject({ method: 'usage-probe' });
  });
});

describe('a tokenizer named by a Hugging Face model id (tokenizer.pretrained_model_name_or_path)', () => {
  /** A loopback hub serving the toy tokenizer as org/toy-model; counts what it was asked. */
  async function loopbackHub(tokenizerPath: string): Promise<{ endpoint: string; asked: string[] }> {
    const asked: string[] = [];
    const files: Record<string, string> = {
      '/org/toy-model/resolve/main/tokenizer.json': readFileSync(tokenizerPath, 'utf8'),
      '/org/toy-model/resolve/main/tokenizer_config.json': readFileSync(join(tokenizerPath, '..', 'tokenizer_config.json'), 'utf8'),
    };
    hub = http.createServer((req, res) => {
      asked.push(`${req.url} ${req.headers.authorization ?? ''}`.trim());
      const body = files[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(body ?? '{"error":"Entry not found"}');
    });
    await new Promise<void>((r) => hub!.listen(0, '127.0.0.1', r));
    return { endpoint: `http://127.0.0.1:${(hub.address() as AddressInfo).port}`, asked };
  }

  it('fetched from HF_ENDPOINT (with HF_TOKEN) for a server without a tokenize endpoint: calibrates exactly, recorded as client-tokenizer', async () => {
    const path = await toyTokenizer();
    const { endpoint, asked } = await loopbackHub(path);
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: path });

    const { result, dir } = await run(sim.url, { api: { type: 'completion', streaming: true }, server: { ignore_eos: false }, tokenizer: { pretrained_model_name_or_path: 'org/toy-model' } }, { endpoint, token: 'hf_secret', offline: false });

    expect(asked).toContain('/org/toy-model/resolve/main/tokenizer.json Bearer hf_secret');
    for (const r of records(dir)) expect(r.inputTokens.server).toBe(64);
    expectTokensVerified(result);
    const manifest = RunManifest.parse(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')));
    expect(manifest.server?.promptTokens?.method).toBe('client-tokenizer');
    expect(manifest.server?.promptTokens?.detail).toContain(`org/toy-model (${endpoint})`);
  });

  it('offline (HF_HUB_OFFLINE) without the file: refused before measuring, with the fix; nothing created', async () => {
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: await toyTokenizer() });

    const { err, dir } = await refusal(sim.url, { server: { ignore_eos: false }, tokenizer: { pretrained_model_name_or_path: 'org/toy-model' } }, { ...DEFAULT_HUB, offline: true });

    expect(err.input).toBe('tokenizer.pretrained_model_name_or_path');
    expect(err.message).toContain('"org/toy-model" is a Hugging Face model id, and HF_HUB_OFFLINE is set');
    expect(err.fix).toMatch(/local directory holding the model's tokenizer\.json, or set HF_ENDPOINT to a hub mirror/);
    expect(existsSync(dir)).toBe(false);
  });

  it('a hub that cannot be reached: refused before measuring, naming the URL and the fix', async () => {
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: await toyTokenizer() });

    // A port nothing listens on (fetch refuses "bad ports" such as 9 before it tries).
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));

    const { err } = await refusal(sim.url, { server: { ignore_eos: false }, tokenizer: { pretrained_model_name_or_path: 'org/toy-model' } }, { endpoint: `http://127.0.0.1:${port}`, token: undefined, offline: false });

    expect(err.message).toContain(`tokenizer.pretrained_model_name_or_path: cannot fetch http://127.0.0.1:${port}/org/toy-model/resolve/main/tokenizer.json: connect ECONNREFUSED`);
    expect(err.fix).toContain('set HF_ENDPOINT to a hub mirror this machine can reach');
  });

  it('a hub that refuses the token given (HTTP 401): the token is named as refused, not asked for', async () => {
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: await toyTokenizer() });
    hub = http.createServer((_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"Invalid credentials"}'));
    await new Promise<void>((r) => hub!.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;

    const { err } = await refusal(sim.url, { server: { ignore_eos: false }, tokenizer: { pretrained_model_name_or_path: 'org/toy-model' } }, { endpoint, token: 'hf_bad', offline: false });

    expect(err.message).toContain('answered HTTP 401: the token given (HF_TOKEN) was refused');
    expect(err.fix).toMatch(/^check that the token is valid and has been granted access to org\/toy-model/);
  });

  it('a hub that never answers: Ctrl-C stops the download at once (not after its 60 s limit)', async () => {
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: await toyTokenizer() });
    let asked!: () => void;
    let dropped!: () => void;
    const reached = new Promise<void>((r) => (asked = r));
    const closed = new Promise<void>((r) => (dropped = r));
    hub = http.createServer((req) => {
      req.socket.on('close', () => dropped());
      asked();
    });
    await new Promise<void>((r) => hub!.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
    const interrupt = new AbortController();
    const dir = join(await tempDir(), 'run');
    const o = options(sim.url, dir, '20260101T000000Z-dial3', { server: { ignore_eos: false }, tokenizer: { pretrained_model_name_or_path: 'org/toy-model' } }, { endpoint, token: undefined, offline: false });

    const running = runBenchmark({ ...o, interrupt: interrupt.signal }).then(() => 'finished', (e: unknown) => e);
    await reached;
    interrupt.abort(Object.assign(new Error('interrupted'), { name: 'AbortError' }));

    expect(String(await running)).toMatch(/interrupted/i);
    // The download itself was cancelled: the hub sees its connection closed (else it would stay open
    // for the 60 s limit — and keep the process alive that long, as the probe found).
    await closed;
    expect(existsSync(dir)).toBe(false);
  });

  it('a local directory: used as is', async () => {
    const path = await toyTokenizer();
    sim = await startSimulator({ ...fast, dialect: 'ollama', tokenizer: path });

    const { dir } = await run(sim.url, { server: { ignore_eos: false }, tokenizer: { pretrained_model_name_or_path: join(path, '..') } });

    for (const r of records(dir)) expect(r.inputTokens.server).toBe(64);
  });
});

describe('prompts under a tokenizer that is not one token per word', () => {
  it('the prompt words of the toy tokenizer cost more than one token each on average (else these tests would prove nothing)', async () => {
    const { tokenizerFromFiles } = await import('../../runtime/tokenizer/index.ts');
    const t = tokenizerFromFiles(await toyTokenizer());
    const sample = words.slice(0, 200);
    const tokens = sample.reduce((n, w) => n + t.count(` ${w}`), 0);
    expect(tokens / sample.length).toBeGreaterThan(1.2);
  });
});
