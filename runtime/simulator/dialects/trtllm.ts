import { z } from 'zod';
import { parseBody, RequestError } from '../requests.ts';
import { DONE_FRAME, sse, type WireContext } from '../wire.ts';
import { json, maxTokensWithChatAlias, openAiId, pythonRepr, type Dialect, type Reply } from './dialect.ts';

/**
 * NVIDIA TensorRT-LLM `trtllm-serve` (and NIM built on it), replayed from NVIDIA/TensorRT-LLM:
 * - `tensorrt_llm/serve/openai_protocol.py` @ 0076e9390e1ed11515f149eec356f5a03f4a00d8:
 *   `OpenAIBaseModel(extra="forbid")` — every request field below is all it knows; `StreamOptions
 *   {include_usage=True, continuous_usage_stats=False}` (also extra=forbid); chat's
 *   `max_completion_tokens` has `validation_alias="max_tokens"` (populate_by_name: both names);
 *   `ModelCard.owned_by = "tensorrt_llm"`; `UsageInfo {prompt_tokens, total_tokens,
 *   completion_tokens, prompt_tokens_details}`; `TokenizeRequest {model?, prompt}` →
 *   `TokenizeResponse {count, tokens}`; `ErrorResponse {object:"error", message, type, param, code}`.
 * - `tensorrt_llm/serve/openai_server.py` @ 00057725d9a6591f033e44f31c219e2426827bb7 (and the later
 *   version that registers `POST /_internal/tokenize`): `RequestValidationError` →
 *   `JSONResponse(400, {"error": str(exc)})`; `/version` → `{"version": VERSION}`; `/v1/models`.
 * - `tensorrt_llm/serve/postprocess_handlers.py` @ 01bf19231d29d8f0766e31c117d1cf39ed00d3d5: chat's
 *   first chunk is role-only, dumped with `exclude_none=True` and framed `data: {…} \n\n` (a space
 *   before the blank line); content deltas `{content, reasoning_content: ""}`; finish on the last
 *   token's chunk; completions chunks dumped with every field (`usage: null`); the usage chunk
 *   (`choices: []`) is a plain `model_dump_json()`.
 * - fastapi/fastapi `fastapi/exceptions.py` (current): `str(RequestValidationError)` is
 *   `"N validation error(s):\n  {error dict}\n…"` plus the endpoint's file, line and route (the line
 *   number is that of the installed openai_server.py; the simulator names a fixed one).
 * uvicorn: `server: uvicorn`; unknown path `{"detail":"Not Found"}`.
 */
export const TRTLLM_VERSION = '1.2.0';

const completionFields = [
  'model', 'prompt', 'best_of', 'echo', 'frequency_penalty', 'logit_bias', 'logprobs', 'max_tokens', 'n', 'presence_penalty', 'seed', 'stop', 'stream',
  'stream_options', 'suffix', 'temperature', 'top_p', 'user', 'lora_request', 'prompt_ignore_length', 'use_beam_search', 'top_k', 'top_p_min', 'min_p',
  'repetition_penalty', 'length_penalty', 'early_stopping', 'stop_token_ids', 'include_stop_str_in_output', 'ignore_eos', 'min_tokens',
  'skip_special_tokens', 'spaces_between_special_tokens', 'truncate_prompt_tokens', 'return_context_logits', 'detokenize', 'thinking_token_budget',
  'add_special_tokens', 'response_format', 'disaggregated_params', 'priority', 'conversation_params',
];
const chatFields = [
  'messages', 'prompt_token_ids', 'prompt_token_ids_b64', 'model', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'max_completion_tokens',
  'max_tokens', 'n', 'presence_penalty', 'response_format', 'seed', 'stop', 'stream', 'stream_options', 'temperature', 'top_p', 'tools', 'tool_choice',
  'parallel_tool_calls', 'user', 'reasoning_effort', 'thinking', 'thinking_token_budget', 'prompt_ignore_length', 'best_of', 'use_beam_search', 'top_k',
  'top_p_min', 'min_p', 'repetition_penalty', 'length_penalty', 'early_stopping', 'stop_token_ids', 'include_stop_str_in_output', 'ignore_eos',
  'min_tokens', 'skip_special_tokens', 'spaces_between_special_tokens', 'truncate_prompt_tokens', 'lora_request', 'echo', 'add_generation_prompt',
  'add_special_tokens', 'documents', 'chat_template', 'chat_template_kwargs', 'injected_chat_template_kwargs', 'media_io_kwargs', 'disaggregated_params',
  'conversation_params', 'cache_salt', 'priority', 'agent_hierarchy', 'mm_processor_kwargs',
];
/** The request fields trtllm-serve knows (anything else is a 400). */
export const TRTLLM_FIELDS = { completions: new Set(completionFields), chat: new Set(chatFields) } as const;
const streamOptionFields = new Set(['include_usage', 'continuous_usage_stats']);

/** Where FastAPI says the endpoint is (file and line of the installed openai_server.py). */
const endpointFile = '/usr/local/lib/python3.12/dist-packages/tensorrt_llm/serve/openai_server.py';
const endpointLine = { completions: 1046, chat: 886, tokenize: 1247 } as const;

/** FastAPI's `str(RequestValidationError)` for `extra_forbidden` errors at these body paths. */
export function extraForbiddenMessage(errors: ReadonlyArray<{ loc: readonly string[]; input: unknown }>, endpoint: keyof typeof endpointLine): string {
  const fn = { completions: 'openai_completion', chat: 'openai_chat', tokenize: 'tokenize' }[endpoint];
  const route = { completions: 'POST /v1/completions', chat: 'POST /v1/chat/completions', tokenize: 'POST /_internal/tokenize' }[endpoint];
  const lines = errors.map((e) => `  ${pythonRepr({ type: 'extra_forbidden', loc: '__LOC__', msg: 'Extra inputs are not permitted', input: e.input }).replace("'__LOC__'", `(${['body', ...e.loc].map(pythonRepr).join(', ')})`)}`);
  return `${errors.length} validation error${errors.length === 1 ? '' : 's'}:\n${lines.join('\n')}\n  File "${endpointFile}", line ${endpointLine[endpoint]}, in ${fn}\n    ${route}`;
}

