// Copyright 2026 the Reaper authors. MIT license.

/**
 * A tiny seeded PRNG (mulberry32): the same seed gives the same sequence, so
 * a failing property test can be replayed and benchmarks compare like with
 * like.
 *
 * @param seed Any 32-bit integer.
 * @returns A function that returns numbers in [0, 1).
 */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
