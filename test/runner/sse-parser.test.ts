import { describe, expect, it } from 'vitest';
import { interpretEvent, interpretEventBytes, interpretEventRange, TokenChunkTemplate } from '../../runtime/runner/openai-events.ts';
import { SseParser } from '../../runtime/runner/sse.ts';

const completionChunk = (text: string, finish: string | null = null): string =>
  `data: {"id":"cmpl-1","object":"text_completion","created":1764320000,"model":"qwen3-8b","choices":[{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${JSON.stringify(finish)},"stop_reason":null}],"usage":null}\n\n`;
const usageChunk = 'data: {"id":"cmpl-1","object":"text_completion","created":1764320000,"model":"qwen3-8b","choices":[],"usage":{"prompt_tokens":512,"total_tokens":640,"completion_tokens":128}}\n\n';
const done = 'data: [DONE]\n\n';

const text = (b: Uint8Array, start: number, end: number): string => Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');

function feed(parts: Array<string | Uint8Array>): string[] {
  const events: string[] = [];
  const p = new SseParser((b, s, e) => events.push(text(b, s, e)));
  for (const x of parts) p.push(x);
  p.end();
  return events;
}

describe('SseParser', () => {
  const stream = completionChunk(' the') + completionChunk(' cat', 'length') + usageChunk + done;
  const whole = feed([stream]);

  it('finds every event of a vLLM stream delivered in one chunk', () => {
    expect(whole).toHaveLength(4);
    expect(whole[3]).toBe('[DONE]');
  });

  it('gives the same events whatever the split, byte by byte included', () => {
    const bytes = new TextEncoder().encode(stream);
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
      expect(feed(parts)).toEqual(whole);
    }
  });

  it('dispatches an event only when its blank line arrives', () => {
    const events: string[] = [];
    const p = new SseParser((b, s, e) => events.push(text(b, s, e)));
    p.push('data: {"a":1}\n');
    expect(events).toEqual([]);
    p.push('\n');
    expect(events).toEqual(['{"a":1}']);
  });

  it('keeps a multi-byte UTF-8 character split across chunks intact', () => {
    const bytes = new TextEncoder().encode(completionChunk(' 안녕'));
    const cut = bytes.indexOf(0xec) + 1; // inside the first Hangul syllable
    const events = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect(JSON.parse(events[0]!).choices[0].text).toBe(' 안녕');
  });

  it('accepts CRLF and CR line ends, also split between \\r and \\n', () => {
    expect(feed(['data: a\r\n\r\ndata: b\r\r'])).toEqual(['a', 'b']);
    expect(feed(['data: a\r', '\n\r', '\n'])).toEqual(['a']);
  });

  it('ignores comments, other fields and blank keep-alives', () => {
    expect(feed([': ping\n\nevent: message\nid: 7\nretry: 100\ndata: x\n\n\n\n'])).toEqual(['x']);
  });

  it('joins multi-line data with newlines and takes "data:" without a space', () => {
    expect(feed(['data:one\ndata: two\n\n'])).toEqual(['one\ntwo']);
  });

  it('does not dispatch an unterminated event at the end of the stream', () => {
    expect(feed(['data: a\n\ndata: b'])).toEqual(['a']);
  });

  it('hands an event that lies whole in one chunk over as a range of that chunk, not a copy', () => {
    const chunk = Buffer.from(completionChunk(' the') + completionChunk(' cat'));
    const seen: Array<{ same: boolean; event: string }> = [];
    const p = new SseParser((b, s, e) => seen.push({ same: b === chunk, event: text(b, s, e) }));
    p.push(chunk);
    expect(seen.map((x) => x.same)).toEqual([true, true]);
    expect(JSON.parse(seen[1]!.event).choices[0].text).toBe(' cat');
  });

  it('keeps an event whose blank line comes in a later chunk, even when the caller reuses its buffer (as undici does)', () => {
    const events: string[] = [];
    const p = new SseParser((b, s, e) => events.push(text(b, s, e)));
    const reused = Buffer.alloc(64);
    const send = (s: string): void => {
      const n = reused.write(s);
      p.push(reused.subarray(0, n));
      reused.fill(0x78); // what the next read would do to the same memory
    };
    send('data: {"text":" one"}\n');
    send('\ndata: {"te');
    send('xt":" two"}\n\n');
    expect(events).toEqual(['{"text":" one"}', '{"text":" two"}']);
  });
});

