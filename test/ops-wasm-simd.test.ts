// vlmc's SIMD WebAssembly kernels (runtime/wasm-simd): the Conv2D filter gradient against tfjs cpu's
// stock gradient and against the previous wasm lowering, MaxPool's gradient bit for bit against the
// JS loop it replaces, and the binary itself (safe to run on tfjs's memory, built from kernels.c).
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { maxPoolGradLowered } from "../runtime/ops/wasm-gradients.js";
import { CONV2D_FILTER_GRAD_KERNEL, conv2dFilterGradSimd } from "../runtime/wasm-simd/conv2d-filter-grad.js";
import { KERNELS_WASM, setWasmSimdEnabled, wasmSimdKernels, type WasmBackendHeap } from "../runtime/wasm-simd/index.js";
import { numel, randomArray, relativeError, rng, useBackend } from "./ops-support.js";
import { BUILD_SCRIPT, expectRebuildMatches, haveClang } from "./wasm-build-support.js";

type Pad = "valid" | "same";
type Pair = [number, number];

/** dW of sum(conv2d(x, W) · probe) with tfjs's stock gradient on cpu. */
async function cpuFilterGrad(xs: number[], ks: number[], strides: Pair, pad: Pad, x: Float32Array, k: Float32Array, probe: Float32Array): Promise<Float32Array> {
  await useBackend("cpu");
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, xs as [number, number, number, number]);
    const loss = (w: tf.Tensor) => {
      const y = tf.conv2d(xt, w as tf.Tensor4D, strides, pad);
      return tf.sum(tf.mul(y, tf.tensor(probe, y.shape)));
    };
    return tf.grad(loss)(tf.tensor4d(k, ks as [number, number, number, number])).dataSync() as Float32Array;
  });
}

describe("Conv2D filter gradient (SIMD kernel)", () => {
  beforeAll(() => useBackend("wasm"));
  afterEach(() => setWasmSimdEnabled(true));

  test("loads on the wasm backend", () => {
    expect(wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap)).toBeDefined();
  });

  test.each([
    [[2, 7, 7, 3], [3, 3, 3, 4], [1, 1], "valid"],
    [[2, 7, 7, 3], [3, 3, 3, 4], [1, 1], "same"],
    [[2, 7, 6, 3], [3, 3, 3, 5], [2, 2], "same"], // co not a multiple of 4
    [[2, 8, 7, 2], [3, 2, 2, 5], [2, 2], "valid"],
    [[1, 9, 9, 2], [5, 5, 2, 3], [3, 3], "same"],
    [[3, 8, 8, 2], [4, 4, 2, 6], [4, 4], "valid"],
    [[3, 9, 8, 1], [5, 5, 1, 4], [1, 1], "same"], // one input channel
    [[2, 9, 8, 1], [3, 2, 1, 3], [1, 1], "valid"],
    [[2, 9, 8, 1], [3, 3, 1, 3], [2, 2], "same"],
    [[2, 9, 9, 3], [5, 5, 3, 4], [2, 2], "same"], // kernel larger than the stride
    [[2, 9, 10, 3], [3, 3, 3, 7], [1, 2], "same"], // different strides per axis
    [[3, 11, 13, 5], [3, 3, 5, 17], [1, 1], "same"], // co = 8 + 8 + 1
    [[2, 12, 12, 8], [3, 3, 8, 12], [2, 2], "same"], // co = 8 + 4
    [[2, 10, 10, 32], [3, 3, 32, 64], [1, 1], "same"], // CLIP-like channels, several pixel blocks
    [[4, 28, 28, 1], [5, 5, 1, 6], [1, 1], "same"], // LeNet-5's first layer
    [[2, 15, 15, 3], [1, 1, 3, 8], [1, 1], "valid"],
    [[1, 5, 5, 2], [5, 5, 2, 3], [1, 1], "valid"], // one output pixel
  ] as Array<[number[], number[], Pair, Pad]>)("x %j kernel %j strides %j %s", async (xs, ks, strides, pad) => {
    const x = randomArray(numel(xs), 1);
    const k = randomArray(numel(ks), 2);
    const [n, h, w] = xs as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], ks as [number, number, number, number], strides, 1, pad);
    const dyShape = [n, info.outHeight, info.outWidth, ks[3]!];
    const probe = randomArray(numel(dyShape), 3);
    const expected = await cpuFilterGrad(xs, ks, strides, pad, x, k, probe);

    await useBackend("wasm");
    const xt = tf.tensor4d(x, [n, h, w, xs[3]!]);
    const dy = tf.tensor(probe, dyShape);
    const direct = conv2dFilterGradSimd(xt, dy, [ks[0]!, ks[1]!], strides, info.padInfo.top, info.padInfo.left);
    expect(direct).toBeDefined();
    expect(direct!.shape).toEqual(ks);
    expect(relativeError(direct!.dataSync(), expected)).toBeLessThan(1e-5);

    // Through autodiff on wasm: the new kernel runs, and agrees with the forward-conv lowering.
    const kt = tf.tensor4d(k, ks as [number, number, number, number]);
    const grad = () => tf.grad((wt: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xt, wt as tf.Tensor4D, strides, pad), dy)))(kt);
    const profile = await tf.profile(() => grad());
    expect(profile.kernelNames).toContain(CONV2D_FILTER_GRAD_KERNEL);
    const simd = grad();
    setWasmSimdEnabled(false);
    const previous = grad();
    expect(relativeError(simd.dataSync(), previous.dataSync())).toBeLessThan(1e-5);
    tf.dispose([xt, dy, kt, direct!, simd, previous]);
  });
});

