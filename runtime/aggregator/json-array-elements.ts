/**
 * The elements of one top-level JSON array read from a byte stream, each parsed by the native
 * `JSON.parse` — for inference-perf's `per_request_lifecycle_metrics.json`, which can exceed 1 GB.
 *
 * Why not a streaming JSON parser (stream-json did this before): it tokenizes every byte in
 * JavaScript, about 35 MB/s here. This only frames, two ways:
 * - fast (an array of objects, as inference-perf writes): element boundaries are looked for with the
 *   native `Buffer.indexOf` — a `}` followed by `,` and `{` (whitespace allowed) — and each candidate
 *   element is confirmed by `JSON.parse` itself. A wrong candidate cannot parse: a `}` inside a
 *   string leaves that string open, one inside a nested object leaves a bracket open. After a few
 *   wrong candidates in one element, or anything unexpected, the rest goes to the exact framer;
 * - exact: tight byte loops that track strings (quotes, backslashes) and brackets, so each element's
 *   end is known without guessing; JSON.parse validates it.
 * Memory holds about one element. bench/aggregate-inference-perf.ts has the throughput.
 *
 * A file that is not an array, is cut short, or holds anything after the array is an error, thrown
 * after the elements before the problem were yielded.
 */
export class JsonArrayError extends Error {
  override name = 'JsonArrayError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Bytes that matter inside an element outside strings: quote and brackets. Digits, `,`, `:`, space do not. */
const STRUCTURAL = new Uint8Array(256);
for (const c of '"{}[]') STRUCTURAL[c.charCodeAt(0)] = 1;

const WS = new Uint8Array(256);
for (const c of ' \n\r\t') WS[c.charCodeAt(0)] = 1;
/** Wrong candidates allowed in one element before the exact framer takes over (each costs a parse). */
const MAX_MISSES = 8;
/**
 * An element this long without a boundary after it (a file whose separators change, or one huge
 * element) goes to the exact framer, so memory stays bounded by it.
 */
const MAX_FAST_ELEMENT = 64 << 20;

export async function* jsonArrayElements(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  const source = chunks[Symbol.asyncIterator]();
  const next = async (): Promise<Buffer | null> => {
    const r = await source.next();
    return r.done ? null : typeof r.value === 'string' ? Buffer.from(r.value, 'utf8') : r.value;
  };
  let buf = Buffer.alloc(0);
  let consumed = 0; // bytes dropped from the front of buf
  let count = 0;
  let eof = false;
  const more = async (keepFrom: number): Promise<boolean> => {
    const chunk = eof ? null : await next();
    if (!chunk) {
      eof = true;
      return false;
    }
    consumed += keepFrom;
    buf = Buffer.concat([buf.subarray(keepFrom), chunk]);
    return true;
  };
  /** The exact framer from `from` in buf (an element's start, or the file's), then the rest of the stream. */
  const exact = (from: number, inArray: boolean): AsyncGenerator<unknown> => {
    const rest = buf.subarray(from);
    const lead = inArray ? [Buffer.from('[')] : [];
    const replay = async function* (): AsyncGenerator<Buffer> {
      yield* lead;
      yield rest;
      for (let c = await next(); c; c = await next()) yield c;
    };
    return exactElements(replay(), { offset: consumed + from - lead.length, count });
  };

  // The head: whitespace, `[`, whitespace, `{`. Anything else (an empty array, an array of
  // numbers or strings, not an array) is the exact framer's, from the first byte.
  let i = 0;
  for (;;) {
    while (i < buf.length && WS[buf[i]!] === 1) i += 1;
    if (i < buf.length || !(await more(0))) break;
  }
  if (i >= buf.length || buf[i] !== 0x5b) return yield* exact(0, false);
  let j = i + 1;
  for (;;) {
    while (j < buf.length && WS[buf[j]!] === 1) j += 1;
    if (j < buf.length || !(await more(0))) break;
  }
  if (j >= buf.length || buf[j] !== 0x7b) return yield* exact(0, false);

  let start = j; // the current element's `{`
  let pos = j + 1; // where the search for its closing `}` resumes
  let misses = 0;
  // Once a boundary is confirmed, its exact bytes (`}, {` or `},{` …) are searched for whole: far
  // fewer false candidates than every `}` (inference-perf's response text is full of them).
  let boundary: Buffer | null = null;
  for (;;) {
    const close: number = boundary ? buf.indexOf(boundary, pos) : buf.indexOf(0x7d, pos);
    if (close === -1) {
      // The next search starts where a boundary could still begin.
      pos = boundary ? Math.max(pos, buf.length - boundary.length + 1) : buf.length;
      if (buf.length - start > MAX_FAST_ELEMENT) return yield* exact(start, true);
      if (!(await more(start))) return yield* exact(start, true);
      pos -= start;
      start = 0;
      continue;
    }
    // After the `}`: whitespace, `,`, whitespace, `{` — another element follows. (The last element,
    // before `]`, is left to the exact framer at the end: `}]` is everywhere in inference-perf's
    // response text, and each false candidate costs a parse.)
    let k = close + 1;
    while (k < buf.length && WS[buf[k]!] === 1) k += 1;
    if (k < buf.length && buf[k] === 0x2c) {
      k += 1;
      while (k < buf.length && WS[buf[k]!] === 1) k += 1;
    } else if (k < buf.length) {
      pos = close + 1;
      continue;
    }
    if (k >= buf.length) {
      // The bytes that decide are in the next chunk: look at this `}` again with them.
      pos = close;
      if (!(await more(start))) return yield* exact(start, true);
      pos -= start;
      start = 0;
      continue;
    }
    if (buf[k] !== 0x7b) {
      pos = close + 1;
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8', start, close + 1));
    } catch {
      if (++misses > MAX_MISSES) return yield* exact(start, true);
      pos = close + 1;
      continue;
    }
    count += 1;
    misses = 0;
    boundary ??= Buffer.from(buf.subarray(close, k + 1));
    yield value;
    start = k;
    pos = k + 1;
  }
}

async function* exactElements(chunks: AsyncIterable<Buffer | string>, at: { offset: number; count: number }): AsyncGenerator<unknown> {
  let started = false;
  let ended = false;
  let depth = 0; // inside the top-level array: 0 between elements
  let inString = false;
  let escaped = false; // the next byte of a string is escaped (a chunk ended on a backslash)
  let parts: Buffer[] = []; // the element's bytes from earlier chunks
  let begun = false; // an element has started
  let offset = at.offset; // bytes before this chunk (for messages)
  let count = at.count; // elements yielded
  let sawComma = false; // a comma with no element after it yet (`[1,]` is not JSON)

  const parse = (bytes: Buffer): unknown => {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new JsonArrayError(`element ${count} is not valid JSON: ${(e as Error).message}`);
    }
  };

