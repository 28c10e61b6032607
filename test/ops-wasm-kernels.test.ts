// vlmc's faster wasm kernels (runtime/wasm-kernels.ts) against the stock wasm kernels they replace,
// on the same inputs: Sum over runs of non-last axes (average pooling), power-of-two 2-D
// transposes (a 3-D transpose), Identity and same-dtype Cast (shared data, one more reference),
// Reverse and GatherV2 (block copies).
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmKernelsEnabled } from "../runtime/wasm-kernels.js";
import { randomArray, relativeError, useBackend } from "./ops-support.js";

const rnd = (shape: number[], seed: number) => tf.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape);

function both<T extends tf.Tensor>(f: () => T): { stock: T; fast: T } {
  setWasmKernelsEnabled(false);
  const stock = f();
  setWasmKernelsEnabled(true);
  const fast = f();
  return { stock, fast };
}

describe("vlmc wasm kernels equal the stock wasm kernels", () => {
  beforeAll(() => useBackend("wasm"));
  afterEach(() => setWasmKernelsEnabled(true));

  test.each([
    [[1088, 64], [0], false],
    [[64, 17, 64], [0, 1], false],
    [[64, 17, 64], [0, 1], true],
    [[8, 16, 16, 32], [0, 1, 2], false],
    [[8, 16, 16, 32], [1, 2], true],
    [[4, 5, 6], [1], false],
    [[4, 5, 6], [0, 2], false], // not contiguous: stock
    [[4, 5, 6], [2], false], // last axis: stock
    [[3, 1, 7], [0], true],
  ] as const)("sum %j over %j (keepDims %s)", (shape, axes, keepDims) => {
    const x = rnd([...shape], 3);
    const { stock, fast } = both(() => tf.sum(x, [...axes], keepDims));
    expect(fast.shape).toEqual(stock.shape);
    expect(relativeError(fast.dataSync(), stock.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, stock, fast]);
  });

  test.each([
    [[1024, 128], [1, 0]],
    [[2048, 64], [1, 0]],
    [[1, 256, 48], [0, 2, 1]],
    [[128, 1, 33], [2, 1, 0]],
    [[1088, 64], [1, 0]],
    [[16, 8], [1, 0]],
  ] as const)("transpose %j by %j", (shape, perm) => {
    const x = rnd([...shape], 5);
    const { stock, fast } = both(() => tf.transpose(x, [...perm]));
    expect(fast.shape).toEqual(stock.shape);
    expect(Array.from(fast.dataSync())).toEqual(Array.from(stock.dataSync()));
    tf.dispose([x, stock, fast]);
  });

  test("int32 transpose", () => {
    const x = tf.tensor2d(Int32Array.from({ length: 256 * 32 }, (_, i) => i), [256, 32], "int32");
    const { stock, fast } = both(() => tf.transpose(x));
    expect(Array.from(fast.dataSync())).toEqual(Array.from(stock.dataSync()));
    tf.dispose([x, stock, fast]);
  });

  test.each([
    [[3, 3, 4, 5], [0, 1]],
    [[3, 3, 4, 5], [1]],
    [[3, 3, 4, 5], [3]],
    [[3, 3, 4, 5], [0, 2]],
    [[2, 3, 4], [0, 1, 2]],
    [[7], [0]],
    [[5, 1, 2], [1]],
    [[4, 3], [0, 0]], // listed twice: flipped twice, i.e. not at all
  ] as const)("reverse %j over %j", (shape, axes) => {
    const x = rnd([...shape], 11);
    const xi = tf.cast(tf.mul(x, 100), "int32");
    for (const t of [x, xi]) {
      const { stock, fast } = both(() => tf.reverse(t, [...axes]));
      expect(fast.dtype).toBe(t.dtype);
      expect(Array.from(fast.dataSync())).toEqual(Array.from(stock.dataSync()));
      tf.dispose([stock, fast]);
    }
    tf.dispose([x, xi]);
  });

  test.each([
    [[10, 6], [[1, 3, 3, 0], [9, 2, 0, 0]]],
    [[4, 2, 3], [[3, 0, 1]]],
    [[5], [[4, 4, 1]]],
  ] as const)("gather rows of %j at %j", (shape, ids) => {
    const x = rnd([...shape], 12);
    const indices = tf.tensor(ids.flat(), [ids.length, ids[0]!.length], "int32");
    const { stock, fast } = both(() => tf.gather(x, indices, 0));
    expect(fast.shape).toEqual(stock.shape);
    expect(Array.from(fast.dataSync())).toEqual(Array.from(stock.dataSync()));
    // Not axis 0, and out of range: the stock kernel (its error for the latter).
    const other = both(() => tf.gather(tf.reshape(x, [shape[0]!, -1]), tf.tensor1d([0], "int32"), 1));
    expect(Array.from(other.fast.dataSync())).toEqual(Array.from(other.stock.dataSync()));
    expect(() => tf.gather(x, tf.tensor1d([shape[0]!], "int32"), 0)).toThrow();
    tf.dispose([x, indices, stock, fast, other.stock, other.fast]);
  });

  test("cast to the same dtype shares the data; to another dtype converts", () => {
    const x = rnd([4, 3], 13);
    const before = tf.memory().numDataBuffers;
    const same = tf.cast(x, "float32");
    expect(tf.memory().numDataBuffers).toBe(before);
    const { stock, fast } = both(() => tf.cast(x, "int32"));
    expect(fast.dtype).toBe("int32");
    expect(Array.from(fast.dataSync())).toEqual(Array.from(stock.dataSync()));
    x.dispose();
    expect(same.dataSync().length).toBe(12);
    tf.dispose([same, stock, fast]);
  });

  test("identity shares the data and outlives its input; gradients through saved tensors agree", () => {
    const x = rnd([6, 5], 7);
    const expected = Array.from(x.dataSync());
    const before = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(before); // no copy made
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(expected);
    y.dispose();
    // A model-like function whose backward pass reads the tensors tfjs saved (through Identity).
    const w = tf.variable(rnd([5, 4], 8));
    const input = rnd([6, 5], 9);
    const loss = () => tf.sum(tf.square(tf.tanh(tf.matMul(input, w))));
    const { stock, fast } = both(() => tf.variableGrads(loss as () => tf.Scalar).grads[w.name]!);
    expect(Array.from(fast.dataSync())).toEqual(Array.from(stock.dataSync()));
    tf.dispose([w, input, stock, fast]);
  });
});

