/**
 * The OpenAI-compatible servers teams run on EKS, and what each can do for an exact baseline
 * (`server.type`, inference-perf's key). The facts come from each server's source
 * (../shared/reference/server-dialects.md has the table with files and commits); the runner asks
 * only what it needs: how to count a prompt's tokens, where the context length is, and which
 * sampling fields the server honours.
 */
export const serverTypes = ['vllm', 'sglang', 'tgi', 'trtllm', 'llamacpp', 'ollama', 'openai'] as const;
export type ServerType = (typeof serverTypes)[number];

/** How a server counts a prompt's tokens, if it can. */
export type TokenizeDialect =
  /** vLLM, SGLang: `POST /tokenize {model, prompt | messages}` → `{count}`, chat templates applied. */
  | 'vllm'
  /** TGI: `POST /tokenize {inputs}` → `[{id,…}]` (completion prompts); chat has `/chat_tokenize`. */
  | 'tgi'
  /** llama.cpp: `POST /tokenize {content, add_special}` → `{tokens}` (text only: no chat template). */
  | 'llamacpp'
  /** TensorRT-LLM: `POST /_internal/tokenize {prompt}` → `{count, tokens}` (text only). */
  | 'trtllm';

/** Where the server states the model's context length. */
export type ContextLengthSource = 'models.max_model_len' | 'models.meta.n_ctx' | 'info.max_total_tokens';

export interface ServerDialect {
  type: ServerType;
  /** The server's name as people say it. */
  name: string;
  /** Honours `ignore_eos` (keeps generating past EOS until max_tokens). */
  ignoreEos: boolean;
  /** Honours `min_tokens`. */
  minTokens: boolean;
  /** Answers 400 to a request field it does not know, so only the fields it knows are sent. */
  rejectsUnknownFields: boolean;
  tokenize: TokenizeDialect | null;
  contextLength: ContextLengthSource | null;
}

export const serverDialects: Record<ServerType, ServerDialect> = {
  vllm: { type: 'vllm', name: 'vLLM', ignoreEos: true, minTokens: true, rejectsUnknownFields: false, tokenize: 'vllm', contextLength: 'models.max_model_len' },
  sglang: { type: 'sglang', name: 'SGLang', ignoreEos: true, minTokens: true, rejectsUnknownFields: false, tokenize: 'vllm', contextLength: 'models.max_model_len' },
  tgi: { type: 'tgi', name: 'Hugging Face TGI', ignoreEos: false, minTokens: false, rejectsUnknownFields: false, tokenize: 'tgi', contextLength: 'info.max_total_tokens' },
  trtllm: { type: 'trtllm', name: 'TensorRT-LLM (trtllm-serve)', ignoreEos: true, minTokens: true, rejectsUnknownFields: true, tokenize: 'trtllm', contextLength: null },
  llamacpp: { type: 'llamacpp', name: "llama.cpp's server", ignoreEos: true, minTokens: false, rejectsUnknownFields: false, tokenize: 'llamacpp', contextLength: 'models.meta.n_ctx' },
  ollama: { type: 'ollama', name: 'Ollama', ignoreEos: false, minTokens: false, rejectsUnknownFields: false, tokenize: null, contextLength: null },
  // Anything else: ask for ignore_eos (unknown fields are ignored by OpenAI-compatible servers) and
  // let the warm-up prove whether it was honoured.
  openai: { type: 'openai', name: 'an OpenAI-compatible server', ignoreEos: true, minTokens: false, rejectsUnknownFields: false, tokenize: null, contextLength: null },
};

/** The servers that honour ignore_eos, by name (for fixes that suggest one). */
export function serversWithIgnoreEos(): string {
  return serverTypes.filter((t) => t !== 'openai' && serverDialects[t].ignoreEos).map((t) => serverDialects[t].name.replace(/ \(.*\)$/, '')).join(', ');
}
