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
