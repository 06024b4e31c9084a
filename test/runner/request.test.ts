import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { prepareRequest, sendRequest, type RequestTemplate } from '../../runtime/runner/request.ts';
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
});
