/** Uniform in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a tiny, fast, seedable PRNG. Schedules, prompts, the simulator's jitter and failure
 * draws, and test fixtures are all reproducible from their seed through this one function.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/**
 * An independent random stream for one item of a seeded sequence (request #n of a run, prompt #n,
 * …): a hash of the seed, the item's number and a stream label, so item n draws the same whatever
 * the other items drew, and a shard can generate only its own items.
 */
export function itemRng(seed: number, item: number, stream = 0): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(item + 1, 0x27d4eb2f) ^ Math.imul(stream + 1, 0x165667b1);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

/** A 32-bit seed from text (FNV-1a): a run's prompts and schedule from its run id. */
export function seedFromText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
