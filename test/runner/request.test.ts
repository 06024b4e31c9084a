import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { Cancellation, prepareRequest, sendRequest, type RequestTemplate } from '../../runtime/runner/request.ts';
import { systemClock } from '../../runtime/timing/clock.ts';

const chunk = (text: string): string =>
  `data: {"id":"cmpl-1","object":"text_completion","created":1764320000,"model":"m","choices":[{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`;

describe('sendRequest over real loopback HTTP', () => {
  it('keeps every content time of a stream longer than its max_tokens (a server that ignores it), in order', async () => {
    const tokens = 40;
    const server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < tokens; i++) {
          res.write(chunk(` t${i}`));
          // A separate network chunk for each token, as a server generating them one by one sends.
          await new Promise((r) => setTimeout(r, 1));
        }
        res.write(`data: {"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":${tokens}}}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
    try {
      const t: RequestTemplate = { api: 'completion', streaming: true, model: 'm', ignoreEos: false, headers: {}, apiKey: undefined, timeoutMs: 5000 };
      const prepared = prepareRequest(t, { runId: 'r', shard: 0, seq: 0, stage: 0, scheduledAt: systemClock(), prompt: 'hi', promptTokens: 1, maxTokens: 4 });
      const record = await sendRequest(pool, t, prepared, systemClock);
      expect(record.error).toBeNull();
      expect(record.contentTimes).toHaveLength(tokens);
      expect(Array.isArray(record.contentTimes)).toBe(true);
      expect(record.contentTimes.every((x, i) => i === 0 || x >= record.contentTimes[i - 1]!)).toBe(true);
      expect(record.firstTokenAt).toBe(record.contentTimes[0]);
      expect(record.contentTimes[0]!).toBeGreaterThanOrEqual(record.sentAt!);
      expect(record.outputTokens).toEqual({ requested: 4, client: tokens, server: tokens });
    } finally {
      await pool.close();
      await new Promise((r) => server.close(r));
    }
  });

  // A server that writes the response body in the given pieces, 5 ms apart (each its own network chunk on loopback).
  async function serve(pieces: string[], run: (pool: Pool, t: RequestTemplate) => Promise<void>): Promise<void> {
    const server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const piece of pieces) {
          if (res.destroyed) return;
          res.write(piece);
          await new Promise((r) => setTimeout(r, 5));
        }
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 2 });
    try {
      await run(pool, { api: 'completion', streaming: true, model: 'm', ignoreEos: false, headers: {}, apiKey: undefined, timeoutMs: 5000 });
    } finally {
      await pool.destroy();
      await new Promise((r) => server.close(r));
    }
  }
  const plan = (seq: number) => ({ runId: 'r', shard: 0, seq, stage: 0, scheduledAt: systemClock(), prompt: 'hi', promptTokens: 1, maxTokens: 16 });
  const usage = (n: number): string => `data: {"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":${n}}}\n\n`;

  it('counts the same events whether each comes alone in its chunk (counted without framing) or split and merged anywhere', async () => {
    const c = chunk(' a');
    // [pieces, content events]: alone; split mid-line (the parser then holds a line, so the next
    // whole chunk is framed too); two in one chunk; CRLF framing; no space after "data:"; a comment
    // and a retry field between; texts with escaped control characters (a line end, a tab).
    const layouts: Array<[string[], number]> = [
      [[c, c, c], 3],
      [[c.slice(0, 40), c.slice(40) + c.slice(0, 7), c.slice(7), c], 3],
      [[c + c, c], 3],
      [[c, c.replace(/\n\n$/, '\r\n\r\n'), c], 3],
      [[c, c.replace(/^data: /, 'data:'), c], 3],
      [[c, ': ping\n\n', 'retry: 10\n\n', c], 2],
      [[c, chunk('x\ny'), chunk('tab\tin'), c], 4],
    ];
    for (const [pieces, n] of layouts) {
      await serve([...pieces, usage(n), 'data: [DONE]\n\n'], async (pool, t) => {
        const record = await sendRequest(pool, t, prepareRequest(t, plan(0)), systemClock);
        expect(record.error, JSON.stringify(pieces)).toBeNull();
        expect(record.outputTokens, JSON.stringify(pieces)).toEqual({ requested: 16, client: n, server: n });
      });
    }
  });

  it('a whole-looking chunk the parser would frame otherwise is framed by it: a raw line end in the text, a second data line of an open event', async () => {
    const c = chunk(' a');
    const broken = c.replace('"text":" a"', '"text":"a\nb"');
    // The second: an event's data line without its blank line, then a whole token chunk, which is
    // that event's second data line (two JSON objects joined by a line end: not JSON); a blank line
    // after it would end the first event alone, were the whole chunk taken for an event of its own.
    for (const pieces of [[c, broken, c], [c, c.slice(0, -1), c, '\n']]) {
      await serve([...pieces, usage(3), 'data: [DONE]\n\n'], async (pool, t) => {
        const record = await sendRequest(pool, t, prepareRequest(t, plan(0)), systemClock);
        expect(record.error?.type, JSON.stringify(pieces)).toBe('protocol');
      });
    }
  });

  it('a Cancellation cancels the requests in flight, and one whose send starts after it', async () => {
    const c = chunk(' a');
    await serve(Array.from({ length: 200 }, () => c), async (pool, t) => {
      const cancel = new Cancellation();
      const inFlight = sendRequest(pool, t, prepareRequest(t, plan(0)), systemClock, cancel);
      await new Promise((r) => setTimeout(r, 30));
      expect(cancel.live.size).toBe(1);
      cancel.cancel();
      const record = await inFlight;
      expect(record.error?.type).toBe('cancelled');
      expect(record.contentTimes.length).toBeGreaterThan(0);
      expect(cancel.live.size).toBe(0);
      const late = await sendRequest(pool, t, prepareRequest(t, plan(1)), systemClock, cancel);
      expect(late.error?.type).toBe('cancelled');
    });
  });

  it('stamps sent before the request is written to the socket, so a measured ttft is never shorter than the server saw', async () => {
    // On loopback the server has the bytes before the client's write returns (the kernel delivers
    // them inside that call), and the writer can lose its core to the woken server then: a stamp
    // after the write put a request's ttft 0.55 ms under the simulator's own (the timing suite).
    // undici's onRequestStart comes just before it writes (7–15 µs at the median, then the write).
    // A clock that counts its calls orders every stamp exactly, whatever the machine's speed.
    let ticks = 0;
    const clock = (): number => ++ticks;
    const writes: number[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ choices: [{ text: 'ok', finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 1 } })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // undici's own connector, with the socket's write stamped on the same clock.
    const connect = buildConnector({});
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      connections: 1,
      connect: (options, callback) =>
        connect(options, (err, socket) => {
          if (socket) {
            const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
            (socket as unknown as { write: (...a: unknown[]) => boolean }).write = (...a: unknown[]) => {
              writes.push(clock());
              return write(...a);
            };
          }
          (callback as (e: Error | null, s: typeof socket) => void)(err, socket);
        }),
    });
    try {
      const t: RequestTemplate = { api: 'completion', streaming: false, model: 'm', ignoreEos: false, headers: {}, apiKey: undefined, timeoutMs: 5000 };
      for (let seq = 0; seq < 3; seq++) {
        writes.length = 0;
        const record = await sendRequest(pool, t, prepareRequest(t, plan(seq)), clock);
        expect(record.error).toBeNull();
        expect(writes.length).toBeGreaterThanOrEqual(1);
        expect(record.sentAt!).toBeLessThan(Math.min(...writes));
      }
    } finally {
      await pool.close();
      await new Promise((r) => server.close(r));
    }
  });
});
