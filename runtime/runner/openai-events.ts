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
 * per token at high rates. With the stream's `template` (TokenChunkTemplate, below), a token chunk
 * shaped as the last one recognised is known by its bytes around the text, and the scan runs only
 * for the others; neither allocates (learning copies one chunk, a few times per stream at most).
 */
export function interpretEventRange(bytes: Uint8Array, start: number, end: number, template?: TokenChunkTemplate): StreamEvent {
  if (template?.matches(bytes, start, end)) return CONTENT_CHUNK;
  if (isTokenChunk(bytes, start, end)) {
    if (template && valueFrom >= 0) template.learn(bytes, start, valueFrom, valueTo, end);
    return CONTENT_CHUNK;
  }
  if (equalsAt(bytes, start, end, DONE)) return DONE_EVENT;
  return interpretEvent(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8'));
}

/**
 * One stream's token chunks, remembered by their bytes around the text. A server writes every token
 * chunk of a stream alike but for the text (`{"id":"cmpl-7",…,"text":"` + text + `","logprobs":null,
 * …,"usage":null}`), so once the one-pass scan has recognised a token chunk, the next one whose bytes
 * before and after the text are the same, with a text that is a non-empty JSON string body (no
 * unescaped `"`, no escape running into the closing quote, no control byte), is the same JSON with other
 * text: a content chunk, by the same key. Two native comparisons and a scan of a few bytes, instead
 * of a scan of every byte. Anything else (the last chunk's finish reason, usage, an error, another
 * id) differs from the template and goes to the one-pass scan as before. A stream whose chunks differ
 * elsewhere too is learned again at most `MAX_LEARNED` times, then left to the scan.
 */
export class TokenChunkTemplate {
  /** The learned chunk's bytes: its head is `[0, headEnd)` (through the text's opening quote), its tail `[tailStart, length)`. */
  private bytes: Buffer | null = null;
  private headEnd = 0;
  private tailStart = 0;
  private learned = 0;

  matches(b: Uint8Array, start: number, end: number): boolean {
    const t = this.bytes;
    if (t === null) return false;
    const from = start + this.headEnd;
    const to = end - (t.length - this.tailStart);
    if (to <= from || t.compare(b, start, from, 0, this.headEnd) !== 0 || t.compare(b, to, end, this.tailStart) !== 0) return false;
    for (let k = from; k < to; k++) {
      const c = b[k]!;
      // A quote would end the string early; a control byte (a line end included) is not JSON text.
      if (c === 0x22 || c < 0x20) return false;
      // An escape takes the next byte with it; one that would take the closing quote is not this template.
      if (c === 0x5c && ++k >= to) return false;
    }
    return true;
  }

  /** A token chunk `[start, end)` whose content text is `[from, to)` (between its quotes). */
  learn(b: Uint8Array, start: number, from: number, to: number, end: number): void {
    if (this.learned >= MAX_LEARNED) return;
    this.learned += 1;
    // Data of several lines (JSON whitespace between them): a chunk matching it would hold a line
    // end, which the request's one-chunk path (request.ts) must never see.
    for (let k = start; k < end; k++) if (b[k] === 10 || b[k] === 13) return;
    this.bytes = Buffer.copyBytesFrom(b, start, end - start);
    this.headEnd = from - start;
    this.tailStart = to - start;
  }
}

const MAX_LEARNED = 4;

/** `interpretEventRange` of a whole buffer. */
export function interpretEventBytes(data: Uint8Array): StreamEvent {
  return interpretEventRange(data, 0, data.length);
}

/**
 * Where `isTokenChunk` found the text of its first content key (between the quotes), or -1: module
 * state rather than a returned object, so the per-token path allocates nothing.
 */
let valueFrom = -1;
let valueTo = -1;

/**
 * True only when `interpretEvent` would answer CONTENT_CHUNK; false means "parse it". Between strings
 * it checks the bytes and that brackets pair, not the order of punctuation and literals: a server
 * writing `,,` or `tru` in a token chunk would have its tokens counted where JSON.parse refuses.
 */
function isTokenChunk(b: Uint8Array, start: number, end: number): boolean {
  valueFrom = -1;
  valueTo = -1;
  if (end - start < 2 || b[start] !== 0x7b || b[end - 1] !== 0x7d) return false;
  let content = false;
  // The next string is the value of a content key.
  let contentValue = false;
  // Open objects and arrays outside strings, a bit each (1 = object), innermost lowest: `{…}\n{…}`
  // (two data lines of one event) or `{"a":[}]` is not JSON, so not a token chunk.
  let open = 1;
  let depth = 1;
  let i = start + 1;
  while (i < end) {
    const c = b[i]!;
    if (c !== 0x22) {
      // Bytes between strings: JSON punctuation, whitespace, numbers and literals only.
      if (BETWEEN_STRINGS[c] !== 1) return false;
      if (c === 0x7b || c === 0x5b) {
        if (++depth > 30) return false;
        open = (open << 1) | (c === 0x7b ? 1 : 0);
      } else if (c === 0x7d || c === 0x5d) {
        if ((open & 1) !== (c === 0x7d ? 1 : 0)) return false;
        open >>>= 1;
        // The outermost object closes at the last byte and nowhere else.
        if (--depth === 0 && i !== end - 1) return false;
      }
      i++;
      continue;
    }
    // A string: [s, j) its raw bytes, j its closing quote.
    const s = i + 1;
    let j = s;
    // A control byte (a raw tab, say) inside a string is not JSON: the parser says so.
    for (; j < end; j++) {
      const c = b[j]!;
      if (c === 0x22 || c < 0x20) break;
      if (c === 0x5c) j++;
    }
    if (j >= end || b[j] !== 0x22) return false;
    if (b[j + 1] !== 0x3a) {
      // A value. `"object":"error"` is an old-style error.
      if (equalsAt(b, s, j, ERROR)) return false;
      if (contentValue) {
        contentValue = false;
        valueFrom = s;
        valueTo = j;
      }
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
    if (valueFrom < 0 && b[v] === 0x22 && b[v + 1] !== 0x22) {
      for (const key of STRING_CONTENT_KEYS) {
        if (equalsAt(b, s, j, key)) {
          content = true;
          contentValue = true;
        }
      }
    }
    i = v;
  }
  return content && depth === 0;
}

/** The bytes JSON allows outside strings: whitespace, punctuation, and what numbers and true/false/null are made of. */
const BETWEEN_STRINGS = (() => {
  const t = new Uint8Array(256);
  for (const ch of ' \t\n\r{}[]:,-+.0123456789eEtruefalsn') t[ch.charCodeAt(0)] = 1;
  return t;
})();

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
