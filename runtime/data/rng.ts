// A small seeded pseudo-random generator used wherever vlmc needs randomness (data generation,
// shuffling, weight initialisation) so that every run is reproducible from one integer seed.
//
// The core is mulberry32: a 32-bit state, one multiply-xorshift step per draw. It is fast, has a
// full 2^32 period over its state, and — the reason we use it — its whole state is one integer, so
// a training run can save `state()` in a checkpoint and resume the exact same random stream.

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). `n` must be a positive integer. */
  int(n: number): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal sample (mean 0, standard deviation 1), Box–Muller. */
  normal(): number;
  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T>(array: T[]): T[];
  /**
   * The generator's current state; `createRng(anySeed, rng.state())` continues the same stream.
   * A cached second normal sample is discarded, so save state between whole operations.
   */
  state(): number;
}

/** Mixes a user seed so that nearby seeds (0, 1, 2...) start far apart in the stream. */
function mixSeed(seed: number): number {
  // splitmix32 finaliser
  let z = (seed | 0) + 0x9e3779b9;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Creates a generator from `seed`. When `state` is given (from an earlier `rng.state()`), the
 * generator resumes from it and `seed` is ignored.
 */
export function createRng(seed: number, state?: number): Rng {
  let s = state !== undefined ? state >>> 0 : mixSeed(seed);
  let spareNormal: number | undefined;

  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const int = (n: number): number => {
    if (!(n > 0) || !Number.isInteger(n)) throw new RangeError(`rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };

  const normal = (): number => {
    if (spareNormal !== undefined) {
      const v = spareNormal;
      spareNormal = undefined;
      return v;
    }
    // 1 - next() is in (0, 1], so the log is finite.
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };

  return {
    next,
    int,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    normal,
    shuffle<T>(array: T[]): T[] {
      for (let i = array.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = array[i]!;
        array[i] = array[j]!;
        array[j] = tmp;
      }
      return array;
    },
    state: () => {
      spareNormal = undefined;
      return s;
    },
  };
}
