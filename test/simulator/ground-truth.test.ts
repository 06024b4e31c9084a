import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { systemClock } from '../../runtime/timing/clock.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

async function streamText(sim: RunningSimulator, path: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return res.text();
}

/** Events a client would timestamp: non-empty text / delta.content (not the role, usage or [DONE]). */
function contentEventCount(text: string): number {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .filter((e) => {
      const c = (JSON.parse(e.slice(6)) as { choices: Array<{ text?: string; delta?: { content?: string } }> }).choices[0];
      return Boolean(c?.text ?? c?.delta?.content);
    }).length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

describe('ground truth', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });

  it('has one content write per content chunk the client received (completions, chat, multi-token chunks)', async () => {
    const sim = await startSimulator({ tokenizer: 'words', ttftMs: 1, prefillMsPerToken: 0, itlMs: 1, jitterMs: 0 });
    const multi = await startSimulator({ tokenizer: 'words', ttftMs: 1, prefillMsPerToken: 0, itlMs: 1, jitterMs: 0, tokensPerChunk: 4 });
    try {
      const completion = await streamText(sim, '/v1/completions', { prompt: 'a b', max_tokens: 12, ignore_eos: true, stream: true, stream_options: {} });
      const chat = await streamText(sim, '/v1/chat/completions', { messages: [{ role: 'user', content: 'a' }], max_tokens: 9, ignore_eos: true, stream: true });
      const chunked = await streamText(multi, '/v1/chat/completions', { messages: [{ role: 'user', content: 'a' }], max_tokens: 10, ignore_eos: true, stream: true });

      const [c, h] = sim.groundTruth();
      expect(c!.contentWrites).toHaveLength(contentEventCount(completion));
      expect(c!.contentWrites).toHaveLength(12);
      expect(h!.contentWrites).toHaveLength(contentEventCount(chat));
      expect(h!.contentWrites).toHaveLength(9);
      expect(multi.groundTruth()[0]!.contentWrites).toHaveLength(contentEventCount(chunked));
      expect(multi.groundTruth()[0]).toMatchObject({ completionTokens: 10, contentWrites: expect.any(Array) });
      expect(multi.groundTruth()[0]!.contentWrites).toHaveLength(3);
    } finally {
      await sim.close();
      await multi.close();
    }
  });

  it('shows TTFT and ITL as configured, with no drift over the stream', async () => {
    // TTFT = 20 + 0.1 × 50 prompt tokens = 25 ms; then one token every 8 ms.
    const sim = await startSimulator({ tokenizer: 'words', ttftMs: 20, prefillMsPerToken: 0.1, itlMs: 8, jitterMs: 0 });
    try {
      // Three different prompts: a repeated one would be served from the prefix cache, with a shorter prefill.
      const prompt = (run: number): string => Array.from({ length: 50 }, (_, i) => `w${run}x${i}`).join(' ');
      for (let i = 0; i < 3; i++) await streamText(sim, '/v1/completions', { prompt: prompt(i), max_tokens: 30, ignore_eos: true, stream: true });

      const entries = sim.groundTruth();
      const ttftLate = entries.map((e) => e.contentWrites[0]! - e.startedAt - 25);
      // absolute deadlines: token 30 lands at TTFT + 29 gaps, not later by accumulated lateness
      const lastLate = entries.map((e) => e.contentWrites.at(-1)! - e.startedAt - (25 + 29 * 8));
      const gaps = entries.flatMap((e) => e.contentWrites.slice(1).map((t, i) => t - e.contentWrites[i]!));
      expect(Math.min(...ttftLate, ...lastLate)).toBeGreaterThanOrEqual(0);
      // the best of three, so a scheduling hiccup on a busy CI machine does not fail the model check
      expect(Math.min(...ttftLate)).toBeLessThan(3);
      expect(Math.min(...lastLate)).toBeLessThan(3);
      expect(Math.abs(median(gaps) - 8)).toBeLessThan(1.5);
    } finally {
      await sim.close();
    }
  });

  it('records ids, order of events and token counts for streamed and non-streamed requests', async () => {
    const sim = await startSimulator({ tokenizer: 'words', ttftMs: 2, itlMs: 1, jitterMs: 0 });
    try {
      await streamText(sim, '/v1/completions', { prompt: 'a b c', max_tokens: 5, ignore_eos: true, stream: true }, { 'x-request-id': 'req-42' });
      await streamText(sim, '/v1/chat/completions', { messages: [{ role: 'user', content: 'a' }], max_tokens: 3, ignore_eos: true });

      const [s, n] = sim.groundTruth();
      expect(s).toMatchObject({ requestId: 'req-42', endpoint: 'completions', model: 'qwen3-8b', stream: true, status: 200, promptTokens: 3, completionTokens: 5, failure: null });
      expect(n).toMatchObject({ endpoint: 'chat', stream: false, status: 200, promptTokens: 8, completionTokens: 3 });
      expect(n!.requestId).toMatch(/^[0-9a-f]{32}$/);
      expect(n!.contentWrites).toHaveLength(1);
      for (const e of [s!, n!]) {
        const times = [e.receivedAt, e.startedAt, ...e.contentWrites, e.doneAt!];
        expect(times).toEqual([...times].sort((a, b) => a - b));
      }
    } finally {
      await sim.close();
    }
  });

  it('takes every timestamp from the injected clock', async () => {
    const offset = 10_000_000;
    const sim = await startSimulator({ tokenizer: 'words', ttftMs: 1, itlMs: 1, jitterMs: 0 }, () => systemClock() + offset);
    try {
      const before = systemClock();
      await streamText(sim, '/v1/completions', { prompt: 'a', max_tokens: 3, ignore_eos: true, stream: true });

      const e = sim.groundTruth()[0]!;
      expect(e.receivedAt).toBeGreaterThan(before + offset);
      expect(e.doneAt!).toBeLessThan(systemClock() + offset);
    } finally {
      await sim.close();
    }
  });

  it('appends every entry to groundTruthFile as NDJSON, flushed by close()', async () => {
    const file = join(dir, 'nested', 'ground-truth.ndjson');
    const sim = await startSimulator({ tokenizer: 'words', ttftMs: 1, itlMs: 1, jitterMs: 0, groundTruthFile: file });
    await streamText(sim, '/v1/completions', { prompt: 'a', max_tokens: 2, ignore_eos: true, stream: true });
    await streamText(sim, '/v1/completions', { model: 'missing', prompt: 'a' });

    await sim.close();

    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { status: number; contentWrites: number[] });
    expect(lines).toEqual(sim.groundTruth());
    expect(lines.map((l) => l.status)).toEqual([200, 404]);
  });
});

describe('ground truth memory', () => {
  it('without keepGroundTruth, memory holds only the requests in flight, however many were served (the file gets them all)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'truth.ndjson');
    const sim = await startSimulator({ tokenizer: 'words', ttftMs: 0, itlMs: 0, jitterMs: 0, keepGroundTruth: false, groundTruthFile: file });
    try {
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'a b c', max_tokens: 2, ignore_eos: true, stream: true }) });
        await res.text();
      }
      expect(sim.retainedGroundTruth()).toBe(0);
      expect(() => sim.groundTruth()).toThrow(/keeps no ground truth in memory/);
    } finally {
      await sim.close();
    }
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(200);
  });
});
