// runtime/native-kernels.ts: the no-op Reshape and Cast that skip TensorFlow, and the one-op Relu
// gradient. The skip logic is checked everywhere with a stand-in backend; the gradients of a small
// conv / relu / layer-norm model on native TensorFlow against cpu's only where a native build loads
// (`vlmc setup native`, or VLMC_NATIVE_DIR pointing at one): CI has none.
import { describe, expect, test, vi } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { reshapeSkippingNoOps } from "../runtime/native-kernels.js";
import { castSkippingNoOps } from "../runtime/kernel-wrap.js";
import { RELU_GRAD_KERNEL } from "../runtime/ops/relu-grad.js";
import { initBackend, probeNative } from "../runtime/backend.js";
import { ops } from "../runtime/ops/index.js";
import { randomArray, relativeError } from "./ops-support.js";

function stand_in() {
  const backend = { incRef: vi.fn() };
  const stockOut: TensorInfo = { dataId: {}, shape: [9], dtype: "float32" };
  const stock = vi.fn(() => stockOut);
  return { backend, stock, stockOut };
}

describe("no-op Reshape and Cast share the input's data", () => {
  const x: TensorInfo = { dataId: {}, shape: [2, 3], dtype: "float32" };

  test("reshape to the same shape: shared, one more reference, stock kernel not run", () => {
    const { backend, stock } = stand_in();
    const out = reshapeSkippingNoOps(stock)({ inputs: { x }, backend, attrs: { shape: [2, 3] } });
    expect(out).toEqual({ dataId: x.dataId, shape: [2, 3], dtype: "float32" });
    expect(out.dataId).toBe(x.dataId);
    expect(backend.incRef).toHaveBeenCalledWith(x.dataId);
    expect(stock).not.toHaveBeenCalled();
  });

  test.each([[[3, 2]], [[6]], [[-1, 3]], [[2, 3, 1]]])("reshape to %j runs the stock kernel", (shape) => {
    const { backend, stock, stockOut } = stand_in();
    expect(reshapeSkippingNoOps(stock)({ inputs: { x }, backend, attrs: { shape } })).toBe(stockOut);
    expect(backend.incRef).not.toHaveBeenCalled();
  });

  test("cast to the same dtype is shared; to another runs the stock kernel", () => {
    const same = stand_in();
    expect(castSkippingNoOps(same.stock)({ inputs: { x }, backend: same.backend, attrs: { dtype: "float32" } }).dataId).toBe(x.dataId);
    expect(same.stock).not.toHaveBeenCalled();
    const other = stand_in();
    expect(castSkippingNoOps(other.stock)({ inputs: { x }, backend: other.backend, attrs: { dtype: "int32" } })).toBe(other.stockOut);
    expect(other.backend.incRef).not.toHaveBeenCalled();
  });
});

const native = process.env["VLMC_NATIVE_DIR"] ? (await probeNative()).ok : false;

describe.skipIf(!native)("on native TensorFlow", () => {
  // conv → relu → max pool → layer norm → dense: the Relu gradient is VlmcReluGrad there, the
  // layer norm's is its closed form, and the model's reshapes include no-op ones.
  const shapes = { x: [2, 6, 6, 2], k: [3, 3, 2, 4], b: [4], g: [4], be: [4], w: [4, 3] } as const;
  const values = Object.fromEntries(Object.entries(shapes).map(([n, s], i) => [n, randomArray(s.reduce((a, b) => a * b, 1), 11 + i)]));
  async function lossAndGrads(backend: "cpu" | "tensorflow") {
    await initBackend(backend);
    const v = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.variable(tf.tensor(values[n]!, [...s]), true, `${n}_${backend}`)]));
    const probe = tf.tensor(randomArray(2 * 3 * 3 * 3, 5), [2, 3, 3, 3]);
    const f = () => {
      const h = ops.maxPool(ops.relu(ops.conv2d(v.x!, v.k!, v.b, { stride: 1, padding: "same" })), { size: 2, stride: 2, padding: "valid" });
      return tf.sum(tf.mul(ops.dense(ops.layerNorm(h, v.g!, v.be!, { eps: 1e-5 }), v.w!), probe)) as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(f, Object.values(v));
    const out = { loss: (await value.data())[0]!, grads: Object.fromEntries(await Promise.all(Object.keys(shapes).map(async (n) => [n, await grads[`${n}_${backend}`]!.data()] as const))) };
    tf.dispose([value, probe, ...Object.values(grads), ...Object.values(v)]);
    return out;
  }

  test("gradients equal cpu's", async () => {
    expect(tf.getKernel(RELU_GRAD_KERNEL, "tensorflow")).toBeDefined();
    const cpu = await lossAndGrads("cpu");
    const tfn = await lossAndGrads("tensorflow");
    expect(relativeError([tfn.loss], [cpu.loss])).toBeLessThan(1e-5);
    for (const n of Object.keys(shapes)) expect(relativeError(tfn.grads[n]!, cpu.grads[n]!), n).toBeLessThan(1e-4);
  });
});
