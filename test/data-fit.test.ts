import { describe, expect, it } from "vitest";
import { fitImages, planImageFit } from "../runtime/data/fit.js";
import type { BatchField } from "../runtime/data/types.js";

function batch(shape: [number, number, number, number], f: (i: number) => number): BatchField {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "float32", shape, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
}

describe("fitImages", () => {
  it("returns the batch unchanged when the shapes match", () => {
    const b = batch([2, 4, 4, 3], (i) => i / 100);
    expect(fitImages(b, [4, 4, 3])).toBe(b);
    expect(planImageFit([4, 4, 3], [4, 4, 3])).toEqual({ ok: true, steps: [] });
  });

  it("centre pads with zeros and replicates grey to RGB (28×28×1 → 32×32×3)", () => {
    const b = batch([2, 28, 28, 1], () => 1);
    const out = fitImages(b, [32, 32, 3]);
    expect(out.shape).toEqual([2, 32, 32, 3]);
    const at = (n: number, y: number, x: number, c: number) => out.data[((n * 32 + y) * 32 + x) * 3 + c];
    expect(at(0, 0, 0, 0)).toBe(0); // padding
    expect(at(1, 1, 1, 2)).toBe(0);
    expect(at(0, 2, 2, 0)).toBe(1); // first source pixel sits at offset 2
    expect(at(1, 29, 29, 1)).toBe(1); // last source pixel
    expect(at(1, 30, 30, 2)).toBe(0);
    let sum = 0;
    for (const v of out.data) sum += v;
    expect(sum).toBe(2 * 28 * 28 * 3);
  });

  it("centre crops and averages RGB to grey (32×32×3 → 28×28×1)", () => {
    // pixel value encodes its (y, x) position; channels r = v, g = v + 3, b = v + 6 → mean v + 3
    const b = batch([1, 32, 32, 3], (i) => Math.floor(i / 3) + (i % 3) * 3);
    const out = fitImages(b, [28, 28, 1]);
    expect(out.shape).toEqual([1, 28, 28, 1]);
    expect(out.data[0]).toBe(2 * 32 + 2 + 3);
    expect(out.data[27 * 28 + 27]).toBe(29 * 32 + 29 + 3);
  });

  it("refuses what is not a standard transform, saying why", () => {
    expect(planImageFit([32, 32, 3], [16, 16, 3])).toMatchObject({ ok: false });
    expect(() => fitImages(batch([1, 32, 32, 3], () => 0), [16, 16, 3])).toThrow(
      /images are 32×32×3 but the model expects 16×16×3: cropping height 32 → 16 would cut off more than a quarter/,
    );
    expect(() => fitImages(batch([1, 8, 8, 3], () => 0), [8, 8, 2])).toThrow(/cannot convert images with 3 channels to 2 channels/);
  });
});
