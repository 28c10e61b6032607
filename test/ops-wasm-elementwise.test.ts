// vlmc's elementwise SIMD kernels on wasm (runtime/wasm-simd/elementwise.*) against the tfjs forms
// they replace, on the same backend: GELU forward and backward (same erf formula, a vectorised exp:
// within float rounding), Relu's gradient and the Adam/AdamW update (the same float32 arithmetic:
// bit for bit).
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { ops } from "../runtime/ops/index.js";
import { createOptimizer, type OptimizerConfig } from "../runtime/train/optimizers.js";
import { setWasmSimdEnabled } from "../runtime/wasm-simd/index.js";
import { geluSimd } from "../runtime/wasm-simd/elementwise.js";
import { RELU_GRAD_KERNEL } from "../runtime/ops/relu-grad.js";
import { randomArray, relativeError, useBackend } from "./ops-support.js";

/** Runs f with the SIMD kernels off (the tfjs form) and on. */
function offAndOn<T>(f: () => T): { off: T; on: T } {
  setWasmSimdEnabled(false);
  const off = f();
  setWasmSimdEnabled(true);
  return { off, on: f() };
}

describe("elementwise SIMD kernels equal the tfjs forms on wasm", () => {
  beforeAll(() => useBackend("wasm"));
  afterEach(() => setWasmSimdEnabled(true));

  test("the kernels are in use (not the fallback)", () => {
    const x = tf.tensor1d([0.5, -1]);
    const y = geluSimd(x);
    expect(y).toBeDefined();
    tf.dispose([x, y!]);
  });

  // Sizes that are not multiples of 4 check the tails; ±9 reaches erf's saturation and exp's underflow.
  test.each([[1], [3], [5], [64], [1001], [64 * 17 * 13]])("gelu and its gradient, %d values", (n) => {
    const data = randomArray(n, n, 9);
    data[0] = 0;
    const probe = randomArray(n, n + 1);
    const run = () => tf.tidy(() => {
      const x = tf.tensor1d(data);
      const p = tf.tensor1d(probe);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops.gelu(t), p)))(x);
      return { y: ops.gelu(x).dataSync().slice(), g: g.dataSync().slice() };
    });
    const { off, on } = offAndOn(run);
    expect(relativeError(on.y, off.y)).toBeLessThan(2e-6);
    expect(relativeError(on.g, off.g)).toBeLessThan(2e-6);
  });

  test("relu's gradient is one kernel, bit-identical to tfjs's dy · step(x), NaN and -0 included", () => {
    const n = 1003;
    const data = randomArray(n, 5, 3);
    data[0] = 0; data[1] = -0; data[2] = NaN; data[3] = 1e-30; data[4] = -1e-30;
    const probe = randomArray(n, 6);
    probe[5] = -2; data[5] = -1; // a negative dy on x ≤ 0: -0 in tfjs's product
    const run = () => tf.tidy(() => {
      const p = tf.tensor1d(probe);
      return Array.from(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops.relu(t), p)))(tf.tensor1d(data)).dataSync());
    });
    const { off, on } = offAndOn(run);
    expect(on.map((v) => Object.is(v, -0) ? "-0" : v)).toEqual(off.map((v) => Object.is(v, -0) ? "-0" : v));
    let calls = 0;
    const kernel = tf.getKernel(RELU_GRAD_KERNEL, "wasm")!;
    const original = kernel.kernelFunc;
    (kernel as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => { calls++; return original(args); };
    try {
      run();
    } finally {
      (kernel as { kernelFunc: tf.KernelFunc }).kernelFunc = original;
    }
    expect(calls).toBe(1);
  });

  test("gelu's gradient vanishes far out on the negative side, as the tfjs form's does", () => {
    const data = new Float32Array([-1e38, -1e30, -1e6, -40, -13, 13, 40, 1e6, 1e30]);
    const run = () => tf.tidy(() => Array.from(tf.grad((t: tf.Tensor) => tf.sum(ops.gelu(t)))(tf.tensor1d(data)).dataSync()));
    const { off, on } = offAndOn(run);
    expect(on.slice(0, 4)).toEqual([0, 0, 0, 0]); // e^(−x²/2) underflows: no x · φ(x) left
    expect(relativeError(on, off)).toBeLessThan(2e-6);
  });

  const configs: OptimizerConfig[] = [
    { name: "adam" },
    { name: "adamw", weightDecay: 0.1 },
    { name: "adam", weightDecay: 0.01 }, // L2: added to the gradient before the kernel
    { name: "adamw", weightDecay: 0.05, decay: "all", beta1: 0.8, beta2: 0.95, eps: 1e-6 },
  ];
  test.each(configs)("adam %j: three steps give the same parameters and state to the bit", (config) => {
    const shapes: Record<string, number[]> = { "a.kernel": [5, 3], "a.bias": [3], "b.gamma": [7], "c.kernel": [2, 2, 3, 4] };
    const run = () => {
      const params = new Map(Object.entries(shapes).map(([n, s], i) => [n, tf.variable(tf.tensor(randomArray(s.reduce((a, b) => a * b, 1), 20 + i), s), true)]));
      const opt = createOptimizer(config, params);
      for (let step = 0; step < 3; step++) {
        tf.tidy(() => {
          const grads = new Map([...params].map(([n, p], i) => [n, tf.tensor(randomArray(p.size, 100 * step + i), p.shape)]));
          opt.apply(grads, 1e-2);
        });
      }
      const out = {
        params: Object.fromEntries([...params].map(([n, p]) => [n, Array.from(p.dataSync())])),
        state: Object.fromEntries([...opt.saveState()].map(([n, s]) => [n, Array.from(s.data)])),
      };
      opt.dispose();
      for (const p of params.values()) p.dispose();
      return out;
    };
    const { off, on } = offAndOn(run);
    expect(on.params).toEqual(off.params);
    expect(on.state).toEqual(off.state);
  });
});
