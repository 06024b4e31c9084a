import type { Dispatcher } from 'undici';
import type { ServerDialect } from '../core/scenario/servers.ts';
import type { TokenCounter } from './prompts.ts';
import { words as allWords } from './words.ts';

/**
 * How the runner counts a prompt's tokens the way the server will (its usage.prompt_tokens), best
 * first: the server's own tokenize endpoint in its dialect; a tokenizer loaded client-side from
 * `tokenizer.pretrained_model_name_or_path`; or, with neither, the server's usage on tiny probes.
 * Whichever counted, the warm-up's usage checks it before the run (preflight.ts).
 */
export type CountMethod = 'tokenize-endpoint' | 'client-tokenizer' | 'usage-probe';

export interface PromptCounter {
  method: CountMethod;
  /** How, in words, for the run's notes and run.json. */
  detail: string;
  count: TokenCounter;
  /** The words prompts are drawn from (default: runner/words.ts). */
  words?: readonly string[];
  /** Every prompt starts with this word (usage probes measured words after it). */
  first?: string;
}

/** Counts the tokens of a text alone (no chat template, maybe no BOS): the server adds `overhead`. */
export type ContentCounter = (text: string) => Promise<number>;

/**
 * The server's tokenize endpoint in its dialect. `full` counts are what the server will count for
 * a request's prompt (template and special tokens included); `content` counts need the overhead a
 * usage probe measures.
 */
export function endpointCounter(dispatcher: Dispatcher, dialect: ServerDialect, api: 'completion' | 'chat', model: string, headers: Record<string, string>): { kind: 'full' | 'content'; path: string; count: ContentCounter } | null {
  const post = async (path: string, body: unknown): Promise<unknown> => {
    const res = await dispatcher.request({ path, method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), headersTimeout: 30_000, bodyTimeout: 30_000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`POST ${path} answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`POST ${path} answered with no JSON: ${text.slice(0, 200)}`);
    }
  };
  const counted = (path: string, n: unknown, text: string): number => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`POST ${path} answered without a token count: ${text.slice(0, 200)}`);
    return n;
  };
  const field = (obj: unknown, key: string): unknown => (obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined);
  const length = (v: unknown): number | undefined => (Array.isArray(v) ? v.length : undefined);
  switch (dialect.tokenize) {
    case 'vllm':
      // vLLM applies the chat template to `messages`; SGLang's /tokenize takes a prompt only.
      if (api === 'chat' && dialect.type === 'vllm') {
        return { kind: 'full', path: '/tokenize', count: async (p) => { const r = await post('/tokenize', { model, messages: [{ role: 'user', content: p }] }); return counted('/tokenize', field(r, 'count'), JSON.stringify(r)); } };
      }
      return { kind: api === 'chat' ? 'content' : 'full', path: '/tokenize', count: async (p) => { const r = await post('/tokenize', { model, prompt: p }); return counted('/tokenize', field(r, 'count'), JSON.stringify(r)); } };
    case 'tgi':
      if (api === 'chat') {
        return { kind: 'full', path: '/chat_tokenize', count: async (p) => { const r = await post('/chat_tokenize', { model, messages: [{ role: 'user', content: p }] }); return counted('/chat_tokenize', length(field(r, 'tokenize_response')), JSON.stringify(r)); } };
      }
      return { kind: 'full', path: '/tokenize', count: async (p) => { const r = await post('/tokenize', { inputs: p }); return counted('/tokenize', length(r), JSON.stringify(r)); } };
    case 'llamacpp':
      return { kind: 'content', path: '/tokenize', count: async (p) => { const r = await post('/tokenize', { content: p, add_special: false }); return counted('/tokenize', length(field(r, 'tokens')), JSON.stringify(r)); } };
    case 'trtllm':
      return { kind: 'content', path: '/_internal/tokenize', count: async (p) => { const r = await post('/_internal/tokenize', { model, prompt: p }); return counted('/_internal/tokenize', field(r, 'count'), JSON.stringify(r)); } };
    default:
      return null;
  }
}

/** Content counts plus the tokens the server adds around any prompt (BOS, chat template). */
export function withOverhead(count: ContentCounter, overhead: number): TokenCounter {
  return async (p) => (await count(p)) + overhead;
}

/** The word every usage-probed prompt starts with, and the words probed after it. */
const PROBE_FIRST = 'the';
const PROBE_WORDS = 96;
/** Fewer one-token words than this and prompts would repeat too much to be fresh: refuse. */
const MIN_PROBED_WORDS = 32;

/**
 * With no tokenizer anywhere: learn which words cost exactly one token (after a first word) from
 * the server's usage.prompt_tokens on 1-token probes — `first` alone, then `first w` for each word
 * — and build prompts from those words only, so a prompt's count is `base + words − 1` exactly
 * (byte-level BPE and SentencePiece tokenize a space-led word independently of its neighbours; the
 * warm-up's usage checks it). The probes are 2-word prompts: they share at most the template and
 * one word with a measured prompt, too little for a prefix cache to shorten its TTFT.
 * `promptTokens` sends one probe and returns its usage.prompt_tokens.
 */
export async function usageProbeCounter(promptTokens: (prompt: string) => Promise<number>): Promise<PromptCounter | { tooFew: number }> {
  const base = await promptTokens(PROBE_FIRST);
  const candidates = allWords.filter((w) => w !== PROBE_FIRST).slice(0, PROBE_WORDS);
  const costs = new Array<number>(candidates.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const i = next++;
      costs[i] = (await promptTokens(`${PROBE_FIRST} ${candidates[i]}`)) - base;
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const ones = candidates.filter((_, i) => costs[i] === 1);
  if (ones.length < MIN_PROBED_WORDS) return { tooFew: ones.length };
  return {
    method: 'usage-probe',
    detail: `the server's usage on ${candidates.length + 1} one-token probes (${ones.length} one-token words)`,
    count: async (p) => base + p.split(/\s+/).filter(Boolean).length - 1,
    words: ones,
    first: PROBE_FIRST,
  };
}
