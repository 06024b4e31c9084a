import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { resolveSimulatorOptions } from '../../runtime/simulator/options.ts';
import { startSimulator } from '../../runtime/simulator/index.ts';

describe('simulator options', () => {
  it('default to a small quiet GPU on loopback', () => {
    expect(resolveSimulatorOptions()).toEqual({
      host: '127.0.0.1',
      port: 0,
      models: ['qwen3-8b'],
      maxModelLen: 32768,
      ttftMs: 40,
      ttftJitterMs: 0,
      prefillMsPerToken: 0,
      prefixCacheBlocks: 16_384,
      itlMs: 12,
      jitterMs: 1,
      tokensPerChunk: 1,
      maxConcurrency: null,
      errorRate: 0,
      failureModes: ['status', 'abort', 'stall', 'in-band'],
      errorStatus: 500,
      abortAfterTokens: 8,
      stallMs: 30_000,
      seed: 1,
      keepGroundTruth: true,
      version: expect.stringMatching(/-simulator$/),
      dialect: 'vllm',
      tokenizer: 'qwen3',
    });
  });

  it("count prompts with the seed model's real tokenizer only when serving the seed model", () => {
    expect(resolveSimulatorOptions({ models: ['other-model'] }).tokenizer).toBe('words');
    expect(resolveSimulatorOptions({ models: ['other-model'], tokenizer: 'qwen3' }).tokenizer).toBe('qwen3');
    expect(resolveSimulatorOptions({ tokenizer: 'words' }).tokenizer).toBe('words');
  });

  it('list every problem, by option name, in one InputError', () => {
    const attempt = (): unknown =>
      resolveSimulatorOptions({ itlMs: -1, errorRate: 2, failureModes: ['explode' as 'abort'], itlMS: 5 } as never);

    expect(attempt).toThrow(InputError);
    try {
      attempt();
    } catch (err) {
      const message = (err as InputError).message;
      expect(message).toMatch(/^simulator options: 4 problems:/);
      for (const path of ['itlMs', 'errorRate', 'failureModes[0]', 'itlMS']) expect(message).toContain(path);
    }
  });

  it('are reported back, resolved, by a running simulator at a loopback url', async () => {
    const sim = await startSimulator({ itlMs: 3 });
    try {
      expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`);
      expect(sim.port).toBeGreaterThan(0);
      expect(sim.options).toMatchObject({ itlMs: 3, ttftMs: 40 });
    } finally {
      await sim.close();
    }
  });
});
