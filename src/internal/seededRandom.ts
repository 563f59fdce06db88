/**
 * A small seeded PRNG (mulberry32) for test doubles that must repeat a run: the fault injector,
 * the memory layer's index lag, and the crash test's kill schedule.
 *
 * @module
 */

/** Uniform in [0, 1), the same sequence for the same seed. */
export const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
