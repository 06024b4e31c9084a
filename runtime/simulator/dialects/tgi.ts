import { z } from 'zod';
import type { FinishReason, WireContext } from '../wire.ts';
import { parseBody, RequestError, MessageBody } from '../requests.ts';
import { chatMLPrompt } from '../../tokenizer/index.ts';
import { json, type Dialect, type Reply, type RouteContext } from './dialect.ts';

/**
 * Hugging Face Text Generation Inference, replayed from huggingface/text-generation-inference
 * @ db931fcf42da018a3657580c64bf2720f167f9ab (3.3.6-dev0):
 * - `router/src/server.rs`: routes (`/v1/models`, `/info`, `/tokenize`, `/chat_tokenize`, no
 *   `/version`: axum's bare 404 with an empty body); `completions()` streams `Completion::Chunk`
 *   (`finish_reason: ""`) then, for the last token, `Completion::Final` with
 *   `finish_reason: details.finish_reason.to_string()` (`"length"` / `"eos_token"`) and usage —
 *   always, there is no `stream_options` for completions; non-streamed completions use
 *   `format(true)` (`"stop"` for EOS); `openai_get_model_info` (`owned_by` = the model id,
 *   `created: 0`); `encoding_to_tokens` (`[{id, text, start, stop}]`, byte offsets).
 * - `router/src/lib.rs`: `Info`, `CompletionFinal`/`Chunk`/`ChatCompletionChunk` field order (serde
 *   internally tagged: `object` first), `Usage {prompt_tokens, completion_tokens, total_tokens}`,
 *   `ChatRequest` (`max_tokens`, alias `max_completion_tokens`, `stream_options.include_usage`; no
 *   `ignore_eos`, no `min_tokens` — unknown fields are ignored), `ChatTokenizeResponse`.
 * - `router/src/chat.rs`: every chat delta is `{role:"assistant", content}`; `finish_reason` null
 *   until the last token's chunk (`"length"`/`"stop"`); with include_usage one more chunk with
 *   `choices: []`. The EOS token is special: its delta content is `""`.
 * - axum's `Sse`: `data:{json}\n\n` with no space, `data:[DONE]\n\n`.
 * `id` is always `""`, `system_fingerprint` `"{version}-native"`.
 */
export const TGI_VERSION = '3.3.6-dev0';
const fingerprint = `${TGI_VERSION}-native`;

const sse = (v: unknown): string => `data:${typeof v === 'string' ? v : JSON.stringify(v)}\n\n`;

const tgiUsage = (c: WireContext, n: number): unknown => ({ prompt_tokens: c.promptTokens, completion_tokens: n, total_tokens: c.promptTokens + n });

const GenerateBody = z.looseObject({ inputs: z.string() });
const ChatTokenizeBody = z.looseObject({ messages: z.array(MessageBody).min(1) });

/** TGI's `SimpleToken`s: each id with its text and byte offsets. */
function simpleTokens(ctx: RouteContext, ids: readonly number[]): Array<{ id: number; text: string; start: number; stop: number }> {
  let at = 0;
  return ids.map((id) => {
    const piece = ctx.tokenizer.tokenStrings([id])[0] ?? '';
    const bytes = Buffer.byteLength(piece);
    const token = { id, text: piece, start: at, stop: at + bytes };
    at += bytes;
    return token;
  });
}

async function answer(produce: () => Promise<unknown>): Promise<Reply> {
  try {
    return json(200, await produce());
  } catch (err) {
    if (err instanceof RequestError) return tgi.error(err.message, 422);
    throw err;
  }
}

function chatChunk(c: WireContext, content: string, finish: FinishReason | null): unknown {
  return {
    object: 'chat.completion.chunk',
    id: '',
    created: c.created,
    model: c.model,
    system_fingerprint: fingerprint,
    choices: [{ index: 0, delta: { role: 'assistant', content }, logprobs: null, finish_reason: finish }],
    usage: null,
  };
}

