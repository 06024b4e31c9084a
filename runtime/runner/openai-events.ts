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

const CONTENT_CHUNK: StreamEvent = Object.freeze({ kind: 'chunk', content: true, usage: null, finish: null });
const DONE_EVENT: StreamEvent = Object.freeze({ kind: 'done' });
const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const DONE = ascii('[DONE]');
const ERROR = ascii('error');
const USAGE = ascii('usage');
const FINISH = ascii('finish_reason');
const TOKEN_IDS = ascii('token_ids');
const STRING_CONTENT_KEYS = ['text', 'content', 'reasoning_content', 'reasoning'].map(ascii);
const NULL = ascii('null');

/**
 * `interpretEvent` on an event's bytes (`[start, end)` of `bytes`), without decoding or parsing the
 * common case. A token chunk of vLLM's wire format (`{…"choices":[{…"text":" the"…}],"usage":null}`:
 * no error, no usage, no finish reason — TGI's `"finish_reason":""` before the last token counts as
 * none) is recognised in one pass that skips every JSON string whole (escapes included), so a key
 * is only ever a string followed by `:`, and text that merely contains `"text":"` is never taken for
 * one. Anything else — usage, errors, empty text, keys spaced as Python's `json.dumps` writes them,
 * non-objects — is decoded and parsed by `interpretEvent`, so the answer is the same either way
 * (test/runner/sse-parser.test.ts checks both paths on the same events). This is the runner's CPU
 * per token at high rates, and it allocates nothing.
 */
export function interpretEventRange(bytes: Uint8Array, start: number, end: number): StreamEvent {
  if (isTokenChunk(bytes, start, end)) return CONTENT_CHUNK;
  if (equalsAt(bytes, start, end, DONE)) return DONE_EVENT;
  return interpretEvent(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8'));
}

/** `interpretEventRange` of a whole buffer. */
export function interpretEventBytes(data: Uint8Array): StreamEvent {
  return interpretEventRange(data, 0, data.length);
}

/** True only when `interpretEvent` would answer CONTENT_CHUNK; false means "parse it". */
function isTokenChunk(b: Uint8Array, start: number, end: number): boolean {
  if (end - start < 2 || b[start] !== 0x7b || b[end - 1] !== 0x7d) return false;
  let content = false;
  let i = start + 1;
  while (i < end) {
    if (b[i] !== 0x22) {
      i++;
      continue;
    }
    // A string: [s, j) its raw bytes, j its closing quote.
    const s = i + 1;
    let j = s;
    while (j < end && b[j] !== 0x22) j += b[j] === 0x5c ? 2 : 1;
    if (j >= end) return false;
    if (b[j + 1] !== 0x3a) {
      // A value. `"object":"error"` is an old-style error.
      if (equalsAt(b, s, j, ERROR)) return false;
      i = j + 1;
      continue;
    }
    // A key (one not after `{` or `,` is malformed JSON: the parser says so); its value starts right
    // after the colon (a space there sends the event to the parser).
    if (b[i - 1] !== 0x7b && b[i - 1] !== 0x2c) return false;
    const v = j + 2;
    const len = j - s;
    if (len === 5) {
      if (equalsAt(b, s, j, ERROR)) return false;
      if (equalsAt(b, s, j, USAGE) && !equalsAt(b, v, Math.min(v + 4, end), NULL)) return false;
    } else if (len === 13) {
      if (equalsAt(b, s, j, FINISH) && b[v] === 0x22 && b[v + 1] !== 0x22) return false;
    } else if (len === 9 && equalsAt(b, s, j, TOKEN_IDS)) {
      if (b[v] === 0x5b && b[v + 1]! >= 0x30 && b[v + 1]! <= 0x39) content = true;
    }
    if (!content && b[v] === 0x22 && b[v + 1] !== 0x22) {
      for (const key of STRING_CONTENT_KEYS) if (equalsAt(b, s, j, key)) content = true;
    }
    i = v;
  }
  return content;
}

function equalsAt(b: Uint8Array, s: number, e: number, word: Uint8Array): boolean {
  if (e - s !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[s + k] !== word[k]) return false;
  return true;
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
