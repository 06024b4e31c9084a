import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../runtime/simulator/index.ts';
import { contentOf, exchange, frames, payload, startDialect } from './dialect-support.ts';

/**
 * Each dialect's bytes against the facts its module's header cites (runtime/simulator/dialects/):
 * completions and chat, streamed and not, its extra endpoints, and what it answers for a path it
 * lacks. Prompts are counted one token per word: `one two three` is 3 tokens, the chat
 * `[user: hi there]` 2 + 4 per message + 3 = 9 (Ollama counts a completion prompt as that chat: 10).
 */

const model = 'qwen3-8b';
const prompt = 'one two three';
const messages = [{ role: 'user', content: 'hi there' }];
const d = (v: unknown): string => `data: ${JSON.stringify(v)}\n\n`;

/** The response's created, id and generated texts, read back so the expected bytes can be built. */
function seen(fs: string[]): { created: number; id: string; texts: string[] } {
  const first = payload(fs[0]!);
  return { created: first.created as number, id: first.id as string, texts: fs.map(contentOf) };
}

describe('sglang', () => {
  let sim: RunningSimulator;
  beforeAll(async () => (sim = await startDialect('sglang')));
  afterAll(() => sim.close());

  it('streams completions with usage:null per chunk, the finish on the last token, a usage chunk on request', async () => {
    const r = await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 2, stream: true, stream_options: { include_usage: true }, ignore_eos: true });
    const fs = frames(r.text);
    const { created, id, texts } = seen(fs);
    const chunk = (text: string, finish: string | null): string =>
      d({ id, object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish, matched_stop: null }], usage: null });

    expect(r.headers.get('server')).toBe('uvicorn');
    expect(fs).toEqual([
      chunk(texts[0]!, null),
      chunk(texts[1]!, 'length'),
      d({ id, object: 'text_completion', created, model, choices: [], usage: { prompt_tokens: 3, total_tokens: 5, completion_tokens: 2, prompt_tokens_details: null } }),
      'data: [DONE]\n\n',
    ]);
  });

  it('streams chat: a role-only chunk, content deltas, a separate finish chunk with delta {}; no usage unless asked', async () => {
    const r = await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 2, stream: true, ignore_eos: true });
    const fs = frames(r.text);
    const { created, id, texts } = seen(fs);
    const chunk = (delta: unknown, finish: string | null): string =>
      d({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, matched_stop: null }], usage: null });

    expect(fs).toEqual([chunk({ role: 'assistant', content: '' }, null), chunk({ content: texts[1] }, null), chunk({ content: texts[2] }, null), chunk({}, 'length'), 'data: [DONE]\n\n']);
  });

  it('stops at EOS without ignore_eos; non-streamed bodies carry usage; /v1/models has owned_by sglang and max_model_len', async () => {
    const body = JSON.parse((await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 10 })).text) as Record<string, unknown>;
    const chat = JSON.parse((await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 3, ignore_eos: true })).text) as Record<string, unknown>;
    const models = JSON.parse((await exchange(sim, 'GET', '/v1/models')).text) as { data: unknown[] };

    expect(body).toEqual({
      id: body.id,
      object: 'text_completion',
      created: body.created,
      model,
      choices: [{ index: 0, text: expect.any(String), logprobs: null, finish_reason: 'stop', matched_stop: null }],
      usage: { prompt_tokens: 3, total_tokens: 9, completion_tokens: 6, prompt_tokens_details: null },
    });
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ finish_reason: 'length', message: { role: 'assistant' } }], usage: { prompt_tokens: 9, completion_tokens: 3 } });
    expect(models.data).toEqual([{ id: model, object: 'model', created: expect.any(Number), owned_by: 'sglang', root: model, parent: null, max_model_len: 4096 }]);
  });

  it('tokenizes as SGLang: {tokens, count, max_model_len}, /detokenize → {text}; unknown paths are FastAPI 404s', async () => {
    const tok = JSON.parse((await exchange(sim, 'POST', '/v1/tokenize', { model, prompt })).text) as { tokens: number[] };
    const de = await exchange(sim, 'POST', '/detokenize', { tokens: tok.tokens });
    const missing = await exchange(sim, 'GET', '/info');

    expect(tok).toEqual({ tokens: expect.any(Array), count: 3, max_model_len: 4096 });
    expect(JSON.parse(de.text)).toEqual({ text: prompt });
    expect([missing.status, missing.text]).toEqual([404, '{"detail":"Not Found"}']);
  });
});

