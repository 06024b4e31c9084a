import type { ResolvedSimulatorOptions } from '../options.ts';
import type { PromptTokenizer } from '../prompt-tokenizer.ts';
import type { FinishReason, WireContext } from '../wire.ts';

/**
 * What differs between the OpenAI-compatible servers the simulator can pretend to be: their bytes
 * (SSE framing, chunk JSON, usage and finish placement, `[DONE]`), their extra endpoints (model
 * list, version, info, tokenize) and the request fields they honour. One module per server replays
 * it, with the source it was read from in its header; the generation engine stays the same.
 */

export const dialectNames = ['vllm', 'sglang', 'tgi', 'trtllm', 'llamacpp', 'ollama'] as const;
export type DialectName = (typeof dialectNames)[number];

/** A whole HTTP answer. */
export interface Reply {
  status: number;
  /** undefined: no content-type header (axum's bare 404). */
  contentType?: string;
  body: string;
}

/** What a non-generation endpoint may use. */
export interface RouteContext {
  options: ResolvedSimulatorOptions;
  tokenizer: PromptTokenizer;
  /** Epoch milliseconds. */
  now(): number;
  readJson(): Promise<unknown>;
}

export type Route = (ctx: RouteContext) => Promise<Reply>;

/** One streamed chunk's worth of output. */
export interface StreamPiece {
  c: WireContext;
  text: string;
  /** 0 for the first chunk of the stream. */
  index: number;
  last: boolean;
  /** Tokens out once this chunk is written. */
  completionSoFar: number;
  /** Why generation ends (meaningful on the last chunk). */
  finish: FinishReason;
  /** The request asked for usage (`stream_options.include_usage`). */
  includeUsage: boolean;
}

export interface Dialect {
  readonly name: DialectName;
  /** Headers on every response (e.g. `Server: llama.cpp`). */
  readonly headers: Readonly<Record<string, string>>;
  readonly sseContentType: string;
  readonly jsonContentType: string;
  /** Keeps generating past EOS when the request says `ignore_eos: true`. */
  readonly honoursIgnoreEos: boolean;
  /** Knows `min_tokens` (EOS cannot come earlier). */
  readonly hasMinTokens: boolean;
  /** Answers 404 for a model it does not serve (TGI serves whatever the body names). */
  readonly checksModel: boolean;
  /** `stream_options` without `stream: true` is a 400. */
  readonly streamOptionsNeedStream: boolean;
  /** `stream_options: {}` (no include_usage) means include_usage. */
  readonly includeUsageDefault: boolean;
  /** The server applies the chat template to completion prompts too (Ollama). */
  readonly completionPromptIsChat: boolean;
  /** The response id for the request (`cmpl-…`, `""` for TGI). */
  id(endpoint: WireContext['endpoint'], requestId: string): string;
  /** The max-tokens value the server reads from the body (raw, validated later). */
  maxTokens(body: Record<string, unknown>, endpoint: WireContext['endpoint']): unknown;
  /** A body the server refuses before anything else (TRT-LLM's unknown fields). */
  refuse?(body: Record<string, unknown>, endpoint: WireContext['endpoint']): Reply | undefined;
  /** The frames of one streamed chunk (with any role chunk that shares the first write). */
  streamFrames(p: StreamPiece): string;
  /** What follows the last chunk, one element per write: a separate finish chunk, the usage chunk, `[DONE]`. */
  streamEnd(c: WireContext, completionTokens: number, finish: FinishReason, includeUsage: boolean): string[];
  /** The whole non-streamed body. */
  response(c: WireContext, text: string, completionTokens: number, finish: FinishReason): string;
  /** An error answer in the server's own shape. */
  error(message: string, status: number): Reply;
  /** What the server answers for a path it does not have. */
  notFound(): Reply;
  /** The non-generation endpoint at `method path`, if the server has it. */
  route(method: string, path: string): Route | undefined;
}

/** OpenAI's usage object, in the field order most servers dump it. */
export function usage(c: WireContext, completionTokens: number): { prompt_tokens: number; total_tokens: number; completion_tokens: number } {
  return { prompt_tokens: c.promptTokens, total_tokens: c.promptTokens + completionTokens, completion_tokens: completionTokens };
}

/** OpenAI's response ids (`cmpl-…`, `chatcmpl-…`), as vLLM, TensorRT-LLM and llama.cpp make them. */
export function openAiId(endpoint: WireContext['endpoint'], requestId: string | number): string {
  return `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId}`;
}

/** `max_tokens`, and for chat OpenAI's newer `max_completion_tokens` first (vLLM, SGLang, TensorRT-LLM). */
export function maxTokensWithChatAlias(body: Record<string, unknown>, endpoint: WireContext['endpoint']): unknown {
  return endpoint === 'chat' ? (body.max_completion_tokens ?? body.max_tokens) : body.max_tokens;
}

export function json(status: number, value: unknown, contentType = 'application/json'): Reply {
  return { status, contentType, body: JSON.stringify(value) };
}

/** Python's `repr` of a JSON value (as pydantic's error dicts print it). */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const body = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    return `${quote}${quote === "'" ? body.replace(/'/g, "\\'") : body}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`)
    .join(', ')}}`;
}

/** The first of `keys` present (not undefined) in the body. */
export function firstPresent(body: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) if (body[k] !== undefined) return body[k];
  return undefined;
}
