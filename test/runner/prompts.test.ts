import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { mulberry32 } from '../../runtime/core/random.ts';
import { calibratedPrompt, planPrompts, sampleLength } from '../../runtime/runner/prompts.ts';

/** A tokenizer like a BPE one: a BOS token, most words one token, some words two. */
const bpeLike = async (prompt: string): Promise<number> =>
  1 + prompt.split(' ').reduce((n, w) => n + (w.length > 6 ? 2 : 1), 0);

describe('calibratedPrompt', () => {
  it.each([2, 3, 17, 128, 512, 2048])('hits exactly %i tokens by the target tokenizer', async (tokens) => {
    const prompt = await calibratedPrompt(tokens, mulberry32(tokens), bpeLike, 1);
    expect(await bpeLike(prompt)).toBe(tokens);
  });

  /** Like the toy tokenizer of the dialect tests: words of more than four letters cost 2–3 tokens (≈ 1.5 per prompt word). */
  const splitsLongWords = async (prompt: string): Promise<number> => prompt.split(' ').reduce((n, w) => n + Math.ceil(w.length / 4), 0);

  it.each([64, 512, 2048])('hits exactly %i tokens with a tokenizer far from one token per word (≈ 1.5)', async (tokens) => {
    const prompt = await calibratedPrompt(tokens, mulberry32(tokens), splitsLongWords, 0);
    expect(await splitsLongWords(prompt)).toBe(tokens);
  });

  it('fails with a clear message when the count cannot be hit', async () => {
    const alwaysTooMany = async (): Promise<number> => 10_000;
    await expect(calibratedPrompt(5, mulberry32(1), alwaysTooMany, 0)).rejects.toThrow(InputError);
    await expect(calibratedPrompt(5, mulberry32(1), alwaysTooMany, 0)).rejects.toThrow(/could not build a prompt of exactly 5 tokens/);
  });
});

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('planPrompts', () => {
  it('gives every request its own exact-length prompt, no two alike, reproducible from the seed', async () => {
    const fixed = { kind: 'fixed', value: 64 } as const;
    const out = { kind: 'fixed', value: 16 } as const;
    const a = await planPrompts(range(50), fixed, out, 9, bpeLike);
    const b = await planPrompts(range(50), fixed, out, 9, bpeLike);
    expect(a).toEqual(b);
    expect(new Set(a.map((p) => p.prompt)).size).toBe(50);
    // No shared prefix either: the first 4 words differ between any two prompts.
    expect(new Set(a.map((p) => p.prompt.split(' ').slice(0, 4).join(' '))).size).toBe(50);
    for (const p of a) {
      expect(await bpeLike(p.prompt)).toBe(64);
      expect(p).toMatchObject({ promptTokens: 64, maxTokens: 16 });
    }
  });
});

describe('sampleLength', () => {
  it('draws within [min, max] around the mean for normal distributions', () => {
    const random = mulberry32(5);
    const d = { kind: 'normal', mean: 512, stdDev: 128, min: 128, max: 2048 } as const;
    const xs = Array.from({ length: 5000 }, () => sampleLength(d, random));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(128);
    expect(Math.max(...xs)).toBeLessThanOrEqual(2048);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 512)).toBeLessThan(10);
    expect(xs.every(Number.isInteger)).toBe(true);
  });

  it('fixed is fixed and uniform covers its bounds', () => {
    const random = mulberry32(1);
    expect(sampleLength({ kind: 'fixed', value: 128 }, random)).toBe(128);
    const xs = Array.from({ length: 2000 }, () => sampleLength({ kind: 'uniform', min: 3, max: 6 }, random));
    expect(new Set(xs)).toEqual(new Set([3, 4, 5, 6]));
  });
});