describe('tgi', () => {
  let sim: RunningSimulator;
  beforeAll(async () => (sim = await startDialect('tgi')));
  afterAll(() => sim.close());
  const fp = '3.3.6-dev0-native';

  it('streams completions as axum frames them (data: with no space), finish_reason "" until the EOS token\'s "eos_token" with usage, ignoring ignore_eos', async () => {
    const r = await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 5, stream: true, ignore_eos: true });
    const fs = frames(r.text);
    const created = (JSON.parse(fs[0]!.slice(5)) as { created: number }).created;
    const texts = fs.slice(0, 2).map((f) => (JSON.parse(f.slice(5)) as { choices: Array<{ text: string }> }).choices[0]!.text);
    const raw = (v: unknown): string => `data:${JSON.stringify(v)}\n\n`;

    expect(r.headers.get('server')).toBeNull();
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    expect(fs).toEqual([
      ...texts.map((text) => raw({ object: 'text_completion', id: '', created, choices: [{ index: 0, text, logprobs: null, finish_reason: '' }], model, system_fingerprint: fp })),
      raw({ object: 'text_completion', id: '', created, model, system_fingerprint: fp, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'eos_token' }], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } }),
      'data:[DONE]\n\n',
    ]);
  });

  it('streams chat with {role, content} in every delta, finish on the EOS token ("stop"), a choices:[] usage chunk with include_usage', async () => {
    const r = await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    const fs = frames(r.text);
    const created = (JSON.parse(fs[0]!.slice(5)) as { created: number }).created;
    const texts = fs.slice(0, 2).map((f) => (JSON.parse(f.slice(5)) as { choices: Array<{ delta: { content: string } }> }).choices[0]!.delta.content);
    const chunk = (content: string, finish: string | null): string =>
      `data:${JSON.stringify({ object: 'chat.completion.chunk', id: '', created, model, system_fingerprint: fp, choices: [{ index: 0, delta: { role: 'assistant', content }, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;

    expect(fs).toEqual([
      chunk(texts[0]!, null),
      chunk(texts[1]!, null),
      chunk('', 'stop'),
      `data:${JSON.stringify({ object: 'chat.completion.chunk', id: '', created, model, system_fingerprint: fp, choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } })}\n\n`,
      'data:[DONE]\n\n',
    ]);
  });

  it('non-streamed: finish "stop" at EOS, usage always; /info has max_total_tokens; owned_by is the model id; no /version (bare 404)', async () => {
    const c = JSON.parse((await exchange(sim, 'POST', '/v1/completions', { prompt, max_tokens: 5 })).text) as Record<string, unknown>;
    const chat = JSON.parse((await exchange(sim, 'POST', '/v1/chat/completions', { messages, max_completion_tokens: 1 })).text) as Record<string, unknown>;
    const info = JSON.parse((await exchange(sim, 'GET', '/info')).text) as Record<string, unknown>;
    const models = JSON.parse((await exchange(sim, 'GET', '/v1/models')).text) as Record<string, unknown>;
    const version = await exchange(sim, 'GET', '/version');

    expect(c).toEqual({
      object: 'text_completion',
      id: '',
      created: c.created,
      model,
      system_fingerprint: fp,
      choices: [{ index: 0, text: expect.any(String), logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
    });
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant' }, finish_reason: 'length' }], usage: { prompt_tokens: 9, completion_tokens: 1 } });
    expect(info).toMatchObject({ model_id: model, max_total_tokens: 4096, router: 'text-generation-router', version: '3.3.6-dev0' });
    expect(models).toEqual({ object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: model }] });
    expect([version.status, version.text, version.headers.get('content-type')]).toEqual([404, '', null]);
  });

  it('tokenizes into [{id, text, start, stop}], and /chat_tokenize counts the chat template as usage does', async () => {
    const tok = JSON.parse((await exchange(sim, 'POST', '/tokenize', { inputs: prompt })).text) as Array<Record<string, unknown>>;
    const chat = JSON.parse((await exchange(sim, 'POST', '/chat_tokenize', { model, messages })).text) as { tokenize_response: unknown[]; templated_text: string };

    expect(tok.map((t) => Object.keys(t))).toEqual([0, 1, 2].map(() => ['id', 'text', 'start', 'stop']));
    expect(tok.map((t) => t.text)).toEqual(['one', 'two', 'three']);
    expect(chat.tokenize_response).toHaveLength(9);
    expect(chat.templated_text).toBe('<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('trtllm', () => {
  let sim: RunningSimulator;
  beforeAll(async () => (sim = await startDialect('trtllm')));
  afterAll(() => sim.close());
  const usage = (p: number, n: number): unknown => ({ prompt_tokens: p, total_tokens: p + n, completion_tokens: n, prompt_tokens_details: { cached_tokens: 0 } });

  it('streams completions with every field dumped, finish on the last token, usage chunk by default with stream_options', async () => {
    const r = await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 2, stream: true, stream_options: {}, ignore_eos: true });
    const fs = frames(r.text);
    const { created, id, texts } = seen(fs);
    const chunk = (text: string, finish: string | null): string =>
      d({ id, object: 'text_completion', created, model, choices: [{ index: 0, text, token_ids: null, logprobs: null, finish_reason: finish, stop_reason: null, avg_decoded_tokens_per_iter: null }], usage: null });

    expect(r.headers.get('server')).toBe('uvicorn');
    expect(fs).toEqual([chunk(texts[0]!, null), chunk(texts[1]!, 'length'), d({ id, object: 'text_completion', created, model, choices: [], usage: usage(3, 2) }), 'data: [DONE]\n\n']);
  });

  it('streams chat: the role chunk exclude_none and framed "} \\n\\n", deltas {content, reasoning_content:""}, finish on the last token', async () => {
    const r = await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 4, stream: true });
    const fs = r.text.split(/(?<=\n\n)/);
    const head = payload(fs[0]!);
    const base = { id: head.id, object: 'chat.completion.chunk', created: head.created, model };
    const texts = fs.slice(1, 3).map(contentOf);

    expect(fs).toEqual([
      `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant' } }] })} \n\n`,
      d({ ...base, choices: [{ index: 0, delta: { content: texts[0], reasoning_content: '' } }] }),
      d({ ...base, choices: [{ index: 0, delta: { content: texts[1], reasoning_content: '' }, finish_reason: 'stop' }] }),
      'data: [DONE]\n\n',
    ]);
    expect(texts[1]).toBe(''); // no ignore_eos: EOS is the 2nd token (60 % of 4), with no text
  });

  it('answers 400 with FastAPI\'s validation text for any field it does not know (vLLM\'s continuous_usage_stats is known; "foo" is not)', async () => {
    const r = await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 2, foo: 'x', logprobs_mode: true });
    const chat = await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 2, stream: true, stream_options: { include_usage: true, bar: 1 } });

    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toEqual({
      error:
        "2 validation errors:\n  {'type': 'extra_forbidden', 'loc': ('body', 'foo'), 'msg': 'Extra inputs are not permitted', 'input': 'x'}\n" +
        "  {'type': 'extra_forbidden', 'loc': ('body', 'logprobs_mode'), 'msg': 'Extra inputs are not permitted', 'input': True}\n" +
        '  File "/usr/local/lib/python3.12/dist-packages/tensorrt_llm/serve/openai_server.py", line 1046, in openai_completion\n    POST /v1/completions',
    });
    expect(chat.status).toBe(400);
    expect(JSON.parse(chat.text).error).toMatch(/^1 validation error:\n {2}\{'type': 'extra_forbidden', 'loc': \('body', 'stream_options', 'bar'\), .*'input': 1\}\n/);
  });

  it('non-streamed bodies with usage; /version, /v1/models (owned_by tensorrt_llm), /_internal/tokenize {count, tokens}', async () => {
    const c = JSON.parse((await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 2, ignore_eos: true })).text) as Record<string, unknown>;
    const chat = JSON.parse((await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 2, ignore_eos: true })).text) as Record<string, unknown>;
    const version = JSON.parse((await exchange(sim, 'GET', '/version')).text) as unknown;
    const models = JSON.parse((await exchange(sim, 'GET', '/v1/models')).text) as { data: unknown[] };
    const tok = JSON.parse((await exchange(sim, 'POST', '/_internal/tokenize', { prompt })).text) as unknown;

    expect(c).toMatchObject({ object: 'text_completion', choices: [{ finish_reason: 'length', context_logits: null }], usage: usage(3, 2), prompt_token_ids: null });
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', reasoning_content: '', tool_calls: [] }, finish_reason: 'length' }], usage: usage(9, 2) });
    expect(version).toEqual({ version: expect.any(String) });
    expect(models.data).toEqual([{ id: model, object: 'model', created: expect.any(Number), owned_by: 'tensorrt_llm' }]);
    expect(tok).toEqual({ count: 3, tokens: expect.any(Array) });
  });
});

