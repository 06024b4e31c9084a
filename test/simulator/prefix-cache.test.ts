import { describe, expect, it } from 'vitest';
import { parseExposition, sumSamples, type Exposition } from '../../runtime/core/server-metrics/parse.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../runtime/simulator/index.ts';
import { blockHashes, PrefixCache, prefixCacheBlockSize, type PromptToken } from '../../runtime/simulator/prefix-cache.ts';
import { post } from './http.ts';

/**
 * The simulator's prefix cache (runtime/simulator/prefix-cache.ts), first as a pure object, then
 * over real loopback HTTP: what a hit does to the prefill the ground truth records, and to the
 * vLLM prefix-cache counters on /metrics.
 */

/** `n` distinct tokens starting at `from` (ids). */
const ids = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** `n` words `<tag>0 … <tag>(n−1)`: the words tokenizer counts each as one prompt token. */
const words = (tag: string, n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `${tag}${from + i}`);

describe('blockHashes', () => {
  it('hashes only full 16-token blocks: a trailing partial block has no hash', () => {
    expect(prefixCacheBlockSize).toBe(16);
    expect(blockHashes(ids(0))).toEqual([]);
    expect(blockHashes(ids(15))).toEqual([]);
    expect(blockHashes(ids(16))).toHaveLength(1);
    expect(blockHashes(ids(31))).toHaveLength(1);
    expect(blockHashes(ids(32))).toHaveLength(2);
    expect(blockHashes(ids(47))).toHaveLength(2);
    expect(blockHashes(ids(48))).toHaveLength(3);
  });

  it('is deterministic, and a longer prompt with the same head has the same leading hashes', () => {
    const a = blockHashes(ids(40));
    expect(blockHashes(ids(40))).toEqual(a);
    // The partial block (tokens 32..39) changes nothing; a 3rd full block only adds a hash.
    expect(blockHashes(ids(32))).toEqual(a);
    expect(blockHashes(ids(48)).slice(0, 2)).toEqual(a);
    // Each hash depends on its own block: a change in block 1 leaves block 0's hash alone.
    const changed = ids(32);
    changed[20] = 999;
    const b = blockHashes(changed);
    expect(b[0]).toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
  });

  it('chains: the same block after a different prefix hashes differently, and so does every block after it', () => {
    const block = ids(16, 100);
    const afterX = blockHashes([...ids(16, 0), ...block, ...ids(16, 200)]);
    const afterY = blockHashes([...ids(16, 50), ...block, ...ids(16, 200)]);
    expect(afterX[0]).not.toBe(afterY[0]);
    expect(afterX[1]).not.toBe(afterY[1]);
    expect(afterX[2]).not.toBe(afterY[2]);
    // The same block at the start of a prompt is yet another hash.
    expect(blockHashes(block)[0]).not.toBe(afterX[1]);
  });

  it('is salted: the same tokens under another salt (the served model) share no hash', () => {
    const tokens = ids(48);
    const a = blockHashes(tokens, 'model-a');
    const b = blockHashes(tokens, 'model-b');
    expect(blockHashes(tokens, 'model-a')).toEqual(a);
    for (let i = 0; i < a.length; i++) expect(b).not.toContain(a[i]);
    expect(blockHashes(tokens)).not.toEqual(a);
  });

  it('tells a token id from a word that spells it', () => {
    const asIds: PromptToken[] = ids(16);
    const asWords: PromptToken[] = ids(16).map(String);
    expect(blockHashes(asIds)[0]).not.toBe(blockHashes(asWords)[0]);
  });
});