describe('interpretEvent', () => {
  const data = (chunk: string): string => chunk.slice('data: '.length).trimEnd();

  it('a completion chunk with text is content', () => {
    expect(interpretEvent(data(completionChunk(' the')))).toEqual({ kind: 'chunk', content: true, usage: null, finish: null });
  });

  it('finish_reason is kept ("length": cut at max_tokens; "stop": EOS); TGI\'s "" before the last token is none', () => {
    expect(interpretEvent(data(completionChunk(' the', 'length')))).toMatchObject({ content: true, finish: 'length' });
    expect(interpretEvent('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')).toMatchObject({ content: false, finish: 'stop' });
    expect(interpretEvent('{"choices":[{"index":0,"text":" a","finish_reason":""}]}')).toMatchObject({ content: true, finish: null });
    expect(interpretEventBytes(Buffer.from(data(completionChunk(' the', 'length'))))).toMatchObject({ content: true, finish: 'length' });
  });

  it('a chunk with empty text is not content, unless it carries token ids', () => {
    expect(interpretEvent(data(completionChunk('')))).toMatchObject({ kind: 'chunk', content: false });
    const withTokens = '{"choices":[{"index":0,"text":"","token_ids":[1234],"finish_reason":null}]}';
    expect(interpretEvent(withTokens)).toMatchObject({ kind: 'chunk', content: true });
  });

  it('the usage-only final chunk (choices: []) is not content and carries the usage', () => {
    expect(interpretEvent(data(usageChunk))).toEqual({ kind: 'chunk', content: false, usage: { promptTokens: 512, completionTokens: 128 }, finish: null });
  });

  it('the chat role chunk is not content; delta.content and reasoning are', () => {
    expect(interpretEvent('{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}')).toMatchObject({ content: false });
    expect(interpretEvent('{"choices":[{"index":0,"delta":{"content":" hi"},"finish_reason":null}]}')).toMatchObject({ content: true });
    expect(interpretEvent('{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":null}]}')).toMatchObject({ content: true });
    expect(interpretEvent('{"choices":[{"index":0,"delta":{"reasoning":"hmm","reasoning_content":null},"finish_reason":null}]}')).toMatchObject({ content: true });
  });

  it('[DONE] ends the stream', () => {
    expect(interpretEvent('[DONE]')).toEqual({ kind: 'done' });
  });

  it('an in-band error (vLLM sends it with HTTP 200), new and old shapes', () => {
    expect(interpretEvent('{"error": {"message": "boom", "type": "BadRequestError", "param": null, "code": 400}}')).toEqual({ kind: 'error', message: 'BadRequestError: boom' });
    expect(interpretEvent('{"object": "error", "message": "old", "type": "InternalServerError"}')).toEqual({ kind: 'error', message: 'InternalServerError: old' });
  });

  it('non-JSON data is a protocol problem, not a crash', () => {
    expect(interpretEvent('{"choices": [')).toMatchObject({ kind: 'invalid' });
    expect(interpretEvent('42')).toMatchObject({ kind: 'invalid' });
  });
});

describe('interpretEventBytes (the one-pass scan for token chunks) answers as interpretEvent does', () => {
  const events = [
    data(completionChunk(' the')),
    data(completionChunk(' the', 'length')),
    '{"choices":[{"index":0,"text":" a","finish_reason":""}]}',
    data(completionChunk('')),
    data(completionChunk('"quoted"')),
    data(completionChunk('say "text":"x" to me')),
    data(completionChunk('\\')),
    data(completionChunk(' error')),
    data(usageChunk),
    '[DONE]',
    '{"choices":[{"index":0,"text":"","token_ids":[1234],"finish_reason":null}]}',
    '{"choices":[{"index":0,"text":"","token_ids":[],"prompt_token_ids":[1,2],"finish_reason":null}]}',
    '{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"content":" hi"},"finish_reason":null}],"usage":null}',
    '{"choices":[{"index":0,"delta":{"content":" hi"},"finish_reason":null}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}',
    '{"choices": [{"index": 0, "text": " spaced", "finish_reason": null}]}',
    '{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"reasoning":"hmm","reasoning_content":null},"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{\\"text\\":\\"x\\"}"}}]},"finish_reason":null}]}',
    '{"error": {"message": "boom", "type": "BadRequestError", "param": null, "code": 400}}',
    '{"object": "error", "message": "old", "type": "InternalServerError"}',
    '{"choices": [',
    '42',
    '',
    '"text":"x"',
    '{"x":"text":"hi"}',
    '{"choices":[{"text":"\\\\","finish_reason":null}]}',
    '{"choices":[{"text":"a\\"","finish_reason":"\\"stop"}]}',
    '{"choices":[{"text":" a"}],"usage":nul}',
    '{"choices":[{"text":" a"}],"usage":null,"usage":{"prompt_tokens":1}}',
    '{"choices":[{"text":" unterminated}',
    '{"choices":[{"text":" the"}],"object":"error"}',
    '{"choices":[{"index":0,"text":" a","finish_reason":"stop"}]}',
    // Not JSON outside the strings: two objects (an event's two data lines), brackets that do not
    // pair, a stray word; and JSON whitespace between the tokens, which is.
    '{"choices":[{"text":" a"}]}\n{"choices":[{"text":" b"}]}',
    '{"choices":[{"text":" a"]}}',
    '{"choices":[{"text":" a"}]]}',
    '{"choices":[{"text":" a"} oops]}',
    '{"choices":[{"text":" a"}]} {}',
    '{\n  "choices": [ {"text":" a"} ]\n}',
    '{"choices":[{"text":" a"}],\t"usage":null}',
  ];

  it.each(events)('%s', (e) => {
    expect(interpretEventBytes(Buffer.from(e))).toEqual(interpretEvent(e));
  });

  // The same events once a stream's template is learned, from a completion and from a chat token chunk.
  const learnedFrom = [data(completionChunk(' the')), '{"choices":[{"index":0,"delta":{"content":" hi"},"finish_reason":null}],"usage":null}'];
  it.each(learnedFrom.flatMap((l) => events.map((e) => [l, e])))('after learning %s: %s', (learned, e) => {
    const template = new TokenChunkTemplate();
    expect(interpretEventRange(Buffer.from(learned), 0, Buffer.byteLength(learned), template)).toMatchObject({ content: true });
    expect(interpretEventRange(Buffer.from(e), 0, Buffer.byteLength(e), template)).toEqual(interpretEvent(e));
  });

  function data(chunk: string): string {
    return chunk.slice('data: '.length).trimEnd();
  }
});

