import { DONE_FRAME, sse, type WireContext } from '../wire.ts';
import { json, openAiId, type Dialect } from './dialect.ts';

/**
 * Ollama's OpenAI compatibility, replayed from ollama/ollama @ fb30760996871fa9460115c753afd2c60d4ab0f7:
 * - `openai/openai.go`: `CompletionRequest`/`ChatCompletionRequest` (`max_tokens` → `num_predict`
 *   only; `stream_options.include_usage`; no `ignore_eos`, no `min_tokens` — Go's decoder ignores
 *   unknown fields); `Completion`/`CompletionChunk`/`ChatCompletion`/`ChatCompletionChunk` field order,
 *   `system_fingerprint: "fp_ollama"`; `FinishChunk` (`delta: {}`); `ToListCompletion` (`owned_by`
 *   = the name's namespace, `library` for a bare name); `NewError` (`{error:{message, type, param,
 *   code}}`).
 * - `middleware/openai.go`: ids `cmpl-N` / `chatcmpl-N` (N < 999); SSE `data: %s\n\n`; completions:
 *   every chunk carries zero usage when include_usage is set, the Done chunk has `text: ""` and the
 *   finish reason, then a `choices: []` usage chunk; chat: the first chunk carries the role with the
 *   first token, the empty Done trailer is skipped, a `FinishChunk` follows, then the usage chunk;
 *   `data: [DONE]`. Non-streamed bodies come from `json.Encoder` (trailing newline).
 * - `server/routes.go`: `GET /api/version` → `{"version"}`, `GET /` → `Ollama is running`; gin's
 *   unknown path: `404 page not found` (text/plain). No tokenize endpoint, no context length.
 * - The model's template is applied to `/v1/completions` prompts too (GenerateRequest without `raw`),
 *   so a completion prompt is counted as the chat template around it.
 */
export const OLLAMA_VERSION = '0.13.0';

const zero = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
const ollamaUsage = (c: WireContext, n: number): unknown => ({ prompt_tokens: c.promptTokens, completion_tokens: n, total_tokens: c.promptTokens + n });

function completionChunk(c: WireContext, text: string, finish: string | null, includeUsage: boolean): unknown {
  return {
    id: c.id,
    object: 'text_completion',
    created: c.created,
    choices: [{ text, index: 0, finish_reason: finish }],
    model: c.model,
    system_fingerprint: 'fp_ollama',
    ...(includeUsage ? { usage: zero } : {}),
  };
}

function chatChunk(c: WireContext, choices: unknown[], usage?: unknown): unknown {
  return { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, system_fingerprint: 'fp_ollama', choices, ...(usage === undefined ? {} : { usage }) };
}

/** 0–998, as `rand.Intn(999)`, derived from the request id so it is reproducible. */
function shortId(requestId: string): number {
  let h = 0;
  for (const ch of requestId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % 999;
}

export const ollama: Dialect = {
  name: 'ollama',
  headers: {},
  sseContentType: 'text/event-stream',
  jsonContentType: 'application/json',
  honoursIgnoreEos: false,
  hasMinTokens: false,
  checksModel: true,
  streamOptionsNeedStream: false,
  includeUsageDefault: false,
  completionPromptIsChat: true,
  id: (endpoint, requestId) => openAiId(endpoint, shortId(requestId)),
  maxTokens: (body) => body.max_tokens,
  // The EOS token is not streamed (only the Done trailer, which the finish chunk replaces).
  streamFrames: ({ c, text, index, last, finish, includeUsage }) =>
    text === '' && last && finish === 'stop' && index > 0
      ? ''
      : c.endpoint === 'chat'
      ? sse(chatChunk(c, [{ index: 0, delta: index === 0 ? { role: 'assistant', content: text } : { content: text }, finish_reason: null }]))
      : sse(completionChunk(c, text, null, includeUsage)),
  streamEnd: (c, n, finish, includeUsage) => {
    if (c.endpoint === 'chat') {
      const fin = sse(chatChunk(c, [{ index: 0, delta: {}, finish_reason: finish }]));
      return [fin, includeUsage ? sse(chatChunk(c, [], ollamaUsage(c, n))) : '', DONE_FRAME].filter((f) => f !== '');
    }
    const done = sse(completionChunk(c, '', finish, includeUsage));
    const use = includeUsage ? sse({ id: c.id, object: 'text_completion', created: c.created, choices: [], model: c.model, system_fingerprint: 'fp_ollama', usage: ollamaUsage(c, n) }) : '';
    return [done, use, DONE_FRAME].filter((f) => f !== '');
  },
  response: (c, text, n, finish) =>
    `${JSON.stringify(
      c.endpoint === 'chat'
        ? { id: c.id, object: 'chat.completion', created: c.created, model: c.model, system_fingerprint: 'fp_ollama', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }], usage: ollamaUsage(c, n) }
        : { id: c.id, object: 'text_completion', created: c.created, model: c.model, system_fingerprint: 'fp_ollama', choices: [{ text, index: 0, finish_reason: finish }], usage: ollamaUsage(c, n) },
    )}\n`,
  error: (message, status) =>
    ({ status, contentType: 'application/json', body: `${JSON.stringify({ error: { message, type: status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error', param: null, code: null } })}\n` }),
  notFound: () => ({ status: 404, contentType: 'text/plain', body: '404 page not found' }),
  route: (method, path) => {
    if (method === 'GET' && path === '/v1/models')
      return async (ctx) => ({
        status: 200,
        contentType: 'application/json',
        body: `${JSON.stringify({ object: 'list', data: ctx.options.models.map((id) => ({ id, object: 'model', created: Math.floor(ctx.now() / 1000), owned_by: 'library' })) })}\n`,
      });
    if ((method === 'GET' || method === 'HEAD') && path === '/api/version') return async () => json(200, { version: OLLAMA_VERSION }, 'application/json; charset=utf-8');
    if ((method === 'GET' || method === 'HEAD') && path === '/') return async () => ({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'Ollama is running' });
    return undefined;
  },
};