export const tgi: Dialect = {
  name: 'tgi',
  headers: {},
  sseContentType: 'text/event-stream',
  jsonContentType: 'application/json',
  honoursIgnoreEos: false,
  hasMinTokens: false,
  checksModel: false,
  streamOptionsNeedStream: false,
  includeUsageDefault: false,
  completionPromptIsChat: false,
  id: () => '',
  maxTokens: (body, endpoint) => (endpoint === 'chat' ? (body.max_tokens ?? body.max_completion_tokens) : body.max_tokens),
  streamFrames: ({ c, text, last, completionSoFar, finish }) => {
    if (c.endpoint === 'chat') return sse(chatChunk(c, text, last ? finish : null));
    if (!last) return sse({ object: 'text_completion', id: '', created: c.created, choices: [{ index: 0, text, logprobs: null, finish_reason: '' }], model: c.model, system_fingerprint: fingerprint });
    return sse({
      object: 'text_completion',
      id: '',
      created: c.created,
      model: c.model,
      system_fingerprint: fingerprint,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish === 'stop' ? 'eos_token' : 'length' }],
      usage: tgiUsage(c, completionSoFar),
    });
  },
  streamEnd: (c, n, _finish, includeUsage) => {
    const use = c.endpoint === 'chat' && includeUsage ? sse({ object: 'chat.completion.chunk', id: '', created: c.created, model: c.model, system_fingerprint: fingerprint, choices: [], usage: tgiUsage(c, n) }) : '';
    return [use, 'data:[DONE]\n\n'].filter((f) => f !== '');
  },
  response: (c, text, n, finish) =>
    JSON.stringify(
      c.endpoint === 'chat'
        ? { object: 'chat.completion', id: '', created: c.created, model: c.model, system_fingerprint: fingerprint, choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finish }], usage: tgiUsage(c, n) }
        : { object: 'text_completion', id: '', created: c.created, model: c.model, system_fingerprint: fingerprint, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], usage: tgiUsage(c, n) },
    ),
  error: (message, status) => json(status === 400 ? 422 : status, { error: message, error_type: status === 404 ? 'not_found' : 'validation' }),
  notFound: () => ({ status: 404, body: '' }),
  route: (method, path) => {
    if (method === 'GET' && path === '/v1/models')
      return async (ctx) => json(200, { object: 'list', data: [{ id: ctx.options.models[0]!, object: 'model', created: 0, owned_by: ctx.options.models[0]! }] });
    if (method === 'GET' && path === '/info')
      return async (ctx) =>
        json(200, {
          model_id: ctx.options.models[0]!,
          model_sha: null,
          model_pipeline_tag: 'text-generation',
          max_concurrent_requests: 128,
          max_best_of: 2,
          max_stop_sequences: 4,
          max_input_tokens: ctx.options.maxModelLen - 1,
          max_total_tokens: ctx.options.maxModelLen,
          validation_workers: 2,
          max_client_batch_size: 4,
          router: 'text-generation-router',
          version: TGI_VERSION,
          sha: null,
          docker_label: null,
        });
    if (method === 'GET' && (path === '/health' || path === '/ping' || path === '/')) return async () => ({ status: 200, body: '' });
    if (method === 'POST' && path === '/tokenize')
      return (ctx) =>
        answer(async () => {
          const b = parseBody(GenerateBody, await ctx.readJson());
          return simpleTokens(ctx, ctx.tokenizer.encode(b.inputs));
        });
    if (method === 'POST' && path === '/chat_tokenize')
      return (ctx) =>
        answer(async () => {
          const b = parseBody(ChatTokenizeBody, await ctx.readJson());
          return { tokenize_response: simpleTokens(ctx, ctx.tokenizer.encodeChat(b.messages)), templated_text: chatMLPrompt(b.messages) };
        });
    return undefined;
  },
};
