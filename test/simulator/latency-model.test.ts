import { describe, expect, it } from 'vitest';
import {
  drawFailure,
  failurePointTokens,
  interTokenGapMs,
  mulberry32,
  planGeneration,
  requestRng,
  timeToFirstTokenMs,
  type LatencyParams,
} from '../../runtime/simulator/latency-model.ts';
import { failureModes } from '../../runtime/simulator/options.ts';

const params: LatencyParams = { ttftMs: 30, ttftJitterMs: 0, prefillMsPerToken: 0.02, itlMs: 12, jitterMs: 1, tokensPerChunk: 1 };

describe('time to first token', () => {
  it('is the base plus the prefill cost of every prompt token', () => {
    expect(timeToFirstTokenMs(params, 0)).toBe(30);
    expect(timeToFirstTokenMs(params, 512)).toBeCloseTo(30 + 0.02 * 512, 9);
  });

  it('with ttftJitterMs, varies uniformly within ± the jitter around it, per request', () => {
    const jittered = { ...params, ttftJitterMs: 5 };
    const xs = Array.from({ length: 2000 }, (_, i) => timeToFirstTokenMs(jittered, 0, requestRng(7, i)));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(25);
    expect(Math.max(...xs)).toBeLessThanOrEqual(35);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length - 30)).toBeLessThan(0.3);
    expect(new Set(xs.map((x) => Math.round(x))).size).toBe(11);
  });
});

describe('inter-token gaps', () => {
  it('stay within itl ± jitter and spread over that range', () => {
    const rng = mulberry32(7);
    const gaps = Array.from({ length: 5000 }, () => interTokenGapMs(params, rng));

    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(11);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(13);
    expect(Math.min(...gaps)).toBeLessThan(11.05);
    expect(Math.max(...gaps)).toBeGreaterThan(12.95);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeCloseTo(12, 1);
  });

  it('are exactly itl without jitter, and never negative when jitter exceeds itl', () => {
    const rng = mulberry32(1);

    expect(interTokenGapMs({ ...params, jitterMs: 0 }, rng)).toBe(12);
    const wild = Array.from({ length: 1000 }, () => interTokenGapMs({ ...params, itlMs: 1, jitterMs: 5 }, rng));
    expect(Math.min(...wild)).toBe(0);
  });
});

describe('generation plan', () => {
  it('puts token 0 at TTFT and each next token one gap later', () => {
    const plan = planGeneration({ ...params, jitterMs: 0 }, 100, 4, mulberry32(1));

    expect(plan.tokenOffsetsMs).toEqual([32, 44, 56, 68]);
    expect(plan.chunks.map((c) => c.tokens)).toEqual([1, 1, 1, 1]);
    expect(plan.chunks.map((c) => c.offsetMs)).toEqual(plan.tokenOffsetsMs);
  });

  it('groups tokens into chunks written when their last token exists', () => {
    const plan = planGeneration({ ...params, jitterMs: 0, tokensPerChunk: 3 }, 0, 8, mulberry32(1));

    expect(plan.chunks).toEqual([
      { firstToken: 0, tokens: 3, offsetMs: 54 },
      { firstToken: 3, tokens: 3, offsetMs: 90 },
      { firstToken: 6, tokens: 2, offsetMs: 114 },
    ]);
  });

  it('is reproducible: same seed and request number, same plan; another request, another plan', () => {
    const a = planGeneration(params, 10, 50, requestRng(1, 0));
    const b = planGeneration(params, 10, 50, requestRng(1, 0));
    const c = planGeneration(params, 10, 50, requestRng(1, 1));

    expect(b).toEqual(a);
    expect(c.tokenOffsetsMs).not.toEqual(a.tokenOffsetsMs);
  });
});

describe('failure draw', () => {
  it('never fails at errorRate 0 and always fails at 1, with a mode from the list', () => {
    const rng = mulberry32(3);
    for (let i = 0; i < 200; i++) expect(drawFailure(0, failureModes, rng)).toBeNull();
    const picked = new Set(Array.from({ length: 400 }, () => drawFailure(1, failureModes, rng)));

    expect([...picked].sort()).toEqual([...failureModes].sort());
    expect(drawFailure(1, ['stall'], rng)).toBe('stall');
  });

  it('fails at about the configured rate', () => {
    const n = 20_000;
    let failed = 0;
    for (let i = 0; i < n; i++) if (drawFailure(0.1, failureModes, requestRng(5, i)) !== null) failed++;

    expect(failed / n).toBeGreaterThan(0.09);
    expect(failed / n).toBeLessThan(0.11);
  });

  it('strikes after abortAfterTokens, capped at max_tokens and rounded up to a whole chunk', () => {
    expect(failurePointTokens(8, 128, 1)).toBe(8);
    expect(failurePointTokens(8, 5, 1)).toBe(5);
    expect(failurePointTokens(8, 128, 3)).toBe(9);
    expect(failurePointTokens(8, 7, 3)).toBe(7);
    expect(failurePointTokens(0, 16, 4)).toBe(0);
  });
});
