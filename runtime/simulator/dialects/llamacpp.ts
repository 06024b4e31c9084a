import { z } from 'zod';
import { chatMLPrompt } from '../../tokenizer/index.ts';
import { MessageBody, parseBody, RequestError } from '../requests.ts';
import { DONE_FRAME, type WireContext } from '../wire.ts';
import { firstPresent, json, openAiId, type Dialect, type Reply, type RouteContext } from './dialect.ts';

/**
 * llama.cpp's `llama-server`, replayed from ggml-org/llama.cpp `tools/server/` (several 2025–26
 * versions of `server-context.cpp`, `server-http.cpp`, `server-task.cpp`, `server-common.cpp`):
 * - `set_default_headers({{"Server", "llama.cpp"}})`; unknown path → 404
 *   `{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}`; no `/version`.
 * - `/v1/models`: `{models:[…], object:"list", data:[{id, aliases, tags, object:"model", created,
 *   owned_by:"llamacpp", meta:{vocab_type, n_vocab, n_ctx, n_ctx_train, n_embd, n_params, size}}]}`
 *   (older builds lack `n_ctx`, `aliases`, `tags`).
 * - `POST /tokenize {content, add_special=false, parse_special=true, with_pieces=false}` →
 *   `{"tokens":[…]}`; `POST /detokenize {tokens}` → `{"content"}`; `POST /apply-template {messages}`
 *   → `{"prompt"}`.
 * - Streams (per /work/shared/reference/server-dialects.md, `format_oai_sse`: `data: ` + compact JSON
 *   + `\n\n`): completions chunks `{choices:[{text, index, logprobs, finish_reason}], created, model,
 *   system_fingerprint, object, id}`; the final chunk has `text:""`, the finish reason and — always —
 *   `usage` plus `timings`; chat opens with `delta:{role:"assistant", content:null}` in the same
 *   write as the first token, finishes with a separate `delta:{}` chunk, and sends a `choices:[]`
 *   usage chunk only with `stream_options.include_usage`; `data: [DONE]`.
 * - Request: max tokens from `n_predict`, else `max_completion_tokens`, else `max_tokens`;
 *   `ignore_eos` honoured, no `min_tokens`; unknown fields ignored. nlohmann `ordered_json`: keys in
 *   insertion order.
 */
export const LLAMACPP_BUILD = 'b6500-0123abcd';

const sse = (v: unknown): string => `data: ${JSON.stringify(v)}\n\n`;
const llamaUsage = (c: WireContext, n: number): unknown => ({ completion_tokens: n, prompt_tokens: c.promptTokens, total_tokens: c.promptTokens + n });
const timings = (c: WireContext, n: number): unknown => ({ cache_n: 0, prompt_n: c.promptTokens, predicted_n: n });

function completionChunk(c: WireContext, text: string, finish: string | null, extra: Record<string, unknown> = {}): unknown {
  return { choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], created: c.created, model: c.model, system_fingerprint: LLAMACPP_BUILD, object: 'text_completion', ...extra, id: c.id };
}

function chatChunk(c: WireContext, choices: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { choices, created: c.created, id: c.id, model: c.model, system_fingerprint: LLAMACPP_BUILD, object: 'chat.completion.chunk', ...extra };
}

const TokenizeBody = z.looseObject({ content: z.string().optional(), add_special: z.boolean().optional(), with_pieces: z.boolean().optional() });
const DetokenizeBody = z.looseObject({ tokens: z.array(z.number().int()).optional() });
const TemplateBody = z.looseObject({ messages: z.array(MessageBody) });

async function answer(produce: () => Promise<unknown>): Promise<Reply> {
  try {
    return json(200, await produce(), 'application/json; charset=utf-8');
  } catch (err) {
    if (err instanceof RequestError) return llamacpp.error(err.message, err.status);
    throw err;
  }
}

function tokenize(ctx: RouteContext): Promise<Reply> {
  return answer(async () => {
    const b = parseBody(TokenizeBody, await ctx.readJson());
    if (b.content === undefined) return { tokens: [] };
    const ids = ctx.tokenizer.encode(b.content);
    return { tokens: b.with_pieces === true ? ids.map((id) => ({ id, piece: ctx.tokenizer.tokenStrings([id])[0] })) : ids };
  });
}

