/**
 * Incremental Server-Sent Events parser (the WHATWG event-stream rules that matter for LLM servers),
 * on bytes: bytes may arrive split anywhere — inside a UTF-8 character, a line, or between `\r` and
 * `\n` — and one network chunk may hold many events. Each completed event's `data` is handed to
 * `onData` synchronously, inside `push`, so the caller stamps it with the chunk's arrival time.
 * Comment lines (`: ping`), `event:`/`id:`/`retry:` fields and blank keep-alives produce no event.
 *
 * Bytes, not text, and ranges, not views: an event whose one data line and blank line arrive in the
 * same chunk — every token of a streamed completion, in practice — is handed over as
 * `(chunk, start, end)`, valid only during the callback, with nothing allocated. Only a line or an
 * event split across chunks, or an event of several data lines, is copied. This is the runner's
 * per-token path: what it allocates at 100 streams is what the garbage collector pauses the loop for.
 */
export type EventData = (bytes: Uint8Array, start: number, end: number) => void;

export class SseParser {
  /** Bytes of an incomplete line from earlier chunks (a copy: the caller may reuse its buffers). */
  private pending: Buffer | null = null;
  /** Data lines of the event being read, copied (several lines, or the event spans chunks). */
  private data: Buffer[] = [];
  /** The event's one data line while it is still inside the chunk being pushed: [from, to) of `src`. */
  private src: Uint8Array | null = null;
  private from = 0;
  private to = 0;
  private sawCR = false;

  constructor(private readonly onData: EventData) {}

  /**
   * Whether `chunk` is `data: ` + at least a byte + a blank line while nothing is held from earlier
   * chunks. Then, if `[6, length − 2)` holds no line end, pushing it would hand on exactly that range
   * as one event: a caller that can vouch for that range (request.ts, by the stream's template, which
   * refuses control bytes) may take it so, without the framing.
   */
  loneDataEvent(c: Uint8Array): boolean {
    const n = c.length;
    if (this.pending !== null || this.src !== null || this.data.length !== 0 || this.sawCR) return false;
    return n > 8 && c[n - 1] === 10 && c[n - 2] === 10 && c[0] === 100 && c[1] === 97 && c[2] === 116 && c[3] === 97 && c[4] === 58 && c[5] === 32;
  }

  push(chunk: Uint8Array | string): void {
    const buf = asBuffer(chunk);
    let start = 0;
    // A `\r` that ended the previous chunk already ended its line: skip the `\n` that may follow.
    if (this.sawCR && buf.length > 0) {
      this.sawCR = false;
      if (buf[0] === 10) start = 1;
    }
    // Line ends are found with Buffer#indexOf (memchr, ~15 ns) rather than a byte loop (~270 ns for
    // a 230-byte token chunk); most streams have no `\r` at all, so that search runs once per chunk.
    let lf = buf.indexOf(10, start);
    let cr = buf.indexOf(13, start);
    while (lf !== -1 || cr !== -1) {
      let end: number;
      let next: number;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        end = lf;
        next = lf + 1;
      } else {
        end = cr;
        if (cr + 1 < buf.length) next = buf[cr + 1] === 10 ? cr + 2 : cr + 1;
        else {
          next = cr + 1;
          this.sawCR = true;
        }
      }
      if (this.pending) {
        const line = Buffer.concat([this.pending, buf.subarray(start, end)]);
        this.pending = null;
        this.line(line, 0, line.length, false);
      } else this.line(buf, start, end, true);
      start = next;
      if (lf !== -1 && lf < start) lf = buf.indexOf(10, start);
      if (cr !== -1 && cr < start) cr = buf.indexOf(13, start);
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      this.pending = this.pending ? Buffer.concat([this.pending, rest]) : Buffer.from(rest);
    }
    // A data line that waits for its blank line outlives this chunk: copy it out.
    if (this.src) this.keepLine();
  }

  /** End of stream: an event without its terminating blank line is not dispatched (per spec). */
  end(): void {
    this.pending = null;
    this.data = [];
    this.src = null;
  }

  /** One line, `[s, e)` of `b`; `inChunk`: `b` is the caller's chunk (not a copy of ours). */
  private line(b: Uint8Array, s: number, e: number, inChunk: boolean): void {
    if (s === e) {
      // A data line still in the chunk is the event's only one (a second would have copied it out).
      const src = this.src;
      if (src) {
        this.src = null;
        this.onData(src, this.from, this.to);
        return;
      }
      if (this.data.length === 1) this.onData(this.data[0]!, 0, this.data[0]!.length);
      else if (this.data.length > 1) {
        const joined = Buffer.concat(this.data.flatMap((d, k) => (k === 0 ? [d] : [NEWLINE, d])));
        this.onData(joined, 0, joined.length);
      }
      this.data = [];
      return;
    }
    if (b[s] === 58 /* ':' comment */) return;
    // "data" then ":" (or nothing: a field with an empty value); any other field is not ours.
    if (e - s < 4 || b[s] !== 100 || b[s + 1] !== 97 || b[s + 2] !== 116 || b[s + 3] !== 97) return;
    let v = e;
    if (e - s > 4) {
      if (b[s + 4] !== 58) return;
      v = b[s + 5] === 32 ? s + 6 : s + 5;
    }
    if (this.src) this.keepLine();
    if (inChunk && this.data.length === 0) {
      this.src = b;
      this.from = v;
      this.to = e;
    } else this.data.push(inChunk ? Buffer.from(b.subarray(v, e)) : Buffer.from(b.buffer, b.byteOffset + v, e - v));
  }

  /** Copies the data line still in the caller's chunk into `data`. */
  private keepLine(): void {
    this.data.push(Buffer.from(this.src!.subarray(this.from, this.to)));
    this.src = null;
  }
}

const NEWLINE = Buffer.from('\n');

/** A Buffer over the same bytes (undici's chunks already are one; a string is encoded). */
function asBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