describe('TokenChunkTemplate (a stream\'s token chunks recognised by the bytes around their text)', () => {
  const learned = completionChunk(' the').slice('data: '.length).trimEnd();
  const cut = learned.indexOf('" the"') + 1;
  const head = learned.slice(0, cut);
  const tail = learned.slice(cut + ' the'.length);
  // Texts as they stand between the quotes on the wire (JSON-escaped or not).
  const middles = [' cat', '안녕', '\\"', '\\\\', '\\u00e9', 'error', '', 'a\\', 'x"y', 'tab\\there', 'raw\ttab', ' a","finish_reason":"stop'];

  it.each(middles)('an event of the learned shape with text %j answers as interpretEvent does', (middle) => {
    const template = new TokenChunkTemplate();
    interpretEventRange(Buffer.from(learned), 0, Buffer.byteLength(learned), template);
    const e = `${head}${middle}${tail}`;
    expect(interpretEventRange(Buffer.from(e), 0, Buffer.byteLength(e), template)).toEqual(interpretEvent(e));
  });

  it('is matched, not scanned, for a chunk of the learned shape (and only such a chunk)', () => {
    const template = new TokenChunkTemplate();
    const at = (e: string): boolean => template.matches(Buffer.from(e), 0, Buffer.byteLength(e));
    expect(at(`${head} cat${tail}`)).toBe(false);
    interpretEventRange(Buffer.from(learned), 0, Buffer.byteLength(learned), template);
    expect(at(`${head} cat${tail}`)).toBe(true);
    expect(at(`${head}${tail}`)).toBe(false);
    expect(at(`${head}a\\${tail}`)).toBe(false);
    expect(at(completionChunk(' cat', 'length').slice('data: '.length).trimEnd())).toBe(false);
    expect(at(`${head.replace('cmpl-1', 'cmpl-2')} cat${tail}`)).toBe(false);
  });

  it('does not learn a chunk whose data spans lines (JSON whitespace): a match must never hold a line end', () => {
    const template = new TokenChunkTemplate();
    const spanning = learned.replace(',"choices":', '\n,"choices":');
    expect(interpretEventRange(Buffer.from(spanning), 0, Buffer.byteLength(spanning), template)).toEqual(interpretEvent(spanning));
    expect(interpretEvent(spanning)).toMatchObject({ content: true });
    expect(template.matches(Buffer.from(spanning), 0, Buffer.byteLength(spanning))).toBe(false);
  });

  it('counts every token of a stream whose chunks differ beyond their text (a new id each), learning again only a few times', () => {
    const template = new TokenChunkTemplate();
    const results = Array.from({ length: 20 }, (_, k) => {
      const e = completionChunk(` t${k}`).slice('data: '.length).trimEnd().replace('cmpl-1', `cmpl-${k}`);
      return interpretEventRange(Buffer.from(e), 0, Buffer.byteLength(e), template);
    });
    expect(results.every((r) => r.kind === 'chunk' && r.content)).toBe(true);
  });
});
