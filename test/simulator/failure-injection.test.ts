import { describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../runtime/simulator/index.ts';

const fast: SimulatorOptions = { ttftMs: 2, prefillMsPerToken: 0, itlMs: 2, jitterMs: 0, abortAfterTokens: 3 };

interface StreamResult {
  status: number;
  text: string;
  /** How the body ended: cleanly, or with a transport error (reset / premature close). */
  ended: 'clean' | 'error';
}

/** Reads a streamed response to its end, keeping whatever arrived before a transport error. */
async function stream(sim: RunningSimulator, body: Record<string, unknown>, path = '/v1/completions', signal?: AbortSignal): Promise<StreamResult> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, ...body }),
    signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { status: res.status, text, ended: 'clean' };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { status: res.status, text, ended: 'error' };
  }
}

function contentEvents(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .filter((e) => {
      const c = (JSON.parse(e.slice(6)) as { choices?: Array<{ text?: string; delta?: { content?: string } }> }).choices?.[0];
      return Boolean(c?.text ?? c?.delta?.content);
    });
}

async function withSim<T>(options: SimulatorOptions, fn: (sim: RunningSimulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(options);
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

describe('failure injection', () => {
  it("status: answers the configured HTTP status with vLLM's error JSON before streaming", async () => {
    await withSim({ ...fast, errorRate: 1, failureModes: ['status'], errorStatus: 503 }, async (sim) => {
      const res = await fetch(`${sim.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'a b', max_tokens: 8, stream: true }),
      });
      const body = (await res.json()) as { error: { type: string; code: number; param: null; message: string } };

      expect(res.status).toBe(503);
      expect(body.error).toMatchObject({ type: 'ServiceUnavailableError', code: 503, param: null });
      expect(sim.groundTruth()[0]).toMatchObject({ status: 503, failure: 'status', contentWrites: [], completionTokens: 0 });
    });
  });

  it('abort: destroys the socket after abortAfterTokens tokens', async () => {
    await withSim({ ...fast, errorRate: 1, failureModes: ['abort'] }, async (sim) => {
      const result = await stream(sim, { prompt: 'a b', max_tokens: 10, stream_options: {} });

      expect(result.status).toBe(200);
      expect(result.ended).toBe('error');
      expect(contentEvents(result.text)).toHaveLength(3);
      expect(result.text).not.toContain('[DONE]');
      const [entry] = sim.groundTruth();
      expect(entry).toMatchObject({ status: 200, failure: 'abort', completionTokens: 3 });
      expect(entry!.contentWrites).toHaveLength(3);
      expect(entry!.doneAt).toBeGreaterThanOrEqual(entry!.contentWrites[2]!);
    });
  });

  it('stall: goes silent after abortAfterTokens tokens for stallMs, then ends without [DONE]', async () => {
    await withSim({ ...fast, errorRate: 1, failureModes: ['stall'], stallMs: 150 }, async (sim) => {
      const result = await stream(sim, { prompt: 'a b', max_tokens: 10, stream_options: {} });

      expect(result.ended).toBe('clean');
      expect(contentEvents(result.text)).toHaveLength(3);
      expect(result.text).not.toContain('[DONE]');
      const [entry] = sim.groundTruth();
      expect(entry).toMatchObject({ failure: 'stall', completionTokens: 3 });
      expect(entry!.doneAt! - entry!.contentWrites[2]!).toBeGreaterThanOrEqual(150);
    });
  });

  it('stall: close() does not wait for a stalled stream', async () => {
    const sim = await startSimulator({ ...fast, errorRate: 1, failureModes: ['stall'], stallMs: 60_000 });
    const pending = stream(sim, { prompt: 'a', max_tokens: 10 });
    await until(() => sim.groundTruth()[0]?.contentWrites.length === 3);

    const t0 = performance.now();
    await sim.close();
    const result = await pending;

    expect(performance.now() - t0).toBeLessThan(1000);
    expect(result.ended).toBe('error');
    expect(sim.groundTruth()[0]).toMatchObject({ failure: 'stall', doneAt: null });
  });

  it('in-band: sends the error event as Python json.dumps text, then [DONE], with status 200', async () => {
    await withSim({ ...fast, errorRate: 1, failureModes: ['in-band'] }, async (sim) => {
      const result = await stream(sim, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }, '/v1/chat/completions');

      expect(result.status).toBe(200);
      expect(result.ended).toBe('clean');
      expect(contentEvents(result.text)).toHaveLength(3);
      expect(result.text.endsWith(
        'data: {"error": {"message": "Simulated failure: the simulator injected an error during generation.", "type": "InternalServerError", "param": null, "code": 500}}\n\n' +
          'data: [DONE]\n\n',
      )).toBe(true);
      expect(sim.groundTruth()[0]).toMatchObject({ status: 200, failure: 'in-band', completionTokens: 3 });
    });
  });

  it('non-streamed requests fail too: in-band as a 500 response, abort as a closed connection', async () => {
    await withSim({ ...fast, errorRate: 1, failureModes: ['in-band'] }, async (sim) => {
      const res = await fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"a","max_tokens":5}' });

      expect(res.status).toBe(500);
      expect(sim.groundTruth()[0]).toMatchObject({ status: 500, failure: 'in-band', stream: false });
    });
    await withSim({ ...fast, errorRate: 1, failureModes: ['abort'] }, async (sim) => {
      const attempt = fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"a","max_tokens":5}' });

      await expect(attempt).rejects.toThrow();
      expect(sim.groundTruth()[0]).toMatchObject({ status: 0, failure: 'abort' });
    });
  });

  it('fails about errorRate of requests, the same ones for the same seed', async () => {
    const outcomes = async (seed: number): Promise<Array<string | null>> =>
      withSim({ ...fast, seed, errorRate: 0.5, failureModes: ['status', 'in-band'] }, async (sim) => {
        for (let i = 0; i < 24; i++) await stream(sim, { prompt: 'a', max_tokens: 4 });
        return sim.groundTruth().map((e) => e.failure);
      });

    const a = await outcomes(11);
    const b = await outcomes(11);

    expect(b).toEqual(a);
    expect(a.filter((f) => f !== null).length).toBeGreaterThan(4);
    expect(a.filter((f) => f === null).length).toBeGreaterThan(4);
  });
});

describe('client disconnect', () => {
  it('stops generating for that request and records doneAt null', async () => {
    await withSim({ ...fast, itlMs: 3 }, async (sim) => {
      const controller = new AbortController();
      const pending = stream(sim, { prompt: 'a', max_tokens: 200 }, '/v1/completions', controller.signal).catch(() => undefined);
      await until(() => (sim.groundTruth()[0]?.contentWrites.length ?? 0) >= 5);

      controller.abort();
      await pending;
      await until(async () => (await fetch(`${sim.url}/metrics`).then((r) => r.text())).includes('vllm:num_requests_running{engine="0",model_name="qwen3-8b"} 0.0'));
      const written = sim.groundTruth()[0]!.contentWrites.length;
      await new Promise((r) => setTimeout(r, 60));

      const entry = sim.groundTruth()[0]!;
      expect(entry.doneAt).toBeNull();
      expect(entry.contentWrites).toHaveLength(written);
      expect(written).toBeLessThan(200);
    });
  });
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
