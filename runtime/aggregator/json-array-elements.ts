/**
 * The elements of one top-level JSON array read from a byte stream, each parsed by the native
 * `JSON.parse` — for inference-perf's `per_request_lifecycle_metrics.json`, which can exceed 1 GB.
 *
 * Why not a streaming JSON parser (stream-json did this before): it tokenizes every byte in
 * JavaScript, about 35 MB/s here. This only frames: it finds where each element ends with tight
 * byte loops that look at nothing but quotes and backslashes inside strings and brackets outside
 * them (a loop beat `indexOf` per quote: inference-perf's request and response fields are JSON inside
 * strings, full of `\"`), and hands the element's bytes to `JSON.parse`, which also validates them.
 * Memory holds one element. bench/aggregate-inference-perf.ts: 81 MB/s end to end for 1 GB.
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

export async function* jsonArrayElements(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let started = false;
  let ended = false;
  let depth = 0; // inside the top-level array: 0 between elements
  let inString = false;
  let escaped = false; // the next byte of a string is escaped (a chunk ended on a backslash)
  let parts: Buffer[] = []; // the element's bytes from earlier chunks
  let begun = false; // an element has started
  let offset = 0; // bytes before this chunk (for messages)
  let count = 0; // elements yielded
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
