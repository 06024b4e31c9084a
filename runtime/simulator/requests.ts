import { z } from 'zod';
import { issueProblems } from '../core/errors.ts';
import type { Dialect } from './dialects/dialect.ts';
import type { PromptToken } from './prefix-cache.ts';
import type { PromptTokenizer } from './prompt-tokenizer.ts';
import { messageText } from './tokenizer.ts';

/**
 * Request bodies as vLLM validates them, and the generation request they describe. Loose objects:
 * vLLM accepts and ignores unknown fields; known fields are type-checked (a wrong type is a 400
 * BadRequestError, as in vLLM — not FastAPI's 422). Pure: tested without a server.
 */

/** A problem with the request, answered with vLLM's error JSON before anything is generated. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const optBool = z.boolean().nullable().optional();
const optInt = z.number().int().nullable().optional();
const optNum = z.number().nullable().optional();
const tokenIds = z.array(z.number().int().nonnegative());

const samplingFields = {
  model: z.string().nullable().optional(),
  stream: optBool,
  stream_options: z.looseObject({ include_usage: optBool, continuous_usage_stats: optBool }).nullable().optional(),
  max_tokens: optInt,
  n: optInt,
  ignore_eos: optBool,
  min_tokens: optInt,
  temperature: optNum,
  top_p: optNum,
  top_k: optInt,
  seed: optInt,
};

const CompletionBody = z.looseObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)]),
});

export const MessageBody = z.looseObject({
  role: z.string(),
  content: z
    .union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().nullable().optional() }))])
    .nullable()
    .optional(),
});

const ChatBody = z.looseObject({
  ...samplingFields,
  messages: z.array(MessageBody).min(1),
  max_completion_tokens: optInt,
});

/** vLLM's TokenizeCompletionRequest (`prompt`) or TokenizeChatRequest (`messages`). */
export const TokenizeBody = z
  .looseObject({
    model: z.string().nullable().optional(),
    prompt: z.string().optional(),
    messages: z.array(MessageBody).optional(),
    return_token_strs: optBool,
  })
  .refine((b) => b.prompt !== undefined || b.messages !== undefined, { message: 'either `prompt` or `messages` is required' });

export const DetokenizeBody = z.looseObject({ model: z.string().nullable().optional(), tokens: z.array(z.number().int()) });

/** vLLM's one-line description of a body that does not validate. */
export function parseBody<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  const r = schema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new RequestError(400, issueProblems(r.error.issues).join('; '));
  return r.data;
}

/** What one accepted `/v1/completions` or `/v1/chat/completions` request asks for. */
export interface GenerationRequest {
  /** The model the body named (or the default), recorded even when it is not served. */
  requestedModel: string;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  continuousUsage: boolean;
  promptTokens: number;
  /** The prompt's `promptTokens` tokens (ids, or words for the words tokenizer), for the prefix cache. */
  promptTokenList: readonly PromptToken[];
  maxTokens: number;
  /** The prompt's text (chat: the messages' text, joined), for the ground truth's prompt fingerprint. */
  promptText: string;
  /** The body's `ignore_eos: true` (whether the server honours it is the dialect's). */
  ignoreEos: boolean;
  /** The body's `min_tokens` (0 when absent). */
  minTokens: number;
}

/** The server being replayed and its prompt tokenizer: what a body's fields mean and count. */
export interface RequestRules {
  dialect: Pick<Dialect, 'maxTokens' | 'streamOptionsNeedStream' | 'checksModel' | 'includeUsageDefault' | 'completionPromptIsChat'>;
  tokenizer: Pick<PromptTokenizer, 'tokens' | 'tokensChat'>;
}

export interface ServedModels {
  models: readonly string[];
  maxModelLen: number;
}

/** Resolves the model a request names against the served ones (404 as vLLM answers). */
export function resolveModel(requested: string | null | undefined, served: ServedModels): string {
  const model = requested ?? served.models[0]!;
  if (!served.models.includes(model)) throw new RequestError(404, `The model \`${model}\` does not exist.`);
  return model;
}

/**
 * Validates a generation body and works out its prompt length and max_tokens with vLLM's rules
 * and messages. `seen` gets what is known before a later check fails (for the ground truth).
 */
