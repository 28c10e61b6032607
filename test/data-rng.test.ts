import { describe, expect, it } from "vitest";
import { createRng } from "../runtime/data/rng.js";

describe("createRng", () => {
  it("gives the same stream for the same seed and a different one for another seed", () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 20 }, () => a.next());
    const sb = Array.from({ length: 20 }, () => b.next());
    const sc = Array.from({ length: 20 }, () => c.next());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it("draws uniforms in [0, 1) and integers in [0, n) covering the range", () => {
    const rng = createRng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const u = rng.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      const k = rng.int(6);
      expect(Number.isInteger(k) && k >= 0 && k < 6).toBe(true);
      seen.add(k);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => rng.int(0)).toThrow(RangeError);
  });

  it("draws normals with mean ≈ 0 and variance ≈ 1", () => {
    const rng = createRng(1);
    const n = 20000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sumSq += x * x;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sumSq / n - mean * mean - 1)).toBeLessThan(0.05);
  });

  it("shuffles into a permutation, deterministically", () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const s1 = createRng(3).shuffle([...xs]);
    const s2 = createRng(3).shuffle([...xs]);
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(xs);
    expect([...s1].sort((a, b) => a - b)).toEqual(xs);
  });

  it("resumes the exact stream from a saved state", () => {
    const rng = createRng(99);
    for (let i = 0; i < 17; i++) rng.next();
    const saved = rng.state();
    const expected = Array.from({ length: 10 }, () => rng.next());
    const resumed = createRng(12345, saved);
    expect(Array.from({ length: 10 }, () => resumed.next())).toEqual(expected);
  });
});
