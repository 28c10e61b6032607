// wasm's forward Conv2D on our implicit GEMM (runtime/wasm-simd/conv2d.ts, conv2d.c) against tfjs
// cpu: strides, 'same'/'valid'/explicit padding, channel counts that hit the tile edges (ci and co
// not multiples of 4 or 8, M = n·ho·wo not a multiple of 4, several 64-pixel blocks), kernels
// larger than the input; which shapes it takes by default; and conv gradients through it.
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmConvEnabled, setWasmConvEveryShape } from "../runtime/wasm-simd/conv2d.js";
import { wasmSimdKernels, type WasmBackendHeap } from "../runtime/wasm-simd/index.js";
import { evalOn, numel, randomArray, relativeError, useBackend } from "./ops-support.js";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Conv = { xs: number[]; ks: number[]; strides: number | [number, number]; pad: Pad; rounding?: "floor" | "round" | "ceil" };

const CASES: Conv[] = [
  { xs: [1, 5, 5, 1], ks: [1, 1, 1, 1], strides: 1, pad: "valid" }, // M = 25
  { xs: [3, 7, 6, 3], ks: [3, 3, 3, 6], strides: 1, pad: "same" },
  { xs: [3, 7, 6, 3], ks: [3, 3, 3, 6], strides: 2, pad: "same" },
  { xs: [1, 9, 8, 5], ks: [5, 5, 5, 3], strides: 1, pad: "valid" },
  { xs: [3, 9, 10, 5], ks: [5, 5, 5, 17], strides: 2, pad: "same" }, // co = 8 + 8 + 1
  { xs: [1, 12, 12, 32], ks: [3, 3, 32, 64], strides: 1, pad: "same" }, // 144 pixels: 3 blocks
  { xs: [3, 8, 8, 64], ks: [3, 3, 64, 16], strides: 2, pad: "valid" },
  { xs: [3, 18, 18, 64], ks: [3, 3, 64, 32], strides: 1, pad: "valid" }, // CLIP's input-gradient shape, smaller batch
  { xs: [1, 6, 6, 64], ks: [1, 1, 64, 17], strides: 1, pad: "same" },
  { xs: [3, 11, 13, 1], ks: [3, 3, 1, 16], strides: 2, pad: "same" }, // one input channel, non-square
  { xs: [1, 10, 7, 32], ks: [3, 5, 32, 3], strides: 1, pad: "same" }, // non-square kernel, co = 3
  { xs: [3, 7, 7, 3], ks: [1, 1, 3, 1], strides: 2, pad: "valid" },
  { xs: [3, 9, 10, 5], ks: [3, 3, 5, 6], strides: [1, 2], pad: "same" }, // different strides per axis
  { xs: [1, 3, 4, 3], ks: [5, 5, 3, 6], strides: 1, pad: "same" }, // kernel larger than the input
  { xs: [3, 5, 5, 5], ks: [5, 5, 5, 1], strides: 1, pad: "valid" }, // kernel as large as the input: one pixel
  { xs: [1, 6, 9, 5], ks: [6, 4, 5, 6], strides: 3, pad: "valid" },
  { xs: [3, 28, 28, 1], ks: [5, 5, 1, 6], strides: 1, pad: "same" }, // LeNet-5's first layer
  { xs: [3, 8, 9, 5], ks: [3, 3, 5, 6], strides: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] }, // explicit padding
  { xs: [3, 9, 9, 5], ks: [3, 3, 5, 6], strides: 2, pad: 1, rounding: "floor" },
  { xs: [3, 8, 8, 5], ks: [3, 3, 5, 6], strides: 2, pad: 0, rounding: "ceil" },
];

function conv(c: Conv, x: Float32Array, k: Float32Array): tf.Tensor {
  return tf.conv2d(tf.tensor4d(x, c.xs as [number, number, number, number]), tf.tensor4d(k, c.ks as [number, number, number, number]),
    c.strides, c.pad, "NHWC", 1, c.rounding);
}