describe('llamacpp', () => {
  let sim: RunningSimulator;
  beforeAll(async () => (sim = await startDialect('llamacpp')));
  afterAll(() => sim.close());
  const fp = 'b6500-0123abcd';
  const usage = (p: number, n: number): unknown => ({ completion_tokens: n, prompt_tokens: p, total_tokens: p + n });
  const timings = (p: number, n: number): unknown => ({ cache_n: 0, prompt_n: p, predicted_n: n });

  it('streams completions; the final chunk has text "", the finish, usage and timings — always', async () => {
    const r = await exchange(sim, 'POST', '/v1/completions', { model, prompt, n_predict: 2, max_tokens: 50, stream: true, ignore_eos: true });
    const fs = frames(r.text);
    const { created, id, texts } = seen(fs);
    const chunk = (text: string, finish: string | null, extra: Record<string, unknown> = {}): string =>
      d({ choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], created, model, system_fingerprint: fp, object: 'text_completion', ...extra, id });

    expect(r.headers.get('server')).toBe('llama.cpp');
    expect(fs).toEqual([chunk(texts[0]!, null), chunk(texts[1]!, null), chunk('', 'length', { usage: usage(3, 2), timings: timings(3, 2) }), 'data: [DONE]\n\n']);
  });

  it('streams chat: role with content:null, content deltas, a separate delta:{} finish, usage only with include_usage', async () => {
    const r = await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    const fs = frames(r.text);
    const { created, id } = seen(fs);
    const texts = fs.slice(1, 3).map(contentOf);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string => d({ choices, created, id, model, system_fingerprint: fp, object: 'chat.completion.chunk', ...extra });

    expect(fs).toEqual([
      chunk([{ finish_reason: null, index: 0, delta: { role: 'assistant', content: null } }]),
      chunk([{ finish_reason: null, index: 0, delta: { content: texts[0] } }]),
      chunk([{ finish_reason: null, index: 0, delta: { content: texts[1] } }]),
      chunk([{ finish_reason: 'stop', index: 0, delta: {} }]),
      chunk([], { usage: usage(9, 3), timings: timings(9, 3) }),
      'data: [DONE]\n\n',
    ]);
  });

  it('reports n_ctx in /v1/models meta, tokenizes {content} → {tokens}, applies the template, 404s in its own JSON', async () => {
    const models = JSON.parse((await exchange(sim, 'GET', '/v1/models')).text) as { data: Array<{ owned_by: string; meta: { n_ctx: number } }> };
    const tok = JSON.parse((await exchange(sim, 'POST', '/tokenize', { content: prompt, add_special: false })).text) as { tokens: number[] };
    const tmpl = JSON.parse((await exchange(sim, 'POST', '/apply-template', { messages })).text) as unknown;
    const chat = JSON.parse((await exchange(sim, 'POST', '/v1/chat/completions', { messages, max_tokens: 2, ignore_eos: true })).text) as Record<string, unknown>;
    const missing = await exchange(sim, 'GET', '/version');

    expect(models.data[0]).toMatchObject({ owned_by: 'llamacpp', meta: { n_ctx: 4096 } });
    expect(tok.tokens).toHaveLength(3);
    expect(tmpl).toEqual({ prompt: '<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n' });
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ finish_reason: 'length', message: { role: 'assistant' } }], usage: usage(9, 2) });
    expect([missing.status, missing.text]).toEqual([404, '{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}']);
  });
});

