import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { post } from './http.ts';


async function errorOf(res: Response): Promise<{ status: number; error: { message: string; type: string; param: null; code: number } }> {
  const body = (await res.json()) as { error: { message: string; type: string; param: null; code: number } };
  return { status: res.status, error: body.error };
}

describe('errors before streaming', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ ttftMs: 1, itlMs: 1, jitterMs: 0, maxModelLen: 20 });
  });
  afterAll(() => sim.close());

  it("answers an unknown model with 404 and vLLM's error JSON", async () => {
    const res = await post(sim, '/v1/completions', { model: 'llama-9000', prompt: 'hi', max_tokens: 2, stream: true });

    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe(
      '{"error":{"message":"The model `llama-9000` does not exist.","type":"NotFoundError","param":null,"code":404}}',
    );
  });

  it('answers wrong field types with 400 BadRequestError (not 422), naming the field', async () => {
    const cases = [
      { prompt: 'hi', max_tokens: 'many' },
      { prompt: 'hi', stream: 'yes' },
      { prompt: 42 },
      { prompt: 'hi', stream: true, stream_options: { include_usage: 'sure' } },
    ];
    for (const body of cases) {
      const { status, error } = await errorOf(await post(sim, '/v1/completions', body));
      expect(status).toBe(400);
      expect(error).toMatchObject({ type: 'BadRequestError', param: null, code: 400 });
      expect(error.message).toMatch(Object.keys(body).at(-1) === 'prompt' ? /prompt/ : new RegExp(Object.keys(body).at(-1)!));
    }
    const chat = await errorOf(await post(sim, '/v1/chat/completions', { messages: 'hello' }));
    expect(chat.status).toBe(400);
    expect(chat.error.message).toMatch(/messages/);
  });

  it('ignores unknown fields', async () => {
    const res = await post(sim, '/v1/completions', { prompt: 'hi', max_tokens: 1, frobnicate: { deeply: [1, 2] }, ignore_eos: true });

    expect(res.status).toBe(200);
  });

  it('answers a non-JSON content type or a malformed body with 400', async () => {
    const wrongType = await fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"prompt":"hi"}' });
    const malformed = await post(sim, '/v1/completions', '{"prompt": "hi"');

    expect(await errorOf(wrongType)).toEqual({
      status: 400,
      error: { message: "Unsupported Media Type: Only 'application/json' is allowed", type: 'BadRequestError', param: null, code: 400 },
    });
    expect((await errorOf(malformed)).status).toBe(400);
  });

  it('rejects stream_options without stream: true', async () => {
    const { status, error } = await errorOf(await post(sim, '/v1/completions', { prompt: 'hi', stream_options: { include_usage: true } }));

    expect(status).toBe(400);
    expect(error.message).toBe('Stream options can only be defined when `stream=True`.');
  });

  it('rejects a prompt that does not leave room for max_tokens in maxModelLen', async () => {
    const tooLong = await errorOf(await post(sim, '/v1/completions', { prompt: Array(20).fill('w').join(' '), max_tokens: 1 }));
    const noRoom = await errorOf(await post(sim, '/v1/completions', { prompt: Array(10).fill('w').join(' '), max_tokens: 11 }));
    const fits = await post(sim, '/v1/completions', { prompt: Array(10).fill('w').join(' '), max_tokens: 10 });

    expect(tooLong.status).toBe(400);
    expect(tooLong.error.message).toContain('maximum context length is 20 tokens');
    expect(noRoom.status).toBe(400);
    expect(noRoom.error.message).toContain('(11 > 20 - 10)');
    expect(fits.status).toBe(200);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const unknown = await fetch(`${sim.url}/v1/embeddings`);
    const wrongMethod = await fetch(`${sim.url}/v1/completions`);

    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ detail: 'Not Found' });
    expect(wrongMethod.status).toBe(405);
  });

  it('records rejected generation requests in the ground truth with their status', async () => {
    await post(sim, '/v1/chat/completions', { model: 'nope', messages: [{ role: 'user', content: 'x' }] }, { 'x-request-id': 'rejected-1' });

    const entry = sim.groundTruth().find((e) => e.requestId === 'rejected-1');
    expect(entry).toMatchObject({ endpoint: 'chat', model: 'nope', status: 404, contentWrites: [], failure: null });
    expect(entry!.doneAt).toBeGreaterThanOrEqual(entry!.receivedAt);
  });
});

describe('API key', () => {
  it("requires `Authorization: Bearer <key>` on /v1* only, answering 401 {\"error\":\"Unauthorized\"}", async () => {
    const sim = await startSimulator({ apiKey: 'sekret', ttftMs: 1, itlMs: 1 });
    try {
      const noKey = await post(sim, '/v1/completions', { prompt: 'hi', max_tokens: 1 });
      const badKey = await fetch(`${sim.url}/v1/models`, { headers: { authorization: 'Bearer nope' } });
      const goodKey = await post(sim, '/v1/completions', { prompt: 'hi', max_tokens: 1 }, { authorization: 'Bearer sekret' });
      const health = await fetch(`${sim.url}/health`);
      const tokenize = await post(sim, '/tokenize', { prompt: 'a b' });

      expect(noKey.status).toBe(401);
      expect(await noKey.text()).toBe('{"error":"Unauthorized"}');
      expect(badKey.status).toBe(401);
      expect(goodKey.status).toBe(200);
      expect(health.status).toBe(200);
      expect(tokenize.status).toBe(200);
      expect(sim.groundTruth().map((e) => e.status)).toEqual([401, 200]);
    } finally {
      await sim.close();
    }
  });
});