function unknownFields(body: Record<string, unknown>, known: Set<string>): Array<{ loc: string[]; input: unknown }> {
  const out: Array<{ loc: string[]; input: unknown }> = [];
  for (const [k, v] of Object.entries(body)) if (!known.has(k)) out.push({ loc: [k], input: v });
  const so = body.stream_options;
  if (known.has('stream_options') && so !== null && typeof so === 'object' && !Array.isArray(so)) {
    for (const [k, v] of Object.entries(so)) if (!streamOptionFields.has(k)) out.push({ loc: ['stream_options', k], input: v });
  }
  return out;
}

const trtUsage = (c: WireContext, n: number): unknown => ({ prompt_tokens: c.promptTokens, total_tokens: c.promptTokens + n, completion_tokens: n, prompt_tokens_details: { cached_tokens: 0 } });

function chatChunk(c: WireContext, choice: Record<string, unknown>): unknown {
  return { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices: [choice] };
}

const TokenizeBody = z.looseObject({ model: z.string().nullable().optional(), prompt: z.string() });

export const trtllm: Dialect = {
  name: 'trtllm',
  headers: { server: 'uvicorn' },
  sseContentType: 'text/event-stream; charset=utf-8',
  jsonContentType: 'application/json',
  honoursIgnoreEos: true,
  hasMinTokens: true,
  checksModel: true,
  streamOptionsNeedStream: true,
  includeUsageDefault: true,
  completionPromptIsChat: false,
  id: openAiId,
  maxTokens: maxTokensWithChatAlias,
  refuse: (body, endpoint) => {
    const unknown = unknownFields(body, TRTLLM_FIELDS[endpoint]);
    return unknown.length === 0 ? undefined : json(400, { error: extraForbiddenMessage(unknown, endpoint) });
  },
  streamFrames: ({ c, text, index, last, finish }) => {
    if (c.endpoint === 'chat') {
      const role = index === 0 ? `data: ${JSON.stringify(chatChunk(c, { index: 0, delta: { role: 'assistant' } }))} \n\n` : '';
      const choice = last ? { index: 0, delta: { content: text, reasoning_content: '' }, finish_reason: finish } : { index: 0, delta: { content: text, reasoning_content: '' } };
      return `${role}${sse(chatChunk(c, choice))}`;
    }
    return sse({
      id: c.id,
      object: 'text_completion',
      created: c.created,
      model: c.model,
      choices: [{ index: 0, text, token_ids: null, logprobs: null, finish_reason: last ? finish : null, stop_reason: null, avg_decoded_tokens_per_iter: null }],
      usage: null,
    });
  },
  streamEnd: (c, n, _finish, includeUsage) => {
    const use = includeUsage ? sse({ id: c.id, object: c.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: c.created, model: c.model, choices: [], usage: trtUsage(c, n) }) : '';
    return [use, DONE_FRAME].filter((f) => f !== '');
  },
  response: (c, text, n, finish) =>
    JSON.stringify(
      c.endpoint === 'chat'
        ? {
            id: c.id,
            object: 'chat.completion',
            created: c.created,
            model: c.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: text, reasoning_content: '', reasoning: null, tool_calls: [] },
                logprobs: null,
                finish_reason: finish,
                stop_reason: null,
                mm_embedding_handle: null,
                disaggregated_params: null,
                avg_decoded_tokens_per_iter: null,
              },
            ],
            usage: trtUsage(c, n),
            prompt_token_ids: null,
            prompt_token_ids_b64: null,
          }
        : {
            id: c.id,
            object: 'text_completion',
            created: c.created,
            model: c.model,
            choices: [{ index: 0, text, token_ids: null, logprobs: null, context_logits: null, finish_reason: finish, stop_reason: null, disaggregated_params: null, avg_decoded_tokens_per_iter: null }],
            usage: trtUsage(c, n),
            prompt_token_ids: null,
          },
    ),
  error: (message, status) => json(status, { object: 'error', message, type: status === 404 ? 'NotFoundError' : 'BadRequestError', param: null, code: status }),
  notFound: () => json(404, { detail: 'Not Found' }),
  route: (method, path) => {
    if (method === 'GET' && path === '/v1/models')
      return async (ctx) => json(200, { object: 'list', data: ctx.options.models.map((id) => ({ id, object: 'model', created: Math.floor(ctx.now() / 1000), owned_by: 'tensorrt_llm' })) });
    if (method === 'GET' && path === '/version') return async () => json(200, { version: TRTLLM_VERSION });
    if (method === 'GET' && path === '/health') return async () => ({ status: 200, body: '' });
    if (method === 'POST' && path === '/_internal/tokenize')
      return async (ctx): Promise<Reply> => {
        const raw = await ctx.readJson();
        if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
          const unknown = unknownFields(raw as Record<string, unknown>, new Set(['model', 'prompt']));
          if (unknown.length > 0) return json(400, { error: extraForbiddenMessage(unknown, 'tokenize') });
        }
        try {
          const b = parseBody(TokenizeBody, raw);
          const tokens = ctx.tokenizer.encode(b.prompt);
          return json(200, { count: tokens.length, tokens });
        } catch (err) {
          if (err instanceof RequestError) return trtllm.error(err.message, err.status);
          throw err;
        }
      };
    return undefined;
  },
};
