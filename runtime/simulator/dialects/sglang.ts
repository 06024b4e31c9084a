import { z } from 'zod';
import { DONE_FRAME, sse, type WireContext } from '../wire.ts';
import { json, maxTokensWithChatAlias, usage, type Dialect, type Reply, type RouteContext } from './dialect.ts';
import { parseBody, RequestError } from '../requests.ts';

/**
 * SGLang (`python -m sglang.launch_server`), replayed from sgl-project/sglang:
 * - `python/sglang/srt/entrypoints/openai/protocol.py` (ModelCard: `owned_by: "sglang"`, `root`,
 *   `max_model_len`; TokenizeRequest/Response `{tokens, count, max_model_len}`; DetokenizeResponse
 *   `{text}`; ErrorResponse `{object:"error", message, type, param, code}`),
 * - `python/sglang/srt/entrypoints/openai/serving_tokenize.py` @ 0351c1fafe4c53c91c331dea205af48b018af559
 *   (`/tokenize`, `/v1/tokenize`: `prompt` str or list, `add_special_tokens`; max_model_len is the
 *   tokenizer's model_max_length),
 * - `serving_completions.py`, `serving_chat.py`, `http_server.py` for the stream (per
 *   /work/shared/reference/server-dialects.md, not re-read for this replay): `data: {json}\n\n`;
 *   completions carry `"usage":null` and finish on the last token's chunk; chat opens with a role-only
 *   chunk (`content:""`) and finishes in a separate chunk whose delta is `{}`; a `choices:[]` usage
 *   chunk only with `stream_options.include_usage` (default false); `data: [DONE]`.
 * FastAPI/uvicorn: `server: uvicorn`, unknown path `{"detail":"Not Found"}`. Honours `ignore_eos`
 * and `min_tokens`; ignores unknown fields; ids are bare uuid hex.
 */

const TokenizeBody = z.looseObject({ model: z.string().nullable().optional(), prompt: z.union([z.string(), z.array(z.string())]), add_special_tokens: z.boolean().optional() });
const DetokenizeBody = z.looseObject({ model: z.string().nullable().optional(), tokens: z.array(z.number().int()) });

function chunk(c: WireContext, choices: unknown[]): unknown {
  return { id: c.id, object: c.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: c.created, model: c.model, choices, usage: null };
}

const usageDetails = (c: WireContext, n: number): unknown => ({ ...usage(c, n), prompt_tokens_details: null });

async function answer(produce: () => Promise<unknown>): Promise<Reply> {
  try {
    return json(200, await produce());
  } catch (err) {
    if (err instanceof RequestError) return sglang.error(err.message, err.status);
    throw err;
  }
}

const tokenize = (ctx: RouteContext): Promise<Reply> =>
  answer(async () => {
    const b = parseBody(TokenizeBody, await ctx.readJson());
    const max = ctx.options.maxModelLen;
    if (typeof b.prompt === 'string') {
      const tokens = ctx.tokenizer.encode(b.prompt);
      return { tokens, count: tokens.length, max_model_len: max };
    }
    const lists = b.prompt.map((p) => ctx.tokenizer.encode(p));
    return { tokens: lists, count: lists.map((l) => l.length), max_model_len: max };
  });

const detokenize = (ctx: RouteContext): Promise<Reply> =>
  answer(async () => {
    const b = parseBody(DetokenizeBody, await ctx.readJson());
    try {
      return { text: ctx.tokenizer.decode(b.tokens) };
    } catch (err) {
      throw new RequestError(400, `Error decoding tokens: ${(err as Error).message}. Input tokens might be invalid for the model.`);
    }
  });

export const sglang: Dialect = {
  name: 'sglang',
  headers: { server: 'uvicorn' },
  sseContentType: 'text/event-stream; charset=utf-8',
  jsonContentType: 'application/json',
  honoursIgnoreEos: true,
  hasMinTokens: true,
  checksModel: true,
  streamOptionsNeedStream: false,
  includeUsageDefault: false,
  completionPromptIsChat: false,
  id: (_e, requestId) => requestId,
  maxTokens: maxTokensWithChatAlias,
  streamFrames: ({ c, text, index, last, finish }) => {
    if (c.endpoint === 'chat') {
      // An EOS token adds no delta: the finish chunk follows.
      if (text === '' && last && finish === 'stop' && index > 0) return '';
      const role = index === 0 ? sse(chunk(c, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null, matched_stop: null }])) : '';
      return `${role}${sse(chunk(c, [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null, matched_stop: null }]))}`;
    }
    return sse(chunk(c, [{ index: 0, text, logprobs: null, finish_reason: last ? finish : null, matched_stop: null }]));
  },
  streamEnd: (c, n, finish, includeUsage) => {
    const fin = c.endpoint === 'chat' ? sse(chunk(c, [{ index: 0, delta: {}, logprobs: null, finish_reason: finish, matched_stop: null }])) : '';
    const use = includeUsage ? sse({ ...(chunk(c, []) as object), usage: usageDetails(c, n) }) : '';
    return [fin, use, DONE_FRAME].filter((f) => f !== '');
  },
  response: (c, text, n, finish) =>
    JSON.stringify(
      c.endpoint === 'chat'
        ? {
            id: c.id,
            object: 'chat.completion',
            created: c.created,
            model: c.model,
            choices: [{ index: 0, message: { role: 'assistant', content: text, reasoning_content: null, tool_calls: null }, logprobs: null, finish_reason: finish, matched_stop: null }],
            usage: usageDetails(c, n),
          }
        : { id: c.id, object: 'text_completion', created: c.created, model: c.model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish, matched_stop: null }], usage: usageDetails(c, n) },
    ),
  error: (message, status) => json(status, { object: 'error', message, type: status === 404 ? 'NotFoundError' : 'BadRequestError', param: null, code: status }),
  notFound: () => json(404, { detail: 'Not Found' }),
  route: (method, path) => {
    if (method === 'GET' && path === '/v1/models')
      return async (ctx) =>
        json(200, {
          object: 'list',
          data: ctx.options.models.map((id) => ({ id, object: 'model', created: Math.floor(ctx.now() / 1000), owned_by: 'sglang', root: id, parent: null, max_model_len: ctx.options.maxModelLen })),
        });
    if (method === 'GET' && path === '/health') return async () => ({ status: 200, body: '' });
    if (method === 'POST' && (path === '/tokenize' || path === '/v1/tokenize')) return tokenize;
    if (method === 'POST' && (path === '/detokenize' || path === '/v1/detokenize')) return detokenize;
    return undefined;
  },
};
