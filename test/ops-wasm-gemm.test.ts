// Our SIMD GEMM as wasm's BatchMatMul (runtime/wasm-simd/matmul.ts, matmul.c) against tfjs cpu:
// every transpose-flag combination, batch 1, batches, broadcast batch-1 operands and ranks 2–4,
// on sizes that hit the kernel's edges (M % 4, N % 8, K slices of 256, M blocks of 64, N blocks
// of 512); and gradients through it.
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmGemmEnabled, wasmGemmActive } from "../runtime/wasm-simd/matmul.js";
import { wasmSimdKernels, type WasmBackendHeap } from "../runtime/wasm-simd/index.js";
import { numel, randomArray, relativeError, useBackend } from "./ops-support.js";

type Case = { as: number[]; bs: number[]; ta: boolean; tb: boolean };

/** [m, k, n] of op(A) [m, k] · op(B) [k, n]. */
const SIZES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 5, 3], [3, 17, 5], [5, 3, 17], [17, 16, 17], [64, 64, 64], [130, 7, 9], [9, 130, 65], [1, 64, 130], [130, 1, 3],
  [33, 300, 12], // two K slices
];
/** Leading dims of A and B: batch 1 (rank 2), equal batches, either side broadcast, rank 4. */
const BATCHES: Array<[number[], number[]]> = [[[], []], [[3], [3]], [[1], [3]], [[3], []], [[2, 3], [2, 3]], [[2, 3], [1, 1]]];

function shapes(lead: number[], rows: number, cols: number, t: boolean): number[] {
  return [...lead, ...(t ? [cols, rows] : [rows, cols])];
}

const CASES: Case[] = [];
for (const [m, k, n] of SIZES) for (const [la, lb] of BATCHES) for (const ta of [false, true]) for (const tb of [false, true]) {
  CASES.push({ as: shapes(la, m, k, ta), bs: shapes(lb, k, n, tb), ta, tb });
}
// One large product: several M blocks (64) and N blocks (512).
CASES.push({ as: [600, 20], bs: [20, 520], ta: false, tb: false }, { as: [20, 600], bs: [520, 20], ta: true, tb: true });

/** op(a) · op(b) on `backend`, with the number of calls into our GEMM (wasm). */
async function product(backend: "cpu" | "wasm", c: Case, a: Float32Array, b: Float32Array): Promise<{ shape: number[]; data: Float32Array; ours: number }> {
  await useBackend(backend);
  const simd = backend === "wasm" ? wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap) : undefined;
  const gemm = simd?.batchMatmul;
  let ours = 0;
  if (simd && gemm) simd.batchMatmul = (...args) => { ours++; gemm(...args); };
  try {
    const y = tf.tidy(() => tf.matMul(tf.tensor(a, c.as), tf.tensor(b, c.bs), c.ta, c.tb));
    const out = { shape: y.shape, data: (await y.data()) as Float32Array, ours };
    y.dispose();
    return out;
  } finally {
    if (simd && gemm) simd.batchMatmul = gemm;
  }
}

describe("BatchMatMul on our wasm GEMM", () => {
  beforeAll(() => useBackend("wasm"));
  afterEach(() => setWasmGemmEnabled(true));

  test("is registered and active on wasm", () => {
    expect(wasmGemmActive()).toBe(true);
    setWasmGemmEnabled(false);
    expect(wasmGemmActive()).toBe(false);
  });

  test.each(CASES.map((c) => [JSON.stringify(c.as), JSON.stringify(c.bs), c.ta, c.tb, c] as const))(
    "a %s · b %s, transposeA %s transposeB %s", async (_a, _b, _ta, _tb, c) => {
      const a = randomArray(numel(c.as), 1), b = randomArray(numel(c.bs), 2);
      const ref = await product("cpu", c, a, b);
      const ours = await product("wasm", c, a, b);
      expect(ours.ours, "our GEMM ran").toBe(1);
      expect(ours.shape).toEqual(ref.shape);
      expect(relativeError(ours.data, ref.data)).toBeLessThan(1e-5);
    });

  test("the stock kernel still runs when ours is off", async () => {
    const c: Case = { as: [3, 17, 16], bs: [3, 17, 16], ta: false, tb: true };
    const a = randomArray(numel(c.as), 3), b = randomArray(numel(c.bs), 4);
    const ref = await product("cpu", c, a, b);
    setWasmGemmEnabled(false);
    const stock = await product("wasm", c, a, b);
    expect(stock.ours).toBe(0);
    expect(relativeError(stock.data, ref.data)).toBeLessThan(1e-5);
  });

  // The gradient lowering (runtime/ops/wasm-gradients.ts) passes transpose flags to our GEMM.
  // (tfjs's own BatchMatMul gradient does not reduce over broadcast batch axes, on any backend.)
  test.each([
    [[2, 3, 5, 7], [2, 3, 7, 4], false, false],
    [[2, 3, 7, 5], [2, 3, 7, 4], true, false],
    [[2, 3, 5, 7], [2, 3, 4, 7], false, true],
    [[2, 3, 7, 5], [2, 3, 4, 7], true, true],
  ] as Array<[number[], number[], boolean, boolean]>)("gradient of a %j · b %j, flags %s %s", async (as, bs, ta, tb) => {
    const a = randomArray(numel(as), 5), b = randomArray(numel(bs), 6);
    const grads = async (backend: "cpu" | "wasm") => {
      await useBackend(backend);
      const gs = tf.tidy(() => {
        const probe = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(tf.matMul(x, y, ta, tb)));
        return tf.grads(probe)([tf.tensor(a, as), tf.tensor(b, bs)]);
      });
      const out = await Promise.all(gs.map((g) => g.data() as Promise<Float32Array>));
      tf.dispose(gs);
      return out;
    };
    const ref = await grads("cpu");
    const ours = await grads("wasm");
    for (let i = 0; i < 2; i++) expect(relativeError(ours[i]!, ref[i]!)).toBeLessThan(1e-5);
  });
});
