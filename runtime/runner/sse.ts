/**
 * Incremental Server-Sent Events parser (the WHATWG event-stream rules that matter for LLM servers),
 * on bytes: bytes may arrive split anywhere — inside a UTF-8 character, a line, or between `\r` and
 * `\n` — and one network chunk may hold many events. Each completed event's `data` is handed to
 * `onData` synchronously, inside `push`, so the caller stamps it with the chunk's arrival time.
 * Comment lines (`: ping`), `event:`/`id:`/`retry:` fields and blank keep-alives produce no event.
 *
 * Bytes, not text: a stream's events are framed without decoding or copying them (the payload is a
 * view of the chunk, valid only during the callback); only a line or event split across chunks is
 * copied. This is the runner's per-token path, so it allocates as little as it can.
 */
export class SseParser {
  /** Bytes of an incomplete line from earlier chunks (a copy: the caller may reuse its buffers). */
  private pending: Buffer | null = null;
  /** Data lines of the event being read. */
  private data: Buffer[] = [];
  private sawCR = false;

  constructor(private readonly onData: (data: Buffer) => void) {}

  push(chunk: Uint8Array | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    // A `\r` that ended the previous chunk already ended its line: skip the `\n` that may follow.
    if (this.sawCR && buf.length > 0) {
      this.sawCR = false;
      if (buf[0] === 10) i = 1;
    }
    let start = i;
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (c !== 10 && c !== 13) continue;
      let line = buf.subarray(start, i);
      if (this.pending) {
        line = Buffer.concat([this.pending, line]);
        this.pending = null;
      }
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf[i + 1] === 10) i++;
        } else this.sawCR = true;
      }
      start = i + 1;
      this.line(line);
    }
    if (start < buf.length) this.pending = this.pending ? Buffer.concat([this.pending, buf.subarray(start)]) : Buffer.from(buf.subarray(start));
    // Data lines that wait for their blank line outlive this chunk: copy them out of it.
    for (let k = 0; k < this.data.length; k++) if (this.data[k]!.buffer === buf.buffer) this.data[k] = Buffer.from(this.data[k]!);
  }

  /** End of stream: an event without its terminating blank line is not dispatched (per spec). */
  end(): void {
    this.pending = null;
    this.data = [];
  }

  private line(line: Buffer): void {
    if (line.length === 0) {
      if (this.data.length === 1) this.onData(this.data[0]!);
      else if (this.data.length > 1) this.onData(Buffer.concat(this.data.flatMap((d, k) => (k === 0 ? [d] : [NEWLINE, d]))));
      this.data = [];
      return;
    }
    if (line[0] === 58 /* ':' comment */) return;
    // "data" then ":" (or nothing: a field with an empty value); any other field is not ours.
    if (line.length < 4 || line[0] !== 100 || line[1] !== 97 || line[2] !== 116 || line[3] !== 97) return;
    if (line.length === 4) {
      this.data.push(EMPTY);
      return;
    }
    if (line[4] !== 58) return;
    this.data.push(line.subarray(line[5] === 32 ? 6 : 5));
  }
}

const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);