  for await (const raw of chunks) {
    const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    const len = buf.length;
    let i = 0;
    let start = 0; // where the element's bytes start in this chunk (0: it began in an earlier one)
    while (i < len) {
      if (inString) {
        if (escaped) {
          escaped = false;
          i += 1;
          continue;
        }
        // Skip to the next quote or backslash; a backslash escapes the byte after it (maybe in the next chunk).
        let b = 0;
        while (i < len && (b = buf[i]!) !== QUOTE && b !== BACKSLASH) i += 1;
        if (i === len) break;
        if (b === BACKSLASH) {
          if (i + 1 < len) i += 2;
          else {
            escaped = true;
            i = len;
          }
          continue;
        }
        inString = false;
        i += 1;
        continue;
      }
      if (depth > 0) {
        // Inside an element's objects and arrays: skip to the next byte that can change the depth.
        while (i < len && STRUCTURAL[buf[i]!] === 0) i += 1;
        if (i === len) break;
      }
      const c = buf[i]!;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i += 1;
        continue;
      }
      if (!started) {
        if (c !== 0x5b) throw new JsonArrayError(`expected a JSON array, found "${String.fromCharCode(c)}" at byte ${offset + i}`);
        started = true;
        i += 1;
        continue;
      }
      if (ended) throw new JsonArrayError(`unexpected content after the array at byte ${offset + i}`);
      if (depth === 0 && (c === 0x2c || c === 0x5d)) {
        // `,` or `]` between elements: the element (if any) is complete.
        let value: unknown;
        const complete = begun;
        if (begun) {
          parts.push(buf.subarray(start, i));
          value = parse(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
          parts = [];
          begun = false;
        } else if (c === 0x2c || sawComma) {
          throw new JsonArrayError(`missing an element before byte ${offset + i}`);
        }
        sawComma = c === 0x2c;
        if (c === 0x5d) ended = true;
        i += 1;
        if (complete) {
          count += 1;
          yield value;
        }
        continue;
      }
      if (!begun) {
        begun = true;
        start = i;
        sawComma = false;
      }
      if (c === QUOTE) inString = true;
      else if (c === 0x7b || c === 0x5b) depth += 1;
      else if (c === 0x7d || c === 0x5d) depth -= 1;
      i += 1;
    }
    if (begun) parts.push(Buffer.from(buf.subarray(start)));
    offset += len;
  }
  if (!started) throw new JsonArrayError('the file is empty, not a JSON array');
  if (!ended) throw new JsonArrayError(`the array is cut short after byte ${offset}`);
}
