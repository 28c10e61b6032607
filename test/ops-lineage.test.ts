// The ops of the later lineage (issue 8) against hand-computed layouts and plain-JS references:
// pixel shuffle and image tiling token by token, the 2-D sin-cos table at chosen points, token
// masks, Partial LoRA (exactly the base projection where the mask is 0) and attend (attention
// without projections), on both in-process backends.
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, test } from "vitest";
import { ops } from "../runtime/ops/index.js";
import { sincos2dTable } from "../runtime/ops/lineage.js";
import { evalOn, randomArray, relativeError, type Backend } from "./ops-support.js";
import { arr, attentionRef, denseRef } from "./ops-reference.js";

const iota = (n: number, offset = 0) => Float32Array.from({ length: n }, (_, i) => i + offset);
const identity = (d: number) => arr([d, d], Float32Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)));

describe.each<Backend>(["cpu", "wasm"])("lineage ops on %s", (backend) => {
  test("pixel_shuffle: each 2×2 block of a 4×4 token grid becomes one token, features (row, col, channel)", async () => {
    // Token t of the grid (row t // 4, column t % 4) holds [t, 100 + t].
    const x = Float32Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? i / 2 : 100 + (i - 1) / 2));
    const got = await evalOn(backend, () => ops.pixelShuffle(tf.tensor3d(x, [1, 16, 2]), { factor: 2 }));
    expect(got.shape).toEqual([1, 4, 8]);
    const block = (a: number, b: number, c: number, d: number) => [a, 100 + a, b, 100 + b, c, 100 + c, d, 100 + d];
    expect(Array.from(got.data)).toEqual([...block(0, 1, 4, 5), ...block(2, 3, 6, 7), ...block(8, 9, 12, 13), ...block(10, 11, 14, 15)]);
  });

  test("tile_image: 2×2 tiles row-major, then the area-averaged thumbnail; merge_tiles puts them side by side", async () => {
    // Two 4×4×1 images: pixel (r, c) = 4r + c, and the same + 100.
    const image = tf.tensor4d(Float32Array.from([...iota(16), ...iota(16, 100)]), [2, 4, 4, 1]);
    const tiles = await evalOn(backend, () => ops.tileImage(image, { tile: 2, tiles: 5 }));
    expect(tiles.shape).toEqual([10, 2, 2, 1]);
    const one = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15], [2.5, 4.5, 10.5, 12.5]];
    const expected = [...one.flat(), ...one.flat().map((v) => v + 100)];
    expect(Array.from(tiles.data)).toEqual(expected);
    // One token per tile pixel: [10, 4, 1] → [2, 20, 1], example 0's five tiles first.
    const merged = await evalOn(backend, () => ops.mergeTiles(tf.reshape(ops.tileImage(image, { tile: 2, tiles: 5 }), [10, 4, 1]), { tiles: 5 }));
    expect(merged.shape).toEqual([2, 20, 1]);
    expect(Array.from(merged.data)).toEqual(expected);
    // An image of exactly one tile is that tile, with no thumbnail.
    const single = await evalOn(backend, () => ops.tileImage(tf.tensor4d(iota(4), [1, 2, 2, 1]), { tile: 2, tiles: 1 }));
    expect(single.shape).toEqual([1, 2, 2, 1]);
    expect(Array.from(single.data)).toEqual([0, 1, 2, 3]);
  });

  test("sincos_2d_positions adds the 2-D table: row in the first half, column in the second", async () => {
    const table = sincos2dTable(2, 8); // q = 2 frequencies: 1 and 10000^-0.5 = 0.01
    const s = Math.sin, c = Math.cos;
    const row = (r: number, col: number) => [s(r), s(r * 0.01), c(r), c(r * 0.01), s(col), s(col * 0.01), c(col), c(col * 0.01)];
    const expected = [...row(0, 0), ...row(0, 1), ...row(1, 0), ...row(1, 1)];
    expect(relativeError(table, expected)).toBeLessThan(1e-6);
    const x = randomArray(2 * 4 * 8, 3);
    const got = await evalOn(backend, () => ops.sincos2dPositions(tf.tensor3d(x, [2, 4, 8])));
    const want = Array.from(x, (v, i) => v + expected[i % 32]!);
    expect(relativeError(got.data, want)).toBeLessThan(1e-6);
  });

  test("token_mask marks tokens start..end-1 of every example", async () => {
    const got = await evalOn(backend, () => ops.tokenMask(tf.zeros([2, 5, 3]), { start: 1, end: 3 }));
    expect(got.shape).toEqual([2, 5]);
    expect(Array.from(got.data)).toEqual([0, 1, 1, 0, 0, 0, 1, 1, 0, 0]);
  });

  test("partial_lora: scale · mask · x·a·b; a frozen base plus it is bit-identical to the base where the mask is 0", async () => {
    const [b, n, d, r, units] = [2, 4, 6, 3, 5];
    const x = arr([b, n, d], randomArray(b * n * d, 1));
    const a = arr([d, r], randomArray(d * r, 2));
    const bm = arr([r, units], randomArray(r * units, 3));
    const w = arr([d, units], randomArray(d * units, 4));
    const mask = Float32Array.from([1, 1, 0, 0, 0, 1, 0, 1]);
    const T = (v: { shape: number[]; data: ArrayLike<number> }) => tf.tensor(Float32Array.from(v.data), v.shape);
    const got = await evalOn(backend, () => ops.partialLora(T(x), tf.tensor2d(mask, [b, n]), T(a), T(bm), { scale: 0.5 }));
    const low = denseRef(denseRef(x, a), bm).data;
    const want = Array.from(low, (v, i) => 0.5 * mask[Math.floor(i / units)]! * v);
    expect(got.shape).toEqual([b, n, units]);
    expect(relativeError(got.data, want)).toBeLessThan(1e-5);
    const base = await evalOn(backend, () => ops.dense(T(x), T(w)));
    const adapted = await evalOn(backend, () => ops.add(ops.dense(T(x), T(w)), ops.partialLora(T(x), tf.tensor2d(mask, [b, n]), T(a), T(bm), { scale: 1 })));
    for (let row = 0; row < b * n; row++) {
      const slice = (t: Float32Array) => Array.from(t.subarray(row * units, (row + 1) * units));
      if (mask[row] === 0) expect(slice(adapted.data)).toEqual(slice(base.data));
      else expect(slice(adapted.data)).not.toEqual(slice(base.data));
    }
  });

  test("attend equals attention with identity projections (self, causal, key mask)", async () => {
    const [b, n, d, heads] = [2, 5, 8, 2];
    const x = arr([b, n, d], randomArray(b * n * d, 7, 2));
    const keep = arr([b, n], Float32Array.from([1, 1, 1, 0, 1, 1, 0, 1, 1, 1]));
    const zero = arr([d], new Float32Array(d));
    const w = { q: identity(d), k: identity(d), v: identity(d), o: identity(d), ob: zero };
    for (const causal of [false, true]) {
      const X = () => tf.tensor3d(Float32Array.from(x.data), [b, n, d]);
      const got = await evalOn(backend, () => ops.attend(X(), X(), X(), tf.tensor2d(Float32Array.from(keep.data), [b, n]), { heads, causal }));
      expect(relativeError(got.data, attentionRef(x, undefined, keep, w, heads, causal).data)).toBeLessThan(2e-5);
    }
    // One key: every query reads exactly its value.
    const v = randomArray(b * d, 9);
    const one = await evalOn(backend, () => ops.attend(tf.tensor3d(randomArray(b * 3 * d, 8), [b, 3, d]), tf.tensor3d(randomArray(b * d, 5), [b, 1, d]), tf.tensor3d(v, [b, 1, d]), undefined, { heads, causal: false }));
    const want = [0, 1].flatMap((e) => [0, 1, 2].flatMap(() => Array.from(v.subarray(e * d, (e + 1) * d))));
    expect(relativeError(one.data, want)).toBeLessThan(1e-6);
  });

  test("gradients reach partial_lora's a and b and attend's inputs", async () => {
    await evalOn(backend, () => tf.scalar(0));
    const x = tf.tensor3d(randomArray(2 * 3 * 4, 1), [2, 3, 4]);
    const mask = tf.tensor2d([1, 0, 1, 0, 1, 0], [2, 3]);
    const a = tf.variable(tf.tensor2d(randomArray(4 * 2, 2), [4, 2]));
    const bm = tf.variable(tf.tensor2d(randomArray(2 * 4, 3), [2, 4]));
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(ops.attend(ops.partialLora(x, mask, a, bm, { scale: 1 }), x, x, undefined, { heads: 2, causal: true }))) as tf.Scalar, [a, bm]);
    for (const g of Object.values(grads)) expect(Array.from(await g.data()).some((v) => v !== 0 && Number.isFinite(v))).toBe(true);
  });
});
