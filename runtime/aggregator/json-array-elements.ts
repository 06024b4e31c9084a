/**
 * The elements of one top-level JSON array read from a byte stream, each parsed by the native
 * `JSON.parse` — for inference-perf's `per_request_lifecycle_metrics.json`, which can exceed 1 GB.
 *
 * Why not a streaming JSON parser (stream-json did this before): it tokenizes every byte in
 * JavaScript, about 35 MB/s here. This only frames: it finds where each element ends (depth,
 * strings and escapes — inside a string it jumps from quote to quote with `indexOf`, so the prompt
 * and response texts that make up most of the file are skipped natively) and hands the element's
 * bytes to `JSON.parse`, which also validates them. Memory holds one element.
 *
 * A file that is not an array, is cut short, or holds anything after the array is an error, thrown
 * after the elements before the problem were yielded.
 */
export class JsonArrayError extends Error {
  override name = 'JsonArrayError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

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
    let start = begun ? 0 : -1; // where the element's bytes start in this chunk
    while (i < len) {
      if (inString) {
        if (escaped) {
          escaped = false;
          i += 1;
          continue;
        }
        const q = buf.indexOf(QUOTE, i);
        if (q === -1) {
          let run = 0;
          for (let k = len - 1; k >= i && buf[k] === BACKSLASH; k--) run += 1;
          escaped = run % 2 === 1;
          i = len;
          break;
        }
        let run = 0;
        for (let k = q - 1; k >= i && buf[k] === BACKSLASH; k--) run += 1;
        i = q + 1;
        if (run % 2 === 0) inString = false;
        continue;
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
    if (begun) parts.push(Buffer.from(buf.subarray(start < 0 ? 0 : start)));
    offset += len;
  }
  if (!started) throw new JsonArrayError('the file is empty, not a JSON array');
  if (!ended) throw new JsonArrayError(`the array is cut short after byte ${offset}`);
}
