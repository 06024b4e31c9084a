import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getObjectText } from '../../runtime/aws/s3.ts';
import { RunManifest } from '../../runtime/core/records/run-manifest.ts';
import { VirtualClock } from '../../runtime/local/clock.ts';
import { RESULTS_BUCKET } from '../../runtime/local/environment.ts';
import { LocalWorkflow } from '../../runtime/local/workflow.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';
import { writeToyTokenizer } from '../support/toy-tokenizer.ts';

/**
 * The seam from the stack's `hfEndpoint`/`hfTokenSecret` to the runner's tokenizer download, whole:
 * stack context → PrepareRun's defaults → the RunSpec → the Job's env (HF_ENDPOINT; HF_TOKEN from an
 * optional Secret, which does not exist here, so it stays unset as the kubelet leaves it) → the
 * runner's CLI → a loopback hub. The target (the simulator speaking Ollama's dialect) has no tokenize
 * endpoint, so the tokenizer the execution input names must come from the hub.
 */
const tempDir = useTempDirs();
let wf: LocalWorkflow;
let hub: http.Server;
const asked: string[] = [];

beforeAll(async () => {
  const dir = join(await tempDir(), 'toy');
  await mkdir(dir);
  const tokenizer = writeToyTokenizer(dir);
  const files: Record<string, string> = {
    '/org/toy-model/resolve/main/tokenizer.json': await readFile(tokenizer, 'utf8'),
    '/org/toy-model/resolve/main/tokenizer_config.json': await readFile(join(dir, 'tokenizer_config.json'), 'utf8'),
  };
  hub = http.createServer((req, res) => {
    asked.push(`${req.url} ${req.headers.authorization ?? 'no token'}`);
    const body = files[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(body ?? '{}');
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  const hfEndpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  wf = await LocalWorkflow.start({
    stack: testStack,
    bundleFile: runnerBundle(),
    clock: new VirtualClock(),
    simulator: { dialect: 'ollama', tokenizer, ttftMs: 1, itlMs: 1, jitterMs: 0 },
    config: { hfEndpoint, hfTokenSecret: 'hf-token' },
  });
}, 120_000);

afterAll(async () => {
  await wf?.stop();
  hub.closeAllConnections();
  await new Promise((r) => hub.close(r));
});

describe("the stack's Hugging Face hub settings, end to end", () => {
  it('the runner pod fetches the named tokenizer from hfEndpoint (no token: the optional Secret is absent) and calibrates exactly', async () => {
    const r = await wf.execute({
      input: {
        overrides: {
          server: { ignore_eos: false },
          tokenizer: { pretrained_model_name_or_path: 'org/toy-model' },
          load: { stages: [{ rate: 10, duration: 1 }], num_workers: 1 },
          validity: { min_successes: 1 },
        },
      },
    });

    expect(r.error ?? null).toBeNull();
    expect(r.status).toBe('SUCCEEDED');
    expect(asked).toContain('/org/toy-model/resolve/main/tokenizer.json no token');
    const manifest = RunManifest.parse(JSON.parse(await getObjectText(wf.env.s3Client, RESULTS_BUCKET, `${r.runSpec!.s3.prefix}run.json`)));
    expect(manifest.server).toMatchObject({ type: 'ollama', promptTokens: { method: 'client-tokenizer' } });
    const summary = JSON.parse(await getObjectText(wf.env.s3Client, RESULTS_BUCKET, r.runSpec!.s3.summaryKey)) as { tokens: { inputMismatches: number; missingServerUsage: number }; requests: { succeeded: number } };
    expect(summary.requests.succeeded).toBe(10);
    expect(summary.tokens).toMatchObject({ inputMismatches: 0, missingServerUsage: 0 });
  });
});
