import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { eosPosition } from '../../runtime/simulator/requests.ts';
import { chatMLPrompt, qwen3Tokenizer, tokenizerFromFiles } from '../../runtime/tokenizer/index.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { writeToyTokenizer } from '../support/toy-tokenizer.ts';
import { post } from './http.ts';

const tempDir = useTempDirs('ib-simtok-');
type Usage = { usage: { prompt_tokens: number; completion_tokens: number }; choices: Array<{ finish_reason: string }> };

describe("the simulator counts prompts with the served model's tokenizer", () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ ttftMs: 1, itlMs: 1, jitterMs: 0 });
  });
  afterAll(() => sim.close());

  it("qwen3-8b (the default): usage, /tokenize and /detokenize are Qwen3's, as vLLM reports them", async () => {
    const qwen = qwen3Tokenizer();
    const prompt = 'Benchmarks measure what the server does, not what it says.';
    const messages = [{ role: 'user', content: prompt }];

    const completion = (await (await post(sim, '/v1/completions', { prompt, max_tokens: 1 })).json()) as Usage;
    const chat = (await (await post(sim, '/v1/chat/completions', { messages, max_tokens: 1 })).json()) as Usage;
    const tokenized = (await (await post(sim, '/tokenize', { prompt })).json()) as { count: number; tokens: number[] };
    const chatTokenized = (await (await post(sim, '/tokenize', { messages })).json()) as { count: number; tokens: number[] };
    const detokenized = (await (await post(sim, '/detokenize', { tokens: tokenized.tokens })).json()) as { prompt: string };

    expect(sim.options.tokenizer).toBe('qwen3');
    expect(completion.usage.prompt_tokens).toBe(qwen.count(prompt));
    expect(completion.usage.prompt_tokens).not.toBe(prompt.split(' ').length);
    expect(chat.usage.prompt_tokens).toBe(qwen.count(chatMLPrompt(messages)));
    expect(tokenized).toMatchObject({ count: qwen.count(prompt), tokens: qwen.encode(prompt) });
    expect(chatTokenized.count).toBe(chat.usage.prompt_tokens);
    expect(detokenized.prompt).toBe(prompt);
    expect(sim.groundTruth().map((g) => g.promptTokens)).toEqual([completion.usage.prompt_tokens, chat.usage.prompt_tokens]);
  });

  it('stops at EOS without ignore_eos (finish "stop", EOS counted), runs to max_tokens with it, never before min_tokens', async () => {
    const ask = async (extra: Record<string, unknown>): Promise<Usage> => (await (await post(sim, '/v1/completions', { prompt: 'hi', max_tokens: 10, ...extra })).json()) as Usage;

    const free = await ask({});
    const forced = await ask({ ignore_eos: true });
    const floored = await ask({ min_tokens: 9 });

    expect(eosPosition(10)).toBe(6);
    expect([free.usage.completion_tokens, free.choices[0]!.finish_reason]).toEqual([6, 'stop']);
    expect([forced.usage.completion_tokens, forced.choices[0]!.finish_reason]).toEqual([10, 'length']);
    expect([floored.usage.completion_tokens, floored.choices[0]!.finish_reason]).toEqual([9, 'stop']);
  });
});

describe('the simulator with a tokenizer.json', () => {
  it('counts with that tokenizer (the toy one: not one token per word)', async () => {
    const path = writeToyTokenizer(await tempDir());
    const toy = tokenizerFromFiles(path);
    const sim = await startSimulator({ tokenizer: path, ttftMs: 1, itlMs: 1, jitterMs: 0 });
    try {
      const prompt = 'the important answer between children';
      const body = (await (await post(sim, '/v1/completions', { prompt, max_tokens: 1 })).json()) as Usage;
      const tokenized = (await (await post(sim, '/tokenize', { prompt })).json()) as { tokens: number[] };
      const back = (await (await post(sim, '/detokenize', { tokens: tokenized.tokens })).json()) as { prompt: string };

      expect(body.usage.prompt_tokens).toBe(toy.count(prompt));
      expect(body.usage.prompt_tokens).toBeGreaterThan(5);
      expect(back.prompt).toBe(prompt);
    } finally {
      await sim.close();
    }
  });

  it('one that cannot be read stops the start with an InputError naming it', async () => {
    const missing = `${await tempDir()}/nope/tokenizer.json`;

    const started = startSimulator({ tokenizer: missing });

    await expect(started).rejects.toBeInstanceOf(InputError);
    await expect(started).rejects.toThrow(`tokenizer ${missing}: is neither "words", "qwen3" nor an existing file`);
  });
});
