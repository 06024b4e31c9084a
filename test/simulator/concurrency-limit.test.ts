import { describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';

/** A request that holds its slot until the test lets it go (30,000 tokens at 2 ms: a minute), then leaves. */
const HOLD = 30_000;

function streamed(sim: RunningSimulator, requestId: string, maxTokens: number, signal?: AbortSignal): Promise<string> {
  return fetch(`${sim.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ prompt: 'a b', max_tokens: maxTokens, stream: true }),
    signal,
  }).then((r) => r.text());
}

async function metric(sim: RunningSimulator, name: string): Promise<number> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{engine="0",model_name="qwen3-8b"\\} (\\S+)$`, 'm').exec(text)![1]);
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const end = performance.now() + 5000;
  while (!(await check())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('maxConcurrency', () => {
  it('queues requests beyond the limit FIFO; queueing time adds to TTFT', async () => {
    const sim = await startSimulator({ ttftMs: 5, prefillMsPerToken: 0, itlMs: 2, jitterMs: 0, maxConcurrency: 1 });
    try {
      // The first request holds the only slot until its client leaves: the metrics below are read
      // while it does, however busy the machine.
      const leave = new AbortController();
      const first = streamed(sim, 'first', HOLD, leave.signal).catch(() => 'left');
      await until(() => sim.groundTruth().length === 1);
      const second = streamed(sim, 'second', 5);
      await until(() => sim.groundTruth().length === 2);

      expect(await metric(sim, 'vllm:num_requests_running')).toBe(1);
      expect(await metric(sim, 'vllm:num_requests_waiting')).toBe(1);
      const releasedAt = performance.timeOrigin + performance.now();
      leave.abort();
      await Promise.all([first, second]);

      const b = sim.groundTruth().find((e) => e.requestId === 'second')!;
      expect(b.receivedAt).toBeLessThan(releasedAt);
      expect(b.startedAt).toBeGreaterThanOrEqual(releasedAt);
      expect(b.contentWrites[0]! - b.receivedAt).toBeGreaterThan(releasedAt - b.receivedAt);
      expect(await metric(sim, 'vllm:num_requests_running')).toBe(0);
      expect(await metric(sim, 'vllm:num_requests_waiting')).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it('starts waiting requests in arrival order as slots free', async () => {
    const sim = await startSimulator({ ttftMs: 2, prefillMsPerToken: 0, itlMs: 2, jitterMs: 0, maxConcurrency: 2 });
    try {
      const all: Array<Promise<string>> = [];
      for (const id of ['r1', 'r2', 'r3', 'r4']) {
        all.push(streamed(sim, id, 10));
        await until(() => sim.groundTruth().some((e) => e.requestId === id));
      }
      await Promise.all(all);

      const gt = new Map(sim.groundTruth().map((e) => [e.requestId, e]));
      const firstDone = Math.min(gt.get('r1')!.doneAt!, gt.get('r2')!.doneAt!);
      expect(gt.get('r3')!.startedAt).toBeGreaterThanOrEqual(firstDone);
      expect(gt.get('r4')!.startedAt).toBeGreaterThanOrEqual(gt.get('r3')!.startedAt);
    } finally {
      await sim.close();
    }
  });

  it('drops a waiting request whose client left, and never starts it', async () => {
    const sim = await startSimulator({ ttftMs: 2, prefillMsPerToken: 0, itlMs: 2, jitterMs: 0, maxConcurrency: 1 });
    try {
      // holds the only slot until the test lets it go, so the leaver can only leave from the queue
      const release = new AbortController();
      const first = streamed(sim, 'first', HOLD, release.signal).catch(() => 'released');
      await until(() => sim.groundTruth().length === 1);
      const controller = new AbortController();
      const leaver = streamed(sim, 'leaver', 5, controller.signal).catch(() => 'aborted');
      await until(async () => (await metric(sim, 'vllm:num_requests_waiting')) === 1);

      controller.abort();
      await until(async () => (await metric(sim, 'vllm:num_requests_waiting')) === 0);
      expect(sim.groundTruth().find((e) => e.requestId === 'first')!.doneAt).toBeNull();
      release.abort();
      await Promise.all([first, leaver]);

      const gone = sim.groundTruth().find((e) => e.requestId === 'leaver')!;
      expect(gone).toMatchObject({ contentWrites: [], doneAt: null, completionTokens: 0 });
      expect(gone.startedAt).toBe(gone.receivedAt);
    } finally {
      await sim.close();
    }
  });
});
