import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { prepareRequest, sendRequest, type RequestTemplate } from '../../runtime/runner/request.ts';
import { youngCollector } from '../../runtime/runner/young-collector.ts';
import { systemClock } from '../../runtime/timing/clock.ts';

/** The young-generation collections V8 reports while `fn` runs (PerformanceObserver, real V8). */
async function minorCollectionsDuring(fn: () => void): Promise<number> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor += 1;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  // GC entries are delivered after the fact.
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  return minor;
}

describe('youngCollector (real V8: the minor collection moved to just after a write)', () => {
  it('collects the young generation when it is past the fill given, and not before', async () => {
    const always = youngCollector(0, Number.POSITIVE_INFINITY)!;
    expect(always).toBeDefined();
    expect(await minorCollectionsDuring(() => always.afterWrite())).toBeGreaterThanOrEqual(1);
    expect(always.collections).toBe(1);

    // A fill no young generation reaches: the check costs a statistics read and collects nothing.
    const never = youngCollector(1.01, Number.POSITIVE_INFINITY)!;
    for (let i = 0; i < 50; i++) never.afterWrite();
    expect(never.collections).toBe(0);
  });

  it('collects once the young generation holds the bytes given, however empty it is', async () => {
    const byBytes = youngCollector(1.01, 0)!;
    expect(await minorCollectionsDuring(() => byBytes.afterWrite())).toBeGreaterThanOrEqual(1);
    expect(byBytes.collections).toBe(1);
  });
});

describe("sendRequest's onWritten (real HTTP over loopback)", () => {
  it('is called once per request, after its bytes were written (the record is already stamped sent)', async () => {
    const arrived: number[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      arrived.push(systemClock());
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ choices: [{ text: 'ok', finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 1 } })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
    try {
      const t: RequestTemplate = { api: 'completion', streaming: false, model: 'm', ignoreEos: false, headers: {}, apiKey: undefined, timeoutMs: 5000 };
      for (let seq = 0; seq < 3; seq++) {
        const calls: number[] = [];
        const prepared = prepareRequest(t, { runId: 'r', shard: 0, seq, stage: 0, scheduledAt: systemClock(), prompt: 'hi', promptTokens: 1, maxTokens: 1 });
        // The second and third go out on a reused keep-alive connection, which undici writes a turn later.
        const record = await sendRequest(pool, t, prepared, systemClock, undefined, () => calls.push(systemClock()));
        expect(record.error).toBeNull();
        expect(calls).toHaveLength(1);
        expect(calls[0]!).toBeGreaterThanOrEqual(record.sentAt!);
      }
      expect(arrived).toHaveLength(3);
    } finally {
      await pool.close();
      await new Promise((r) => server.close(r));
    }
  });
});
