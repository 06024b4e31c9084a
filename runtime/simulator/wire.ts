import { STATUS_CODES } from 'node:http';

/**
 * vLLM's wire format as pure builders: the JSON objects and SSE frames, field order as vLLM's
 * pydantic models dump them (0.10.2–0.11.x). No I/O, no clock: tested without a server.
 */

/** What a response's objects share. */
export interface WireContext {
  endpoint: 'completions' | 'chat';
  /** `cmpl-…` / `chatcmpl-…` */
  id: string;
  created: number;
  model: string;
  promptTokens: number;
  /** `stream_options.continuous_usage_stats`: usage on every chunk. */
  continuousUsage: boolean;
}

/**
 * vLLM names the error type after the status: 400 BadRequestError, 404 NotFoundError, 503
 * ServiceUnavailableError — and 500 InternalServerError, whose reason phrase already ends in
 * "Error" (so it is not suffixed twice).
 */
export function errorTypeForStatus(status: number): string {
  const words = (STATUS_CODES[status] ?? 'Internal Server Error').replace(/[^A-Za-z]/g, '');
  return words.endsWith('Error') ? words : `${words}Error`;
}

/** vLLM's `ErrorResponse` as JSONResponse renders it (compact). */
export function errorBody(message: string, status: number): string {
  return JSON.stringify({ error: { message, type: errorTypeForStatus(status), param: null, code: status } });
}

/** Python's `json.dumps` text (", " and ": " separators, ASCII only) — how vLLM writes in-band errors. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`);
  return `{${entries.join(', ')}}`;
}

/** One SSE frame. */
export function sse(payload: unknown): string {
  return `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
}

export const DONE_FRAME = 'data: [DONE]\n\n';

/** The in-band error event vLLM writes into a stream that fails during generation. */
export function inBandErrorFrame(message: string): string {
  return sse(pythonJsonDumps({ error: { message, type: 'InternalServerError', param: null, code: 500 } }));
}

function usage(c: WireContext, completionTokens: number): { prompt_tokens: number; total_tokens: number; completion_tokens: number } {
  return { prompt_tokens: c.promptTokens, total_tokens: c.promptTokens + completionTokens, completion_tokens: completionTokens };
}

/** Why generation ended: `max_tokens` reached, or the model emitted EOS. */
export type FinishReason = 'length' | 'stop';

/** `exclude_unset=False`: every field present, `usage: null` unless continuous usage stats. */
export function completionChunk(c: WireContext, text: string, last: boolean, completionSoFar: number, finish: FinishReason = 'length'): unknown {
  return {
    id: c.id,
    object: 'text_completion',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: last ? finish : null, stop_reason: null, prompt_token_ids: null, token_ids: null }],
    usage: c.continuousUsage ? { ...usage(c, completionSoFar), prompt_tokens_details: null } : null,
  };
}

/** `exclude_unset=True`: the role chunk sets prompt_token_ids (null) explicitly, so it is dumped. */
export function chatRoleChunk(c: WireContext): unknown {
  return {
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    ...(c.continuousUsage ? { usage: usage(c, 0) } : {}),
    prompt_token_ids: null,
  };
}

/** The last token's chunk is also the finish chunk: it adds finish_reason and stop_reason. */
export function chatContentChunk(c: WireContext, content: string, last: boolean, completionSoFar: number, finish: FinishReason = 'length'): unknown {
  const choice = last
    ? { index: 0, delta: { content }, logprobs: null, finish_reason: finish, stop_reason: null, token_ids: null }
    : { index: 0, delta: { content }, logprobs: null, finish_reason: null, token_ids: null };
  return {
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    choices: [choice],
    ...(c.continuousUsage ? { usage: usage(c, completionSoFar) } : {}),
  };
}

/** The frames of one streamed chunk (chat: the role chunk shares the first token's write). */
export function streamFrames(c: WireContext, text: string, index: number, last: boolean, completionSoFar: number, finish: FinishReason = 'length'): string {
  if (c.endpoint === 'chat') return `${index === 0 ? sse(chatRoleChunk(c)) : ''}${sse(chatContentChunk(c, text, last, completionSoFar, finish))}`;
  return sse(completionChunk(c, text, last, completionSoFar, finish));
}

/** The usage-only chunk (`exclude_none=True`): `choices: []`. */
export function usageChunk(c: WireContext, completionTokens: number): unknown {
  return {
    id: c.id,
    object: c.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: c.created,
    model: c.model,
    choices: [],
    usage: usage(c, completionTokens),
  };
}

export function completionResponse(c: WireContext, text: string, completionTokens: number, finish: FinishReason = 'length'): unknown {
  return {
    id: c.id,
    object: 'text_completion',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null, token_ids: null, prompt_logprobs: null, prompt_token_ids: null }],
    service_tier: null,
    system_fingerprint: null,
    usage: { ...usage(c, completionTokens), prompt_tokens_details: null },
    kv_transfer_params: null,
  };
}

export function chatResponse(c: WireContext, content: string, completionTokens: number, finish: FinishReason = 'length'): unknown {
  return {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
        logprobs: null,
        finish_reason: finish,
        stop_reason: null,
        token_ids: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
    usage: { ...usage(c, completionTokens), prompt_tokens_details: null },
    prompt_logprobs: null,
    prompt_token_ids: null,
    kv_transfer_params: null,
  };
}

/** `/v1/models`. `permissionId` is random in vLLM; passed in so this stays pure. */
export function modelList(models: readonly string[], created: number, maxModelLen: number, permissionId: () => string): unknown {
  return {
    object: 'list',
    data: models.map((id) => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: id,
      parent: null,
      max_model_len: maxModelLen,
      permission: [
        {
          id: `modelperm-${permissionId()}`,
          object: 'model_permission',
          created,
          allow_create_engine: false,
          allow_sampling: true,
          allow_logprobs: true,
          allow_search_indices: false,
          allow_view: true,
          allow_fine_tuning: false,
          organization: '*',
          group: null,
          is_blocking: false,
        },
      ],
    })),
  };
}
