import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { post } from './http.ts';

/**
 * A raw HTTP/1.1 exchange over loopback, keeping the chunked framing: each element of `frames` is
 * one HTTP chunk, i.e. one `res.write` on the server.
 */
async function rawPost(port: number, path: string, body: unknown): Promise<{ head: string; frames: string[] }> {
  const payload = JSON.stringify(body);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Request-Id: wire-1\r\n` +
          `Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
    });
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('end', () => resolve(Buffer.concat(parts)));
    socket.on('error', reject);
  });
  const split = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, split).toString('latin1');
  const frames: string[] = [];
  let at = split + 4;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) break;
    frames.push(bytes.subarray(eol + 2, eol + 2 + size).toString('utf8'));
    at = eol + 2 + size + 2;
  }
  return { head, frames };
}


function events(text: string): string[] {
  return text.split('\n\n').filter((e) => e.length > 0);
}

describe('vLLM wire format', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ tokenizer: 'words', ttftMs: 2, prefillMsPerToken: 0, itlMs: 2, jitterMs: 0 });
  });
  afterAll(() => sim.close());

  it('streams a completion exactly as vLLM 0.11 does: content chunks, usage chunk, [DONE], one HTTP chunk each', async () => {
    const { head, frames } = await rawPost(sim.port, '/v1/completions', {
      model: 'qwen3-8b',
      prompt: 'one two three four',
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    });

    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.toLowerCase()).toContain('content-type: text/event-stream; charset=utf-8\r\n');
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(frames).toHaveLength(5);
    const created = /"created":(\d+)/.exec(frames[0]!)![1];
    const texts = frames.slice(0, 3).map((f) => /"text":"([^"]*)"/.exec(f)![1]!);
    expect(texts.every((t) => /^ [a-z]+$/.test(t))).toBe(true);
    const chunk = (text: string, finish: string): string =>
      `data: {"id":"cmpl-wire-1","object":"text_completion","created":${created},"model":"qwen3-8b","choices":[{"index":0,"text":"${text}","logprobs":null,"finish_reason":${finish},"stop_reason":null,"prompt_token_ids":null,"token_ids":null}],"usage":null}\n\n`;
    expect(frames).toEqual([
      chunk(texts[0]!, 'null'),
      chunk(texts[1]!, 'null'),
      chunk(texts[2]!, '"length"'),
      `data: {"id":"cmpl-wire-1","object":"text_completion","created":${created},"model":"qwen3-8b","choices":[],"usage":{"prompt_tokens":4,"total_tokens":7,"completion_tokens":3}}\n\n`,
      'data: [DONE]\n\n',
    ]);
  });

  it('streams chat with the role chunk in the same write as the first token, the finish on the last token', async () => {
    const { frames } = await rawPost(sim.port, '/v1/chat/completions', {
      model: 'qwen3-8b',
      messages: [{ role: 'user', content: 'hi there' }],
      max_tokens: 2,
      ignore_eos: true,
      stream: true,
      stream_options: {},
    });

    expect(frames).toHaveLength(4);
    const created = /"created":(\d+)/.exec(frames[0]!)![1];
    const contents = frames.slice(0, 2).map((f) => [...f.matchAll(/"content":"( [a-z]+)"/g)].map((m) => m[1])[0]!);
    const head = `{"id":"chatcmpl-wire-1","object":"chat.completion.chunk","created":${created},"model":"qwen3-8b"`;
    expect(frames).toEqual([
      `data: ${head},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"prompt_token_ids":null}\n\n` +
        `data: ${head},"choices":[{"index":0,"delta":{"content":"${contents[0]}"},"logprobs":null,"finish_reason":null,"token_ids":null}]}\n\n`,
      `data: ${head},"choices":[{"index":0,"delta":{"content":"${contents[1]}"},"logprobs":null,"finish_reason":"length","stop_reason":null,"token_ids":null}]}\n\n`,
      `data: ${head},"choices":[],"usage":{"prompt_tokens":9,"total_tokens":11,"completion_tokens":2}}\n\n`,
      'data: [DONE]\n\n',
    ]);
  });

  it('sends no usage chunk without stream_options, and one with stream_options: {}', async () => {
    const bare = events(await (await post(sim, '/v1/completions', { prompt: 'a b', max_tokens: 2, ignore_eos: true, stream: true })).text());
    const withEmpty = events(await (await post(sim, '/v1/completions', { prompt: 'a b', max_tokens: 2, ignore_eos: true, stream: true, stream_options: {} })).text());
    const optedOut = events(
      await (await post(sim, '/v1/completions', { prompt: 'a b', max_tokens: 2, ignore_eos: true, stream: true, stream_options: { include_usage: false } })).text(),
    );

    expect(bare).toHaveLength(3);
    expect(bare.at(-1)).toBe('data: [DONE]');
    expect(withEmpty).toHaveLength(4);
    expect(JSON.parse(withEmpty[2]!.slice(6))).toMatchObject({ choices: [], usage: { completion_tokens: 2 } });
    expect(optedOut).toHaveLength(3);
  });

  it('adds usage to every chunk with continuous_usage_stats', async () => {
    const res = await post(sim, '/v1/completions', {
      prompt: 'a b',
      max_tokens: 2,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    const chunks = events(await res.text()).slice(0, 2).map((e) => JSON.parse(e.slice(6)) as { usage: unknown });

    expect(chunks.map((c) => c.usage)).toEqual([
      { prompt_tokens: 2, total_tokens: 3, completion_tokens: 1, prompt_tokens_details: null },
      { prompt_tokens: 2, total_tokens: 4, completion_tokens: 2, prompt_tokens_details: null },
    ]);
  });

  it('carries several tokens per chunk when tokensPerChunk > 1', async () => {
    const multi = await startSimulator({ tokenizer: 'words', ttftMs: 1, itlMs: 1, jitterMs: 0, tokensPerChunk: 3 });
    try {
      const res = await post(multi, '/v1/completions', { prompt: 'a', max_tokens: 7, ignore_eos: true, stream: true, stream_options: {} });
      const evs = events(await res.text());
      const texts = evs.slice(0, -2).map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ text: string }> }).choices[0]!.text);

      expect(texts.map((t) => t.split(' ').length - 1)).toEqual([3, 3, 1]);
      expect(JSON.parse(evs.at(-2)!.slice(6))).toMatchObject({ usage: { completion_tokens: 7 } });
    } finally {
      await multi.close();
    }
  });

  it("returns non-streamed completions and chat as vLLM's JSON with usage", async () => {
    const completion = (await (await post(sim, '/v1/completions', { prompt: 'a b c', max_tokens: 4, ignore_eos: true })).json()) as Record<string, unknown>;
    const chat = (await (await post(sim, '/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 3, ignore_eos: true })).json()) as Record<
      string,
      unknown
    >;

    expect(Object.keys(completion)).toEqual(['id', 'object', 'created', 'model', 'choices', 'service_tier', 'system_fingerprint', 'usage', 'kv_transfer_params']);
    expect(completion).toMatchObject({
      object: 'text_completion',
      model: 'qwen3-8b',
      choices: [{ index: 0, finish_reason: 'length', stop_reason: null, logprobs: null }],
      usage: { prompt_tokens: 3, total_tokens: 7, completion_tokens: 4 },
    });
    expect((completion.choices as Array<{ text: string }>)[0]!.text).toMatch(/^( [a-z]+){4}$/);
    expect(chat).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', tool_calls: [] }, finish_reason: 'length' }],
      usage: { prompt_tokens: 1 + 4 + 3, total_tokens: 11, completion_tokens: 3 },
    });
    expect(String(chat.id)).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
  });

  it('defaults completions max_tokens to 16', async () => {
    const body = (await (await post(sim, '/v1/completions', { prompt: 'a', ignore_eos: true })).json()) as { usage: { completion_tokens: number } };

    expect(body.usage.completion_tokens).toBe(16);
  });

  it('serves /health, /v1/models and /metrics like vLLM', async () => {
    const health = await fetch(`${sim.url}/health`);
    const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as { object: string; data: Array<Record<string, unknown>> };
    const metrics = await fetch(`${sim.url}/metrics`);
    const text = await metrics.text();

    expect(health.status).toBe(200);
    expect(await health.text()).toBe('');
    expect(health.headers.get('keep-alive')).toBe('timeout=5');
    expect(models.object).toBe('list');
    expect(models.data).toHaveLength(1);
    expect(models.data[0]).toMatchObject({ id: 'qwen3-8b', object: 'model', owned_by: 'vllm', root: 'qwen3-8b', max_model_len: 32768 });
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:prompt_tokens_total', 'vllm:generation_tokens_total']) {
      expect(text).toMatch(new RegExp(`^${name}\\{engine="0",model_name="qwen3-8b"\\} \\d+\\.\\d+$`, 'm'));
    }
    expect(text).toMatch(/^http_requests_total\{handler="\/v1\/completions",method="POST",status="2xx"\} [1-9]\d*\.0$/m);
  });
});