export function parseGenerationRequest(
  endpoint: 'completions' | 'chat',
  raw: unknown,
  served: ServedModels,
  rules: RequestRules,
  seen: (partial: { model?: string; stream?: boolean; promptTokens?: number }) => void = () => undefined,
): GenerationRequest {
  const b = endpoint === 'chat' ? parseBody(ChatBody, raw) : parseBody(CompletionBody, raw);
  if (rules.dialect.streamOptionsNeedStream && b.stream_options !== undefined && b.stream_options !== null && b.stream !== true) {
    throw new RequestError(400, 'Stream options can only be defined when `stream=True`.');
  }
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw new RequestError(400, `n=${b.n} is not supported by the simulator; it serves n=1 only.`);
  const requestedModel = b.model ?? served.models[0]!;
  seen({ model: requestedModel, stream: b.stream === true });
  // A server that does not check the name (TGI, llama.cpp) answers as the model it serves.
  const model = rules.dialect.checksModel ? resolveModel(b.model, served) : served.models[0]!;

  const rawMax = rules.dialect.maxTokens(b as Record<string, unknown>, endpoint);
  if (rawMax !== undefined && rawMax !== null && !Number.isInteger(rawMax)) throw new RequestError(400, `max_tokens: expected int, got ${JSON.stringify(rawMax)}`);
  let promptTokenList: readonly PromptToken[];
  let maxTokens: number | null | undefined;
  if (endpoint === 'chat') {
    promptTokenList = rules.tokenizer.tokensChat((b as z.infer<typeof ChatBody>).messages);
    maxTokens = rawMax as number | null | undefined;
  } else {
    promptTokenList = completionPromptTokens((b as z.infer<typeof CompletionBody>).prompt, rules);
    maxTokens = (rawMax as number | null | undefined) ?? 16;
  }
  const promptTokens = promptTokenList.length;
  seen({ promptTokens });
  const maxLen = served.maxModelLen;
  if (promptTokens >= maxLen) {
    throw new RequestError(
      400,
      `This model's maximum context length is ${maxLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
    );
  }
  // vLLM's chat default: whatever the context has left.
  maxTokens ??= maxLen - promptTokens;
  if (maxTokens < 1) throw new RequestError(400, `max_tokens must be at least 1, got ${maxTokens}.`);
  if (promptTokens + maxTokens > maxLen) {
    throw new RequestError(
      400,
      `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${maxLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxLen} - ${promptTokens}).`,
    );
  }
  const so = b.stream_options;
  const includeUsage = so !== undefined && so !== null ? (so.include_usage ?? rules.dialect.includeUsageDefault) === true : false;
  const promptText =
    endpoint === 'chat'
      ? (b as z.infer<typeof ChatBody>).messages.map((m) => messageText(m)).join('\n')
      : [(b as z.infer<typeof CompletionBody>).prompt].flat(2).join(' ');
  return {
    requestedModel,
    model,
    stream: b.stream === true,
    includeUsage,
    continuousUsage: includeUsage && so?.continuous_usage_stats === true,
    promptTokens,
    promptTokenList,
    maxTokens,
    promptText,
    ignoreEos: b.ignore_eos === true,
    minTokens: b.min_tokens ?? 0,
  };
}

function completionPromptTokens(prompt: z.infer<typeof CompletionBody>['prompt'], rules: RequestRules): readonly PromptToken[] {
  // Ollama applies the chat template to completion prompts too.
  const tokens = (text: string): PromptToken[] => (rules.dialect.completionPromptIsChat ? rules.tokenizer.tokensChat([{ role: 'user', content: text }]) : rules.tokenizer.tokens(text));
  const nonEmpty = (t: readonly PromptToken[]): readonly PromptToken[] => (t.length > 0 ? t : emptyPrompt());
  if (typeof prompt === 'string') return nonEmpty(tokens(prompt));
  if (prompt.length === 0) return emptyPrompt();
  const first = prompt[0]!;
  if (typeof first === 'number') return prompt as number[];
  if (prompt.length > 1) {
    throw new RequestError(400, `A batch of ${prompt.length} prompts is not supported by the simulator; send one prompt per request.`);
  }
  return nonEmpty(typeof first === 'string' ? tokens(first) : first);
}

function emptyPrompt(): never {
  throw new RequestError(400, 'The decoder prompt cannot be empty');
}

/** Where EOS falls without ignore_eos: after 60 % of max_tokens (at least 1, not before min_tokens). */
export function eosPosition(maxTokens: number, minTokens = 0): number {
  return Math.max(1, Math.floor(0.6 * maxTokens), minTokens);
}

/**
 * How many tokens a request generates and why it stops. The simulated model emits EOS at
 * {@link eosPosition}; a server that honours `ignore_eos` (and the request sets it) keeps going to
 * max_tokens. A server without `ignore_eos` (TGI, Ollama) stops there whatever the body says.
 */
export function outputLength(
  request: Pick<GenerationRequest, 'maxTokens' | 'ignoreEos' | 'minTokens'>,
  dialect: Pick<Dialect, 'honoursIgnoreEos' | 'hasMinTokens'>,
): { outputTokens: number; finish: 'length' | 'stop' } {
  if (dialect.honoursIgnoreEos && request.ignoreEos) return { outputTokens: request.maxTokens, finish: 'length' };
  const eos = eosPosition(request.maxTokens, dialect.hasMinTokens ? request.minTokens : 0);
  return eos < request.maxTokens ? { outputTokens: eos, finish: 'stop' } : { outputTokens: request.maxTokens, finish: 'length' };
}