describe('ollama', () => {
  let sim: RunningSimulator;
  beforeAll(async () => (sim = await startDialect('ollama')));
  afterAll(() => sim.close());
  const usage = (p: number, n: number): unknown => ({ prompt_tokens: p, completion_tokens: n, total_tokens: p + n });

  it('streams completions: zero usage on every chunk with include_usage, the Done chunk (text "", "stop" — ignore_eos ignored), the usage chunk', async () => {
    const r = await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 5, stream: true, stream_options: { include_usage: true }, ignore_eos: true });
    const fs = frames(r.text);
    const { created, id, texts } = seen(fs);
    const zero = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    const chunk = (text: string, finish: string | null): string => d({ id, object: 'text_completion', created, choices: [{ text, index: 0, finish_reason: finish }], model, system_fingerprint: 'fp_ollama', usage: zero });

    expect(id).toMatch(/^cmpl-\d{1,3}$/);
    expect(fs).toEqual([
      chunk(texts[0]!, null),
      chunk(texts[1]!, null),
      chunk('', 'stop'),
      d({ id, object: 'text_completion', created, choices: [], model, system_fingerprint: 'fp_ollama', usage: usage(10, 3) }),
      'data: [DONE]\n\n',
    ]);
  });

  it('streams chat: the role rides on the first token, a delta:{} finish chunk, no usage without include_usage', async () => {
    const r = await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 2, stream: true });
    const fs = frames(r.text);
    const { created, id, texts } = seen(fs);
    const chunk = (delta: unknown, finish: string | null): string => d({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_ollama', choices: [{ index: 0, delta, finish_reason: finish }] });

    expect(fs).toEqual([chunk({ role: 'assistant', content: texts[0] }, null), chunk({}, 'stop'), 'data: [DONE]\n\n']);
  });

  it('non-streamed bodies end with a newline and carry usage; /api/version; no tokenize, no /version (gin 404)', async () => {
    const c = await exchange(sim, 'POST', '/v1/completions', { model, prompt, max_tokens: 1 });
    const chat = JSON.parse((await exchange(sim, 'POST', '/v1/chat/completions', { model, messages, max_tokens: 1 })).text) as unknown;
    const version = JSON.parse((await exchange(sim, 'GET', '/api/version')).text) as unknown;
    const models = JSON.parse((await exchange(sim, 'GET', '/v1/models')).text) as { data: unknown[] };
    const tokenize = await exchange(sim, 'POST', '/tokenize', { prompt });

    expect(c.text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(c.text)).toMatchObject({ object: 'text_completion', system_fingerprint: 'fp_ollama', choices: [{ index: 0, finish_reason: 'length' }], usage: usage(10, 1) });
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant' }, finish_reason: 'length' }], usage: usage(9, 1) });
    expect(version).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    expect(models.data).toEqual([{ id: model, object: 'model', created: expect.any(Number), owned_by: 'library' }]);
    expect([tokenize.status, tokenize.text]).toEqual([404, '404 page not found']);
  });
});
