// Backend selection: explicit requests, auto's fallback when native TensorFlow is absent (the normal
// case here), idempotence, and the error a user sees for a backend that cannot start.
import { afterEach, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { existsSync } from "node:fs";
import path from "node:path";
import { BackendError, initBackend, wasmBinaryDir } from "../runtime/backend.js";

describe("initBackend", () => {
  const envBefore = process.env.VLMC_BACKEND;
  afterEach(() => {
    if (envBefore === undefined) delete process.env.VLMC_BACKEND;
    else process.env.VLMC_BACKEND = envBefore;
  });

  test("cpu and wasm on request, each with a reason", async () => {
    const cpu = await initBackend("cpu");
    expect(cpu.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    const wasm = await initBackend("wasm");
    expect(wasm).toEqual({ name: "wasm", reason: "requested" });
    expect(tf.getBackend()).toBe("wasm");
  });

  test("auto falls back to wasm and says native TensorFlow is not installed", async () => {
    const choice = await initBackend("auto");
    expect(choice.name).toBe("wasm");
    expect(choice.reason).toMatch(/tfjs-node.*not installed/);
  });

  test("is idempotent", async () => {
    const first = await initBackend("wasm");
    const second = await initBackend("wasm");
    expect(second).toBe(first);
    expect(tf.getBackend()).toBe("wasm");
  });

  test("an explicit tensorflow request fails with a message that says what to do", async () => {
    await expect(initBackend("tensorflow")).rejects.toThrow(BackendError);
    await expect(initBackend("tensorflow")).rejects.toThrow(/not installed.*--backend wasm/);
  });

  test("VLMC_BACKEND is the default request, and a bad value is named", async () => {
    process.env.VLMC_BACKEND = "cpu";
    expect((await initBackend()).name).toBe("cpu");
    process.env.VLMC_BACKEND = "gpu";
    await expect(initBackend()).rejects.toThrow(/VLMC_BACKEND is 'gpu'; expected one of auto, tensorflow, wasm, cpu/);
  });

  test("gradients are registered (tfjs-core ships none by itself)", async () => {
    await initBackend("cpu");
    for (const kernel of ["Mean", "Conv2D", "BatchMatMul", "GatherV2", "Softmax", "Erf"]) expect(tf.getGradient(kernel), kernel).toBeDefined();
  });
});

test("the wasm binaries are found from the installed package", () => {
  expect(existsSync(path.join(wasmBinaryDir(), "tfjs-backend-wasm-simd.wasm"))).toBe(true);
});
