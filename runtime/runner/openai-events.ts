/**
 * Meaning of one SSE `data` payload of an OpenAI-compatible stream (completions or chat), following
 * vLLM's wire format: only events that carry content count as tokens — never the chat role chunk
 * (`delta: {role, content: ""}`), the usage-only chunk (`choices: []`), `[DONE]`, or blanks.
 */
export type StreamEvent =
  | { kind: 'done' }
  | { kind: 'chunk'; content: boolean; usage: Usage | null; finish: string | null }
  | { kind: 'error'; message: string }
  | { kind: 'invalid'; message: string };

export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
}

export function interpretEvent(data: string): StreamEvent {
  if (data === '[DONE]') return { kind: 'done' };
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return { kind: 'invalid', message: `event is not JSON: ${truncate(data)}` };
  }
  if (!isObject(obj)) return { kind: 'invalid', message: `event is not a JSON object: ${truncate(data)}` };
  if (obj.error !== undefined && obj.error !== null) return { kind: 'error', message: errorMessage(obj.error) };
  // Older vLLM put error fields at the top level with "object": "error".
  if (obj.object === 'error') return { kind: 'error', message: errorMessage(obj) };
  const choices = Array.isArray(obj.choices) ? obj.choices : [];
  let content = false;
  let finish: string | null = null;
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    if (hasContent(choice)) content = true;
    finish = finishReasonOf(choice) ?? finish;
  }
  return { kind: 'chunk', content, usage: usageOf(obj.usage), finish };
}

const DONE = Buffer.from('[DONE]');
const ERROR_KEY = Buffer.from('"error"');
const USAGE_KEY = Buffer.from('"usage"');
const USAGE_NULL = Buffer.from('"usage":null');
const STRING_CONTENT_KEYS = ['"text":"', '"content":"', '"reasoning_content":"', '"reasoning":"'].map((k) => Buffer.from(k));
const TOKEN_IDS = Buffer.from('"token_ids":[');
const FINISH_STRING = Buffer.from('"finish_reason":"');
const CONTENT_CHUNK: StreamEvent = Object.freeze({ kind: 'chunk', content: true, usage: null, finish: null });
const DONE_EVENT: StreamEvent = Object.freeze({ kind: 'done' });

/**
 * `interpretEvent` on an event's bytes, without parsing the common case. A token chunk of vLLM's
 * wire format (`{…"choices":[{…"text":" the"…}],"usage":null}`, no error, no usage, no finish
 * reason — TGI's `"finish_reason":""` before the last token counts as none) is recognised
 * by byte search: JSON escapes every `"` inside a string, so `"text":"` followed by a non-`"` byte
 * can only be a key with a non-empty string value. Anything else — usage, errors, empty text, keys
 * spaced as Python's `json.dumps` writes them, non-objects — is decoded and parsed by
 * `interpretEvent`, so the answer is the same either way (test/runner/sse-parser.test.ts checks
 * both paths on the same events). This keeps the runner's CPU per token, and the garbage it makes,
 * small at high rates.
 */
export function interpretEventBytes(data: Buffer): StreamEvent {
  if (data.length === DONE.length && data.equals(DONE)) return DONE_EVENT;
  if (data.length > 1 && data[0] === 0x7b && data[data.length - 1] === 0x7d && data.indexOf(ERROR_KEY) === -1 && usageIsNull(data) && !hasFinishBytes(data) && hasContentBytes(data)) return CONTENT_CHUNK;
  return interpretEvent(data.toString('utf8'));
}

function usageIsNull(data: Buffer): boolean {
  const at = data.indexOf(USAGE_KEY);
  return at === -1 || (data.indexOf(USAGE_NULL) === at && data.indexOf(USAGE_KEY, at + 1) === -1);
}

function hasFinishBytes(data: Buffer): boolean {
  const at = data.indexOf(FINISH_STRING);
  return at !== -1 && data[at + FINISH_STRING.length] !== 0x22;
}

function hasContentBytes(data: Buffer): boolean {
  for (const key of STRING_CONTENT_KEYS) {
    const at = data.indexOf(key);
    if (at !== -1 && data[at + key.length] !== 0x22) return true;
  }
  const ids = data.indexOf(TOKEN_IDS);
  if (ids !== -1) {
    const c = data[ids + TOKEN_IDS.length]!;
    return c >= 0x30 && c <= 0x39;
  }
  return false;
}

function hasContent(choice: Record<string, unknown>): boolean {
  if (typeof choice.text === 'string' && choice.text.length > 0) return true;
  // vLLM ≥ 0.10.2 can return token ids: a chunk holding tokens with empty text (the detokenizer
  // waiting for a whole UTF-8 character) still carries content.
  if (Array.isArray(choice.token_ids) && choice.token_ids.length > 0) return true;
  const delta = choice.delta;
  if (!isObject(delta)) return false;
  for (const key of ['content', 'reasoning_content', 'reasoning'] as const) {
    const v = delta[key];
    if (typeof v === 'string' && v.length > 0) return true;
  }
  return false;
}

/**
 * A choice's `finish_reason` ("length": cut at max_tokens; "stop": EOS or a stop string), null
 * while generating. TGI sends `""` on every chunk before the last: that is no reason either.
 */
export function finishReasonOf(choice: unknown): string | null {
  if (!isObject(choice)) return null;
  const f = choice.finish_reason;
  return typeof f === 'string' && f.length > 0 ? f : null;
}

export function usageOf(u: unknown): Usage | null {
  if (!isObject(u)) return null;
  const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
  return { promptTokens: int(u.prompt_tokens), completionTokens: int(u.completion_tokens) };
}

export function errorMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (isObject(e)) {
    const msg = typeof e.message === 'string' ? e.message : JSON.stringify(e);
    const type = typeof e.type === 'string' ? `${e.type}: ` : '';
    return `${type}${msg}`;
  }
  return JSON.stringify(e);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