/** Runs f on wasm and counts the calls of our kernel in it. */
async function countingOurs<T>(f: () => Promise<T>): Promise<{ result: T; calls: number }> {
  await useBackend("wasm");
  const simd = wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap)!;
  const kernel = simd.conv2d;
  let calls = 0;
  simd.conv2d = (...args) => {
    calls++;
    kernel(...args);
  };
  try {
    return { result: await f(), calls };
  } finally {
    simd.conv2d = kernel;
  }
}

describe("Conv2D on our wasm GEMM", () => {
  beforeAll(() => useBackend("wasm"));
  afterEach(() => {
    setWasmConvEnabled(true);
    setWasmConvEveryShape(false);
  });

  test.each(CASES.map((c) => [JSON.stringify(c.xs), JSON.stringify(c.ks), JSON.stringify(c.strides), JSON.stringify(c.pad), c] as const))(
    "x %s kernel %s strides %s pad %s", async (_x, _k, _s, _p, c) => {
      const x = randomArray(numel(c.xs), 1), k = randomArray(numel(c.ks), 2);
      const ref = await evalOn("cpu", () => conv(c, x, k));
      setWasmConvEveryShape(true);
      const { result: ours, calls } = await countingOurs(() => evalOn("wasm", () => conv(c, x, k)));
      expect(calls).toBe(1);
      expect(ours.shape).toEqual(ref.shape);
      expect(relativeError(ours.data, ref.data)).toBeLessThan(1e-5);
    });

  test("by default it takes the shapes where it beats XNNPACK, and none when off", async () => {
    const ran = async (xs: number[], ks: number[]) => {
      const x = randomArray(numel(xs), 3), k = randomArray(numel(ks), 4);
      const c: Conv = { xs, ks, strides: 1, pad: "same" };
      return (await countingOurs(() => evalOn("wasm", () => conv(c, x, k)))).calls;
    };
    expect(await ran([2, 16, 16, 32], [3, 3, 32, 64])).toBe(1); // CLIP's second layer
    expect(await ran([2, 32, 32, 3], [3, 3, 3, 32])).toBe(0); // CLIP's first layer: 3 input channels
    expect(await ran([2, 14, 14, 6], [5, 5, 6, 16])).toBe(0); // LeNet-5's second layer
    setWasmConvEnabled(false);
    expect(await ran([2, 16, 16, 32], [3, 3, 32, 64])).toBe(0);
  });

  test("the stock kernel still runs when ours is off", async () => {
    const c = CASES[4]!;
    const x = randomArray(numel(c.xs), 5), k = randomArray(numel(c.ks), 6);
    const ref = await evalOn("cpu", () => conv(c, x, k));
    setWasmConvEnabled(false);
    expect(relativeError((await evalOn("wasm", () => conv(c, x, k))).data, ref.data)).toBeLessThan(1e-5);
  });

  // On wasm the input gradient is a forward Conv2D (conv2dGradLowered), so it runs through ours too.
  test.each([
    [[2, 9, 9, 8], [3, 3, 8, 16], 1, "same"],
    [[2, 9, 10, 8], [3, 3, 8, 16], 2, "same"],
    [[2, 10, 9, 16], [5, 5, 16, 24], 2, "valid"],
  ] as Array<[number[], number[], number, "same" | "valid"]>)("gradients of x %j kernel %j stride %d %s", async (xs, ks, stride, pad) => {
    const x = randomArray(numel(xs), 7), k = randomArray(numel(ks), 8);
    const grads = () => tf.tidy(() => {
      const probe = (xt: tf.Tensor, kt: tf.Tensor) => tf.sum(tf.sin(tf.conv2d(xt as tf.Tensor4D, kt as tf.Tensor4D, stride, pad)));
      return tf.grads(probe)([tf.tensor(x, xs), tf.tensor(k, ks)]);
    });
    await useBackend("cpu");
    const ref = grads().map((g) => g.dataSync() as Float32Array);
    setWasmConvEveryShape(true);
    const { result: ours, calls } = await countingOurs(async () => grads().map((g) => g.dataSync() as Float32Array));
    expect(calls).toBe(2); // the forward conv and the input gradient's
    expect(relativeError(ours[0]!, ref[0]!)).toBeLessThan(1e-5);
    expect(relativeError(ours[1]!, ref[1]!)).toBeLessThan(1e-5);
  });
});