interface PoolCase {
  name: string;
  shape: [number, number, number, number];
  filterSize: Pair;
  strides: Pair;
  pad: Pad | number;
  /** Input values: "random", "negative" (every window all below zero) or "ties" (few distinct values). */
  values: "random" | "negative" | "ties";
}

function poolInput(c: PoolCase, seed: number): Float32Array {
  const next = rng(seed);
  const size = numel(c.shape);
  if (c.values === "negative") return Float32Array.from({ length: size }, () => -1 - next() * 4);
  if (c.values === "ties") return Float32Array.from({ length: size }, () => Math.floor(next() * 3) - 1);
  return randomArray(size, seed);
}

describe("MaxPool gradient (SIMD kernel) is bit-identical to the JS loop", () => {
  beforeAll(() => useBackend("wasm"));
  afterEach(() => setWasmSimdEnabled(true));

  test.each<PoolCase>([
    { name: "CLIP-like 2x2/2", shape: [4, 16, 16, 32], filterSize: [2, 2], strides: [2, 2], pad: "valid", values: "random" },
    { name: "all-negative windows", shape: [2, 6, 6, 5], filterSize: [2, 2], strides: [2, 2], pad: "valid", values: "negative" },
    { name: "ties", shape: [2, 8, 8, 4], filterSize: [2, 2], strides: [2, 2], pad: "valid", values: "ties" },
    { name: "overlapping 3x3/2 same, ties", shape: [2, 9, 7, 6], filterSize: [3, 3], strides: [2, 2], pad: "same", values: "ties" },
    { name: "overlapping 3x3/1 same, negative", shape: [1, 7, 7, 3], filterSize: [3, 3], strides: [1, 1], pad: "same", values: "negative" },
    { name: "odd sizes, one channel", shape: [3, 7, 5, 1], filterSize: [2, 3], strides: [2, 1], pad: "valid", values: "random" },
    { name: "same padding, 9 channels", shape: [2, 5, 6, 9], filterSize: [2, 2], strides: [2, 2], pad: "same", values: "ties" },
    { name: "windows wholly in the padding", shape: [1, 3, 3, 4], filterSize: [2, 2], strides: [1, 1], pad: 2, values: "random" },
  ])("$name", ({ name: _name, ...c }) => {
    const x = tf.tensor4d(poolInput({ name: "", ...c }, 11), c.shape);
    const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad, dimRoundingMode: typeof c.pad === "number" ? "floor" as const : undefined };
    const info = tf.backend_util.computePool2DInfo(c.shape, c.filterSize, c.strides, 1, c.pad, attrs.dimRoundingMode);
    // Some dy of -0: the loop adds it to +0 and so stores +0.
    const dyValues = randomArray(info.batchSize * info.outHeight * info.outWidth * info.outChannels, 12).map((v, i) => (i % 3 === 0 ? -0 : v));
    const dy = tf.tensor(dyValues, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]);
    const simd = maxPoolGradLowered(dy, x, attrs);
    setWasmSimdEnabled(false);
    const loop = maxPoolGradLowered(dy, x, attrs);
    expect(Array.from(simd.dataSync())).toEqual(Array.from(loop.dataSync()));
    tf.dispose([x, dy, simd, loop]);
  });
});

describe("kernels.wasm", () => {
  const check = (file: string) => spawnSync(process.execPath, [BUILD_SCRIPT, "--check", file], { encoding: "utf8" });

  test("uses no stack, globals or data segments and imports only tfjs's memory", () => {
    const r = check(KERNELS_WASM);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("the check rejects a module with a data segment or a global", () => {
    const dir = mkdtempSync(join(tmpdir(), "vlmc-wasm-check-"));
    try {
      const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
      const importMemory = [0x02, 0x0f, 0x01, 0x03, ...Buffer.from("env"), 0x06, ...Buffer.from("memory"), 0x02, 0x00, 0x00];
      const data = [0x0b, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x78]; // (data (i32.const 0) "x")
      const global = [0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b]; // (global (mut i32) (i32.const 0))
      for (const [name, bytes] of [["data", [...header, ...importMemory, ...data]], ["global", [...header, ...importMemory, ...global]]] as const) {
        const file = join(dir, `${name}.wasm`);
        writeFileSync(file, Uint8Array.from(bytes));
        expect(WebAssembly.validate(Uint8Array.from(bytes))).toBe(true);
        const r = check(file);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`section ${name} present`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(!haveClang)("is up to date with its C sources (rebuilt with clang-14)", () => {
    expectRebuildMatches("--out", KERNELS_WASM);
  });
});
