import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { post } from './http.ts';


describe('/tokenize and /detokenize', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ tokenizer: 'words', ttftMs: 1, itlMs: 1, jitterMs: 0, maxModelLen: 4096 });
  });
  afterAll(() => sim.close());

  it("tokenizes a prompt into vLLM's response shape and detokenizes it back", async () => {
    const prompt = 'The Simulator counts   words, not bytes.';

    const res = await post(sim, '/tokenize', { model: 'qwen3-8b', prompt, add_special_tokens: true });
    const tokenized = (await res.json()) as { count: number; max_model_len: number; tokens: number[]; token_strs: null };
    const back = (await (await post(sim, '/detokenize', { model: 'qwen3-8b', tokens: tokenized.tokens })).json()) as { prompt: string };

    expect(Object.keys(tokenized)).toEqual(['count', 'max_model_len', 'tokens', 'token_strs']);
    expect(tokenized).toMatchObject({ count: 6, max_model_len: 4096, token_strs: null });
    expect(tokenized.tokens).toHaveLength(6);
    expect(back).toEqual({ prompt: 'The Simulator counts words, not bytes.' });
  });

  it('returns token strings on request', async () => {
    const body = (await (await post(sim, '/tokenize', { prompt: 'a b', return_token_strs: true })).json()) as { token_strs: string[] };

    expect(body.token_strs).toEqual(['a', 'b']);
  });

  it('counts chat messages with the same rule usage.prompt_tokens reports, so clients can calibrate', async () => {
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'how many tokens is this prompt' },
    ];

    const tokenized = (await (await post(sim, '/tokenize', { messages })).json()) as { count: number; tokens: number[] };
    const completion = (await (await post(sim, '/v1/chat/completions', { messages, max_tokens: 1 })).json()) as { usage: { prompt_tokens: number } };

    expect(tokenized.count).toBe(2 + 6 + 4 * 2 + 3);
    expect(tokenized.tokens).toHaveLength(tokenized.count);
    expect(completion.usage.prompt_tokens).toBe(tokenized.count);
  });

  it('counts completion prompts the way usage.prompt_tokens does (string or token ids)', async () => {
    const prompt = Array.from({ length: 37 }, (_, i) => `w${i}`).join(' ');
    const { count, tokens } = (await (await post(sim, '/tokenize', { prompt })).json()) as { count: number; tokens: number[] };

    const fromText = (await (await post(sim, '/v1/completions', { prompt, max_tokens: 1 })).json()) as { usage: { prompt_tokens: number } };
    const fromIds = (await (await post(sim, '/v1/completions', { prompt: tokens, max_tokens: 1 })).json()) as { usage: { prompt_tokens: number } };

    expect(fromText.usage.prompt_tokens).toBe(count);
    expect(fromIds.usage.prompt_tokens).toBe(count);
  });

  it('answers an unknown token id or an unknown model with vLLM errors', async () => {
    const badId = await post(sim, '/detokenize', { tokens: [123_456_789] });
    const badModel = await post(sim, '/tokenize', { model: 'other', prompt: 'x' });

    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { error: { type: string } }).error.type).toBe('BadRequestError');
    expect(badModel.status).toBe(404);
  });
});