describe('PrefixCache', () => {
  it('finds nothing when empty, and nothing for a prompt whose blocks are not cached', () => {
    const cache = new PrefixCache(100);
    expect(cache.enabled).toBe(true);
    expect(cache.lookup(blockHashes(ids(64)), 64, 0)).toBe(0);
    cache.insert(blockHashes(ids(64)), 0);
    expect(cache.lookup(blockHashes(ids(64, 1000)), 64, 10)).toBe(0);
  });

  it('returns the cached tokens as whole blocks, and recomputes at least the last prompt token', () => {
    const cache = new PrefixCache(100);
    const prompt = ids(48);
    cache.insert(blockHashes(prompt), 5);
    expect(cache.size).toBe(3);

    // Exactly 3 full blocks: the last must be recomputed (vLLM: max_cache_hit_length = n − 1), so 2 hit.
    expect(cache.lookup(blockHashes(prompt), 48, 5)).toBe(32);
    // One token more: all 3 blocks hit.
    const longer = [...prompt, 7777];
    expect(cache.lookup(blockHashes(longer), 49, 5)).toBe(48);
    // Sharing 40 tokens (2 blocks and a half) then diverging: the half block does not count.
    const diverging = [...prompt.slice(0, 40), ...ids(30, 5000)];
    expect(cache.lookup(blockHashes(diverging), diverging.length, 5)).toBe(32);
    // Diverging inside the first block: nothing.
    const early = [...prompt.slice(0, 10), ...ids(60, 9000)];
    expect(cache.lookup(blockHashes(early), early.length, 5)).toBe(0);
  });

  it('does not serve a block before its prefill has computed it', () => {
    const cache = new PrefixCache(100);
    const prompt = ids(50);
    cache.insert(blockHashes(prompt), 1000);
    expect(cache.lookup(blockHashes(prompt), 50, 999.5)).toBe(0);
    expect(cache.lookup(blockHashes(prompt), 50, 1000)).toBe(48);
    // A later insert of the same blocks does not push their time back.
    cache.insert(blockHashes(prompt), 5000);
    expect(cache.lookup(blockHashes(prompt), 50, 1001)).toBe(48);
  });

  it('chains: a cached block behind a different prefix is not a hit', () => {
    const cache = new PrefixCache(100);
    const head = ids(16, 0);
    const shared = ids(16, 100);
    cache.insert(blockHashes([...head, ...shared]), 0);
    const other = [...ids(16, 50), ...shared, 1];
    expect(cache.lookup(blockHashes(other), other.length, 1)).toBe(0);
    const same = [...head, ...shared, 1];
    expect(cache.lookup(blockHashes(same), same.length, 1)).toBe(32);
  });

  it('evicts the least recently used block at capacity; a lookup hit counts as a use', () => {
    const cache = new PrefixCache(2);
    const x = blockHashes(ids(16, 0));
    const y = blockHashes(ids(16, 100));
    const z = blockHashes(ids(16, 200));
    cache.insert(x, 0);
    cache.insert(y, 0);
    expect(cache.lookup(x, 17, 1)).toBe(16); // x is now the most recently used
    cache.insert(z, 1);

    expect(cache.size).toBe(2);
    expect(cache.lookup(y, 17, 2)).toBe(0); // evicted
    expect(cache.lookup(x, 17, 2)).toBe(16);
    expect(cache.lookup(z, 17, 2)).toBe(16);
  });

  it("keeps a prompt's head over its tail when the prompt alone exceeds the capacity", () => {
    const cache = new PrefixCache(2);
    const prompt = ids(49);
    cache.insert(blockHashes(prompt), 0);
    expect(cache.size).toBe(2);
    // Blocks 0 and 1 stay, block 2 went: the first 32 tokens still hit.
    expect(cache.lookup(blockHashes(prompt), 49, 1)).toBe(32);
  });

  it('capacity 0 disables it: nothing kept, nothing found', () => {
    const cache = new PrefixCache(0);
    expect(cache.enabled).toBe(false);
    cache.insert(blockHashes(ids(64)), 0);
    expect(cache.size).toBe(0);
    expect(cache.lookup(blockHashes(ids(64)), 64, 1)).toBe(0);
  });
});

/** Per prompt token, and a fixed base: TTFT (= prefill with no queue) = base + cost × uncached tokens. */
const latency = { tokenizer: 'words', ttftMs: 3, ttftJitterMs: 0, prefillMsPerToken: 0.25, itlMs: 1, jitterMs: 0 } satisfies SimulatorOptions;

async function complete(sim: RunningSimulator, prompt: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await post(sim, '/v1/completions', { prompt, max_tokens: 2, ignore_eos: true, ...extra });
  expect(res.status).toBe(200);
  await res.text();
}

async function scrape(sim: RunningSimulator): Promise<Exposition> {
  const parsed = parseExposition(await (await fetch(`${sim.url}/metrics`)).text());
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.exposition;
}