describe("groupMatMul (attention's products as a depthwise convolution)", () => {
  beforeAll(() => useBackend("wasm"));

  test.each([[[5, 3, 4], 6], [[17, 16, 8], 17], [[1, 2, 3], 1]] as const)("x %j, N %d: value and gradients equal BatchMatMul's", async (xShape, n) => {
    const { groupMatMul } = await import("../runtime/ops/attention.js");
    const [m, k, g] = xShape;
    const x = rnd([m, k, g], 7);
    const f = rnd([k, g, n], 8);
    const probe = rnd([m, g, n], 9);
    // The same products as BatchMatMul over [G, M, K] · [G, K, N], laid out back as [M, G, N].
    const viaBatch = (a: tf.Tensor, b: tf.Tensor) => tf.transpose(tf.matMul(tf.transpose(a, [2, 0, 1]), tf.transpose(b, [1, 0, 2])), [1, 0, 2]);
    const loss = (mm: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(mm(a, b), probe));
    expect(relativeError(groupMatMul(x, f).dataSync(), viaBatch(x, f).dataSync())).toBeLessThan(1e-5);
    const [gx, gf] = tf.grads(loss(groupMatMul))([x, f]);
    const [rx, rf] = tf.grads(loss(viaBatch))([x, f]);
    expect(relativeError(gx!.dataSync(), rx!.dataSync())).toBeLessThan(1e-5);
    expect(relativeError(gf!.dataSync(), rf!.dataSync())).toBeLessThan(1e-5);
  });
});