export const llamacpp: Dialect = {
  name: 'llamacpp',
  headers: { Server: 'llama.cpp' },
  sseContentType: 'text/event-stream',
  jsonContentType: 'application/json; charset=utf-8',
  honoursIgnoreEos: true,
  hasMinTokens: false,
  checksModel: false,
  streamOptionsNeedStream: false,
  includeUsageDefault: false,
  completionPromptIsChat: false,
  id: openAiId,
  maxTokens: (body) => firstPresent(body, ['n_predict', 'max_completion_tokens', 'max_tokens']),
  streamFrames: ({ c, text, index, last, finish }) => {
    // The EOS token is not streamed: its finish comes in the final chunk.
    if (text === '' && last && finish === 'stop' && index > 0) return '';
    if (c.endpoint === 'chat') {
      const role = index === 0 ? sse(chatChunk(c, [{ finish_reason: null, index: 0, delta: { role: 'assistant', content: null } }])) : '';
      return `${role}${sse(chatChunk(c, [{ finish_reason: null, index: 0, delta: { content: text } }]))}`;
    }
    return sse(completionChunk(c, text, null));
  },
  streamEnd: (c, n, finish, includeUsage) => {
    if (c.endpoint === 'chat') {
      const fin = sse(chatChunk(c, [{ finish_reason: finish, index: 0, delta: {} }]));
      const use = includeUsage ? sse(chatChunk(c, [], { usage: llamaUsage(c, n), timings: timings(c, n) })) : '';
      return [fin, use, DONE_FRAME].filter((f) => f !== '');
    }
    return [sse(completionChunk(c, '', finish, { usage: llamaUsage(c, n), timings: timings(c, n) })), DONE_FRAME];
  },
  response: (c, text, n, finish) =>
    JSON.stringify(
      c.endpoint === 'chat'
        ? {
            choices: [{ finish_reason: finish, index: 0, message: { role: 'assistant', content: text } }],
            created: c.created,
            model: c.model,
            system_fingerprint: LLAMACPP_BUILD,
            object: 'chat.completion',
            usage: llamaUsage(c, n),
            id: c.id,
            timings: timings(c, n),
          }
        : { ...(completionChunk(c, text, finish, { usage: llamaUsage(c, n) }) as object), timings: timings(c, n) },
    ),
  error: (message, status) =>
    json(status, { error: { code: status, message, type: status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error' } }, 'application/json; charset=utf-8'),
  notFound: () => json(404, { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } }, 'application/json; charset=utf-8'),
  route: (method, path) => {
    if (method === 'GET' && (path === '/v1/models' || path === '/models'))
      return async (ctx) => {
        const id = ctx.options.models[0]!;
        const created = Math.floor(ctx.now() / 1000);
        return json(
          200,
          {
            models: [{ name: id, model: id, modified_at: '', size: '', digest: '', type: 'model', description: '', tags: [''], capabilities: ['completion'], parameters: '', details: { parent_model: '', format: 'gguf', family: '', families: [''], parameter_size: '', quantization_level: '' } }],
            object: 'list',
            data: [
              {
                id,
                aliases: [],
                tags: [],
                object: 'model',
                created,
                owned_by: 'llamacpp',
                meta: { vocab_type: 2, n_vocab: 151936, n_ctx: ctx.options.maxModelLen, n_ctx_train: 40960, n_embd: 4096, n_params: 8190735360, size: 8709518336 },
              },
            ],
          },
          'application/json; charset=utf-8',
        );
      };
    if (method === 'GET' && (path === '/health' || path === '/v1/health')) return async () => json(200, { status: 'ok' }, 'application/json; charset=utf-8');
    if (method === 'POST' && path === '/tokenize') return tokenize;
    if (method === 'POST' && path === '/detokenize')
      return (ctx) =>
        answer(async () => {
          const b = parseBody(DetokenizeBody, await ctx.readJson());
          try {
            return { content: ctx.tokenizer.decode(b.tokens ?? []) };
          } catch (err) {
            throw new RequestError(400, (err as Error).message);
          }
        });
    if (method === 'POST' && path === '/apply-template')
      return (ctx) =>
        answer(async () => {
          const b = parseBody(TemplateBody, await ctx.readJson());
          return { prompt: chatMLPrompt(b.messages) };
        });
    return undefined;
  },
};
