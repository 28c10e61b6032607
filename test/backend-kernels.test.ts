// Kernel availability checks: what wasm lacks, and that the lowerings cover what bundled models need.
import { describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { checkKernels, checkModelKernels, describeMissingKernels, discoverKernels } from "../runtime/kernels.js";
import { ops } from "../runtime/ops/index.js";
import { randomArray, useBackend } from "./ops-support.js";

function tinyConvNet(): { loss: () => tf.Scalar; vars: tf.Variable[] } {
  const kernel = tf.variable(tf.tensor4d(randomArray(2 * 2 * 1 * 2, 1), [2, 2, 1, 2]));
  const table = tf.variable(tf.tensor2d(randomArray(5 * 2, 2), [5, 2]));
  const x = tf.tensor4d(randomArray(4 * 4 * 2, 3), [2, 4, 4, 1]);
  const ids = tf.tensor2d([[1, 4], [2, 2]], [2, 2], "int32");
  const loss = () => tf.tidy(() => {
    const h = ops.flatten(ops.maxPool(ops.conv2d(x, kernel, undefined, { stride: 1, padding: "valid" }), { size: 3, stride: 3, padding: "valid" }));
    return ops.crossEntropy(tf.add(h, ops.meanTokens(ops.embedding(ids, table))), tf.tensor1d([0, 1], "int32"));
  });
  return { loss, vars: [kernel, table] };
}

describe("checkKernels", () => {
  test("names wasm's missing kernels and accepts present ones", async () => {
    await useBackend("wasm");
    const result = checkKernels("wasm", ["Conv2D", "Conv2DBackpropFilter", "UnsortedSegmentSum", "BatchMatMul"]);
    expect(result.missingForward).toEqual(["Conv2DBackpropFilter", "UnsortedSegmentSum"]);
  });

  test("a kernel without any gradient function is reported", async () => {
    await useBackend("cpu");
    expect(checkKernels("cpu", ["Conv2D", "Bincount"]).missingGradient).toEqual(["Bincount"]);
  });
});

describe("discovering the kernels of a model", () => {
  test("stock gradients of a conv net + embedding need kernels wasm lacks", async () => {
    await useBackend("wasm");
    const { loss, vars } = tinyConvNet();
    const stock = await discoverKernels(loss, "cpu", vars);
    expect(stock.forward).toContain("Conv2D");
    expect(stock.forward).toContain("GatherV2");
    expect(stock.training).toContain("Conv2DBackpropFilter");
    expect(stock.training).toContain("UnsortedSegmentSum");
    const check = checkKernels("wasm", stock.training);
    expect(check.missingForward).toEqual(expect.arrayContaining(["Conv2DBackpropFilter", "UnsortedSegmentSum"]));
    expect(describeMissingKernels("wasm", check)).toMatch(/backend wasm lacks the kernels .*Conv2DBackpropFilter[\s\S]*\nuse --backend cpu/);
    expect(tf.getBackend()).toBe("wasm"); // discovery restores the backend it found
    tf.dispose(vars);
  });

  test("with the wasm lowerings nothing is missing", async () => {
    await useBackend("wasm");
    const { loss, vars } = tinyConvNet();
    const use = await discoverKernels(loss, "wasm", vars);
    expect(use.training).not.toContain("Conv2DBackpropFilter");
    expect(use.training).not.toContain("UnsortedSegmentSum");
    expect(use.training).not.toContain("MaxPoolGrad");
    const check = await checkModelKernels(loss, "wasm", vars);
    expect(check).toEqual({ missingForward: [], missingGradient: [] });
    expect(describeMissingKernels("wasm", check)).toBeUndefined();
    tf.dispose(vars);
  });
});