async function withSim(options: SimulatorOptions, fn: (sim: RunningSimulator) => Promise<void>): Promise<void> {
  const sim = await startSimulator(options);
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

describe('prefix cache over HTTP', () => {
  it('the same long prompt twice: the second is served from the cache and its prefill is shorter by the cached tokens’ cost', async () => {
    await withSim(latency, async (sim) => {
      const prompt = words('w', 100).join(' ');
      await complete(sim, prompt);
      await complete(sim, prompt);

      const [first, second] = sim.groundTruth();
      expect(first!.promptTokens).toBe(100);
      expect(first!.cachedPromptTokens).toBe(0);
      expect(first!.prefillMs).toBeCloseTo(latency.ttftMs + latency.prefillMsPerToken * 100, 9);
      // 100 tokens: 6 full blocks, all cached, and all 6 (96 tokens ≤ 99) may be served.
      expect(second!.cachedPromptTokens).toBe(96);
      expect(second!.prefillMs).toBeCloseTo(latency.ttftMs + latency.prefillMsPerToken * (100 - 96), 9);
      expect(first!.prefillMs! - second!.prefillMs!).toBeCloseTo(latency.prefillMsPerToken * second!.cachedPromptTokens, 9);

      const m = await scrape(sim);
      expect(sumSamples(m, 'vllm:prefix_cache_queries_total')).toBe(200);
      expect(sumSamples(m, 'vllm:prefix_cache_hits_total')).toBe(96);
    });
  });

  it('a shared head hits in whole blocks: the block where the prompts diverge is prefilled again', async () => {
    await withSim(latency, async (sim) => {
      const head = words('h', 70);
      await complete(sim, [...head, ...words('x', 30)].join(' '));
      await complete(sim, [...head, ...words('y', 30)].join(' '));

      const [first, second] = sim.groundTruth();
      // Tokens 0..69 shared: blocks 0..3 (64 tokens) hit; block 4 (64..79) holds x/y words.
      expect(second!.cachedPromptTokens).toBe(64);
      expect(first!.prefillMs! - second!.prefillMs!).toBeCloseTo(latency.prefillMsPerToken * 64, 9);
    });
  });

  it('a repeated chat conversation hits too (the chat template is part of the prompt)', async () => {
    await withSim(latency, async (sim) => {
      const body = { messages: [{ role: 'user', content: words('c', 60).join(' ') }], max_tokens: 2, ignore_eos: true };
      for (let i = 0; i < 2; i++) await (await post(sim, '/v1/chat/completions', body)).text();

      const [first, second] = sim.groundTruth();
      expect(first!.cachedPromptTokens).toBe(0);
      expect(second!.cachedPromptTokens).toBe(Math.floor((second!.promptTokens - 1) / 16) * 16);
      expect(second!.cachedPromptTokens).toBeGreaterThan(0);
      expect(first!.prefillMs! - second!.prefillMs!).toBeCloseTo(latency.prefillMsPerToken * second!.cachedPromptTokens, 9);
    });
  });

  it('two different prompts: nothing cached, the same prefill', async () => {
    await withSim(latency, async (sim) => {
      await complete(sim, words('a', 100).join(' '));
      await complete(sim, words('b', 100).join(' '));

      const entries = sim.groundTruth();
      expect(entries.map((e) => e.cachedPromptTokens)).toEqual([0, 0]);
      expect(entries[1]!.prefillMs).toBe(entries[0]!.prefillMs);
      const m = await scrape(sim);
      expect(sumSamples(m, 'vllm:prefix_cache_queries_total')).toBe(200);
      expect(sumSamples(m, 'vllm:prefix_cache_hits_total')).toBe(0);
    });
  });

  it('the same prompt to another served model misses: the model salts the blocks', async () => {
    await withSim({ ...latency, models: ['m-a', 'm-b'] }, async (sim) => {
      const prompt = words('w', 50).join(' ');
      await complete(sim, prompt, { model: 'm-a' });
      await complete(sim, prompt, { model: 'm-b' });
      await complete(sim, prompt, { model: 'm-a' });

      expect(sim.groundTruth().map((e) => e.cachedPromptTokens)).toEqual([0, 0, 48]);
      const m = await scrape(sim);
      expect(sumSamples(m, 'vllm:prefix_cache_hits_total', (l) => l.model_name === 'm-a')).toBe(48);
      expect(sumSamples(m, 'vllm:prefix_cache_hits_total', (l) => l.model_name === 'm-b')).toBe(0);
      expect(sumSamples(m, 'vllm:prefix_cache_queries_total', (l) => l.model_name === 'm-b')).toBe(50);
    });
  });

  it('caching off (prefixCacheBlocks 0): never a hit, the full prefill every time, and the prefix counters stay 0', async () => {
    await withSim({ ...latency, prefixCacheBlocks: 0 }, async (sim) => {
      const prompt = words('w', 100).join(' ');
      for (let i = 0; i < 3; i++) await complete(sim, prompt);
      await complete(sim, prompt, { stream: true });

      const entries = sim.groundTruth();
      expect(entries.map((e) => e.cachedPromptTokens)).toEqual([0, 0, 0, 0]);
      for (const e of entries) expect(e.prefillMs).toBeCloseTo(latency.ttftMs + latency.prefillMsPerToken * 100, 9);
      const m = await scrape(sim);
      // Exposed, as vLLM exposes them, but never incremented.
      expect(sumSamples(m, 'vllm:prefix_cache_queries_total')).toBe(0);
      expect(sumSamples(m, 'vllm:prefix_cache_hits_total')).toBe(0);
      expect(sumSamples(m, 'vllm:prompt_tokens_total')).toBe(400);
    });
  });

  it('a cache too small for two prompts forgets the older one', async () => {
    // 6 full blocks each (100 tokens): a capacity of 8 blocks holds one prompt, not two.
    await withSim({ ...latency, prefixCacheBlocks: 8 }, async (sim) => {
      const a = words('a', 100).join(' ');
      const b = words('b', 100).join(' ');
      await complete(sim, a);
      await complete(sim, b);
      await complete(sim, b);
      await complete(sim, a);

      // b hits in full; a's tail blocks went first, so only its head (2 blocks) was left to hit.
      expect(sim.groundTruth().map((e) => e.cachedPromptTokens)).toEqual([0, 0, 96, 32]);
    });
  });
});
