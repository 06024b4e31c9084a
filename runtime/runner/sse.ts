/**
 * Incremental Server-Sent Events parser (the WHATWG event-stream rules that matter for LLM servers):
 * bytes may arrive split anywhere — inside a UTF-8 character, a line, or between `\r` and `\n` — and
 * one network chunk may hold many events. `push` returns the `data` payloads of the events completed
 * by this chunk, so the caller can stamp them with the chunk's arrival time. Comment lines (`: ping`),
 * `event:`/`id:`/`retry:` fields and blank keep-alives produce no event.
 */
export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private data: string[] = [];
  private sawCR = false;

  push(chunk: Uint8Array | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.consume(text);
  }

  /** Flushes at end of stream; an event without its terminating blank line is not dispatched (per spec). */
  end(): string[] {
    const rest = this.decoder.decode();
    return rest ? this.consume(rest) : [];
  }

  private consume(text: string): string[] {
    const events: string[] = [];
    let start = 0;
    let i = 0;
    // A `\r` that ended the previous chunk already ended its line: skip the `\n` that may follow.
    if (this.sawCR && text.startsWith('\n')) start = i = 1;
    this.sawCR = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = '';
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else this.sawCR = true;
      }
      start = i + 1;
      this.line(line, events);
    }
    this.buffer += text.slice(start);
    return events;
  }

  private line(line: string, events: string[]): void {
    if (line === '') {
      if (this.data.length > 0) events.push(this.data.join('\n'));
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data') return;
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    this.data.push(value);
  }
}
